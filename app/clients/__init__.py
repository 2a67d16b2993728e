"""The client's pages under /client."""

from app.web.access import guarded_blueprint

bp = guarded_blueprint("clients", __name__, "client", url_prefix="/client")

from app.clients import billing, routes  # noqa: E402,F401
