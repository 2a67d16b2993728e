"""The blueprint of the bettor's pages under /tote. Views import it from here."""

from app.web.core.access import guarded_blueprint

bp = guarded_blueprint("bettors", __name__, "bettor", url_prefix="/tote")
