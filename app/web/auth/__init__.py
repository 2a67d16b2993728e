"""Login, logout, invitations and password resets."""

from app.web.auth import (  # importing the view modules registers their routes
    routes,
)
from app.web.auth.blueprint import bp

__all__ = ["bp", "routes"]
