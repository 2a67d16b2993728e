"""Billing: the ledger, the daily close, weekly client invoices and monthly worker payouts.

Money is integer cents in a ledger of immutable, balanced transactions; every balance and total
shown anywhere is a sum over it (see app/billing/models.py for the sign convention).
"""
