"""Fixtures for the matching tests (US-060..073): a fixed clock, a service, workers with traits,
past orders created straight in the table, and a pipeline configured per test."""

from tests.support.matching import at_now, client_user, pipeline, service

__all__ = ["at_now", "client_user", "pipeline", "service"]
