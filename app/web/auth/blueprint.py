"""The blueprint of login, logout, invitations and password resets. Views import it from here."""

from app.web.core.access import PUBLIC, guarded_blueprint

bp = guarded_blueprint("auth", __name__, PUBLIC)
