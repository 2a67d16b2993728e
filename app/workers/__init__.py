"""The worker's pages under /work."""

from app.web.access import guarded_blueprint

bp = guarded_blueprint("workers", __name__, "worker", url_prefix="/work")

from app.workers import earnings, routes  # noqa: E402,F401
