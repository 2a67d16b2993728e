"""The JSON API under /api/v1, authenticated by managers' bearer tokens."""

from app.web.api import (  # importing the view modules registers their routes
    people,
)
from app.web.api.blueprint import bp

__all__ = ["bp", "people"]
