"""The worker's pages run on a frozen Monday morning (tests/support/orders.py)."""

from tests.support.orders import frozen_time

__all__ = ["frozen_time"]
