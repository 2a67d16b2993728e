"""The blueprint of the supply's pages under /supply. Views import it from here."""

from app.web.core.access import guarded_blueprint

bp = guarded_blueprint("supply", __name__, "supply", url_prefix="/supply")
