"""The bettor's pages under /tote."""

from app.web.access import guarded_blueprint

bp = guarded_blueprint("bettors", __name__, "bettor", url_prefix="/tote")

from app.bettors import routes  # noqa: E402,F401
