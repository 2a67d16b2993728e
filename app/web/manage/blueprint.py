"""The blueprint of the managers' dashboard under /manage, split by feature. Views import it from here."""

from app.web.core.access import guarded_blueprint

bp = guarded_blueprint("managers", __name__, "manager", url_prefix="/manage")
