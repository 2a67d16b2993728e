"""The blueprint of the careers pages under /careers: public, no account. Views import it from here."""

from app.web.core.access import PUBLIC, guarded_blueprint

bp = guarded_blueprint("careers", __name__, PUBLIC, url_prefix="/careers")
