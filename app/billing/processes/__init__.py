"""Billing's process modules: the runs, the payment protocol and the daily close commit as they go
(each step must survive a crash of the next), the one visible exception to "services only flush"."""
