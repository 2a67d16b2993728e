"""The blueprint of pages anyone may see. Views import it from here."""

from app.web.core.access import PUBLIC, guarded_blueprint

bp = guarded_blueprint("public", __name__, PUBLIC)
