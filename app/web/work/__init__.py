"""The worker"s pages under /work."""

from app.web.work import (  # importing the view modules registers their routes
    earnings,
    routes,
)
from app.web.work.blueprint import bp

__all__ = ["bp", "earnings", "routes"]
