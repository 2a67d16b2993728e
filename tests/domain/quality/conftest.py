"""The quality fixtures, defined once in tests/support/quality.py."""

from tests.support.quality import frozen_time, quality_people

__all__ = ["frozen_time", "quality_people"]
