"""The blueprint of the worker's pages under /work. Views import it from here."""

from app.web.core.access import guarded_blueprint

bp = guarded_blueprint("workers", __name__, "worker", url_prefix="/work")
