"""Managers' service types pages."""
