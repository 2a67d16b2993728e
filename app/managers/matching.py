"""Managers' matching pages."""
