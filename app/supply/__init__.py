"""The supply's pages under /supply."""

from app.web.access import guarded_blueprint

bp = guarded_blueprint("supply", __name__, "supply", url_prefix="/supply")

from app.supply import routes  # noqa: E402,F401
