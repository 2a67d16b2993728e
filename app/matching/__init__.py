"""Matching (US-060..073): a configurable pipeline of steps that picks a worker for an order.

At its boundary it speaks the matching team's terms: the client (with the order) is the
*reference sample*, each candidate worker an *ordinary sample*.
"""
