"""The blueprint of the client's pages under /client. Views import it from here."""

from app.web.core.access import guarded_blueprint

bp = guarded_blueprint("clients", __name__, "client", url_prefix="/client")
