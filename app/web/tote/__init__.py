"""The bettor"s pages under /tote."""

from app.web.tote import (  # importing the view modules registers their routes
    routes,
)
from app.web.tote.blueprint import bp

__all__ = ["bp", "routes"]
