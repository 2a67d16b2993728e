"""Pages anyone may see."""

from app.web.access import PUBLIC, guarded_blueprint

bp = guarded_blueprint("public", __name__, PUBLIC)

from app.public import routes  # noqa: E402,F401
