"""The supplies fixtures, defined once in tests/support/supplies.py."""

from tests.support.supplies import client_user, service, supply_user, worker

__all__ = ["client_user", "service", "supply_user", "worker"]
