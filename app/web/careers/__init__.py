"""The public careers pages (US-081, US-090) and the applicant's pages reached by signed links."""

from app.web.careers import (  # importing the view modules registers their routes
    applicant,
    routes,
)
from app.web.careers.blueprint import bp

__all__ = ["applicant", "bp", "routes"]
