"""POST/GET /api/v1/clients and /api/v1/workers (US-010); GET/PATCH /api/v1/clients/<id>."""

from __future__ import annotations

from flask import jsonify, request
from sqlalchemy.orm import selectinload

from app.accounts import services as accounts
from app.accounts.models import User
from app.extensions import db
from app.platform.validation import DuplicateError, ValidationError
from app.web.api.blueprint import bp
from app.web.core.pagination import page_args

CLIENT_FIELDS = ("email", "name", "address", "payment_method", "phone")
# The email is the login and the import's key: a PATCH may change everything else.
CLIENT_EDITABLE = ("name", "address", "payment_method", "phone")
WORKER_FIELDS = ("email", "name", "age", "breed", "coat_colour", "strengths", "weaknesses")


def client_json(user: User) -> dict:
    profile = user.client_profile
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "address": profile.address if profile else "",
        "phone": profile.phone if profile else "",
        # What a `tel:` link dials: the phone without its spaces, dashes and brackets.
        "phone_tel": profile.phone_tel if profile else "",
        "payment_method": profile.payment_method if profile else None,
        "invitation_accepted": user.has_password,
        "created_at": user.created_at.isoformat(),
    }


def worker_json(user: User) -> dict:
    profile = user.worker_profile
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "age": profile.age if profile else None,
        "breed": profile.breed if profile else "",
        "coat_colour": profile.coat_colour if profile else "",
        "strengths": list(profile.strengths) if profile else [],
        "weaknesses": list(profile.weaknesses) if profile else [],
        "invitation_accepted": user.has_password,
        "created_at": user.created_at.isoformat(),
    }


def _json_body(allowed: tuple[str, ...]):
    """The request's JSON object, or an error response."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return None, (jsonify({"error": "The body must be a JSON object."}), 400)
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        errors = {name: ["Unknown field."] for name in unknown}
        return None, (jsonify({"error": "Unknown fields.", "errors": errors}), 422)
    return data, None


def _create(create, to_json, allowed):
    data, error = _json_body(allowed)
    if error:
        return error
    try:
        # Every field is passed, a missing one as None, so the service reports it per field.
        user = create(**{name: data.get(name) for name in allowed})
    except DuplicateError as exc:
        db.session.rollback()
        return jsonify({"error": "Already exists.", "errors": exc.errors}), 409
    except ValidationError as exc:
        db.session.rollback()
        return jsonify({"error": "Invalid input.", "errors": exc.errors}), 422
    db.session.commit()
    response = jsonify(to_json(user))
    response.status_code = 201
    return response


def _list(role: str, profile, to_json):
    page, per_page = page_args(50)
    users, _has_next = accounts.users_with_role_page(role, page, per_page, options=[selectinload(profile)])
    body = {
        "items": [to_json(user) for user in users],
        "page": page,
        "per_page": per_page,
        "total": accounts.count_users_with_role(role),
    }
    db.session.commit()  # the token's last use
    return jsonify(body)


@bp.post("/clients")
def create_client():
    return _create(accounts.create_client, client_json, CLIENT_FIELDS)


@bp.get("/clients")
def list_clients():
    return _list("client", User.client_profile, client_json)


def _client_or_404(user_id: int):
    user = db.session.get(User, user_id)
    if user is None or not user.has_role("client"):
        return None, (jsonify({"error": "No such client."}), 404)
    return user, None


@bp.get("/clients/<int:user_id>")
def get_client(user_id: int):
    user, error = _client_or_404(user_id)
    if error:
        return error
    body = client_json(user)
    db.session.commit()  # the token's last use
    return jsonify(body)


@bp.patch("/clients/<int:user_id>")
def update_client(user_id: int):
    user, error = _client_or_404(user_id)
    if error:
        return error
    data, error = _json_body(CLIENT_EDITABLE)
    if error:
        return error
    try:
        accounts.update_client(user, **data)
    except ValidationError as exc:
        db.session.rollback()
        return jsonify({"error": "Invalid input.", "errors": exc.errors}), 422
    db.session.commit()
    return jsonify(client_json(user))


@bp.post("/workers")
def create_worker():
    return _create(accounts.create_worker, worker_json, WORKER_FIELDS)


@bp.get("/workers")
def list_workers():
    return _list("worker", User.worker_profile, worker_json)
