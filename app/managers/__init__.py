"""The managers' dashboard under /manage, split by feature."""

from app.web.access import guarded_blueprint

bp = guarded_blueprint("managers", __name__, "manager", url_prefix="/manage")

from app.managers import (  # noqa: E402,F401
    billing,
    home,
    mailbox,
    matching,
    orders,
    outbox,
    people,
    service_types,
    worker_detail,
)
