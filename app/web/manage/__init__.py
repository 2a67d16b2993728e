"""The managers' dashboard under /manage, split by feature."""

from app.web.manage import (  # importing the view modules registers their routes
    billing,
    client_detail,
    hiring,
    hiring_tests,
    home,
    mailbox,
    matching,
    orders,
    outbox,
    people,
    quality,
    quality_hypotheses,
    quality_review,
    service_types,
    system,
    worker_detail,
)
from app.web.manage.blueprint import bp

__all__ = [
    "bp",
    "billing",
    "client_detail",
    "hiring",
    "hiring_tests",
    "home",
    "mailbox",
    "matching",
    "orders",
    "outbox",
    "people",
    "quality",
    "quality_hypotheses",
    "quality_review",
    "service_types",
    "system",
    "worker_detail",
]
