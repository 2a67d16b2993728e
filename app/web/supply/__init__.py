"""The supply"s pages under /supply."""

from app.web.supply import (  # importing the view modules registers their routes
    routes,
)
from app.web.supply.blueprint import bp

__all__ = ["bp", "routes"]
