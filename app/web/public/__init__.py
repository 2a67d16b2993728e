"""Pages anyone may see."""

from app.web.public import (  # importing the view modules registers their routes
    routes,
)
from app.web.public.blueprint import bp

__all__ = ["bp", "routes"]
