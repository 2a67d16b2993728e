"""The blueprint of the JSON API under /api/v1, authenticated by managers' bearer tokens. Views import it from here."""

from flask import g, jsonify, request

from app.accounts.services import user_for_api_token
from app.extensions import csrf
from app.web.core.access import API_TOKEN, guarded_blueprint

bp = guarded_blueprint("api", __name__, API_TOKEN, url_prefix="/api/v1")
csrf.exempt(bp)  # no cookies are used here: the bearer token is the credential


@bp.before_request
def require_token():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    user = user_for_api_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if user is None:
        response = jsonify({"error": "A valid API token is required (Authorization: Bearer <token>)."})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="mcf"'
        return response
    g.api_user = user
    return None
