"""The tote: managers bet on how orders end (US-280, US-281, US-290).

It stands apart from the rest: it learns about orders only from order events (its consumer keeps a
pool row per order) and keeps its own double-entry ledger of the managers' own money. It imports
no other domain's code except events, accounts (people) and notifications (mail).
"""
