"""Quality reviews (US-190, US-200, US-210, US-305): the review queue of ended orders, random
audits of completed ones, reviews with their amendments, the hypotheses board and the results
mailed to the client and the worker.

This domain learns about orders only from order events (`consumers.py` keeps the facts it needs in
`quality_orders`) and from the query functions other domains export; it imports no other domain's
models (an import contract in pyproject.toml holds this).
"""
