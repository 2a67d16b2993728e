"""Accounts: people, their roles and profiles, API tokens."""
