"""Login, logout, invitations and password resets."""

from app.web.access import PUBLIC, guarded_blueprint

bp = guarded_blueprint("auth", __name__, PUBLIC)

from app.auth import routes  # noqa: E402,F401
