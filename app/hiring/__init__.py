"""Hiring (US-080, 081, 090, 110, 120): vacancies, a flood-proof intake with double opt-in, the
test bank and test sets, timed tests scored against every earlier attempt, and the worker made
from the results through the accounts service."""
