"""The client"s pages under /client."""

from app.web.client import (  # importing the view modules registers their routes
    billing,
    routes,
)
from app.web.client.blueprint import bp

__all__ = ["bp", "billing", "routes"]
