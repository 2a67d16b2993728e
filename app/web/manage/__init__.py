"""The managers' dashboard under /manage, split by feature."""

from app.web.manage import (  # importing the view modules registers their routes
    billing,
    home,
    mailbox,
    matching,
    orders,
    outbox,
    people,
    service_types,
    system,
    worker_detail,
)
from app.web.manage.blueprint import bp

__all__ = [
    "bp",
    "billing",
    "home",
    "mailbox",
    "matching",
    "orders",
    "outbox",
    "people",
    "service_types",
    "system",
    "worker_detail",
]
