"""Managers' orders pages."""
