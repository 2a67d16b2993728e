"""Accounts: creating people, roles, passwords, signed links and API tokens.

Services flush and never commit; the view, command or job that calls them commits once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import (
    PAYMENT_METHODS,
    ROLE_VALUES,
    ApiToken,
    ClientProfile,
    Role,
    User,
    UserRole,
    UserSession,
    WorkerProfile,
)
from app.accounts.passwords import hash_password, needs_rehash, password_problem, verify_password
from app.accounts.phones import NO_PHONE, Phone, parse_phone
from app.events import publish
from app.extensions import db
from app.platform.clock import utcnow
from app.platform.paging import fetch_page
from app.platform.validation import (
    CONTROL_CHARACTERS_MESSAGE,
    DuplicateError,
    FieldErrors,
    ValidationError,
    control_character_error,
)

MAX_TRAITS = 20


class RoleNotAllowed(ValidationError):
    pass


# ---------------------------------------------------------------- lookups and checks


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def _check_email(errors: FieldErrors, email: object) -> str:
    if email is not None and not isinstance(email, str):
        errors.add("email", "Must be text.")
        return ""
    if email is None or not email.strip():
        errors.add("email", "Email is required.")
        return ""
    if message := control_character_error(email):
        errors.add("email", message)
        return ""
    try:
        validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        errors.add("email", f"Not a valid email address: {exc}")
    if len(email.strip()) > 254:
        errors.add("email", "At most 254 characters.")
    return normalise_email(email)


def _check_text(
    errors: FieldErrors, field: str, value: object, max_length: int, required: bool = False, multiline: bool = False
) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(field, "Must be text.")
        return ""
    if message := control_character_error(value, multiline=multiline):
        errors.add(field, message)
    value = value.strip()
    if required and not value:
        errors.add(field, "This field is required.")
    if len(value) > max_length:
        errors.add(field, f"At most {max_length} characters.")
    return value


def _check_traits(errors: FieldErrors, field: str, value: object) -> list[str]:
    """A list of short trait names; a comma-separated string is accepted too."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors.add(field, "Must be a list of words.")
        return []
    traits = []
    for item in value:
        item = item.strip().lower()
        if item and item not in traits:
            traits.append(item)
    if len(traits) > MAX_TRAITS:
        errors.add(field, f"At most {MAX_TRAITS} entries.")
    if any(len(item) > 60 for item in traits):
        errors.add(field, "Each entry at most 60 characters.")
    if any(control_character_error(item) for item in traits):
        errors.add(field, CONTROL_CHARACTERS_MESSAGE)
    return traits


def _check_age(errors: FieldErrors, value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        errors.add("age", "Must be a whole number.")
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 9:
        value = int(value.strip())
    if not isinstance(value, int):
        errors.add("age", "Must be a whole number.")
        return None
    if not 0 <= value <= 40:
        errors.add("age", "Must be between 0 and 40.")
        return None
    return value


def _check_phone(errors: FieldErrors, value: object) -> Phone:
    """An optional phone number (app/accounts/phones.py); None and "" are no phone."""
    if value is None:
        return NO_PHONE
    if not isinstance(value, str):
        errors.add("phone", "Must be text.")
        return NO_PHONE
    if message := control_character_error(value):
        errors.add("phone", message)
        return NO_PHONE
    try:
        return parse_phone(value)
    except ValueError as exc:
        errors.add("phone", str(exc))
        return NO_PHONE


def _check_payment_method(errors: FieldErrors, value: object) -> str:
    if value in (None, ""):
        return "card"
    if not isinstance(value, str) or value not in PAYMENT_METHODS:
        errors.add("payment_method", f"Choose one of: {', '.join(PAYMENT_METHODS)}.")
        return "card"
    return value


# ---------------------------------------------------------------- creating people


def _insert_user(email: str, name: str, roles: Iterable[str]) -> User:
    """Add the user in a savepoint so a duplicate email leaves nothing behind."""
    if find_user_by_email(email) is not None:
        raise DuplicateError(email="A person with this email already exists.")
    user = User(email=email, name=name, role_rows=[UserRole(role=role) for role in sorted(set(roles))])
    try:
        with db.session.begin_nested():
            db.session.add(user)
            db.session.flush()
    except IntegrityError:  # a concurrent request won the race for this email
        raise DuplicateError(email="A person with this email already exists.") from None
    return user


def create_client(
    email: object,
    name: object,
    address: object = "",
    payment_method: object = "card",
    phone: object = "",
    *,
    invite: bool = True,
) -> User:
    """A client account with its profile (US-010); they get an invitation to set a password."""
    errors = FieldErrors()
    email = _check_email(errors, email)
    name = _check_text(errors, "name", name, 120, required=True)
    address = _check_text(errors, "address", address, 500, multiline=True)
    payment_method = _check_payment_method(errors, payment_method)
    phone = _check_phone(errors, phone)
    errors.raise_if_any()

    user = _insert_user(email, name, [Role.CLIENT])
    user.client_profile = ClientProfile(
        address=address, payment_method=payment_method, phone=phone.typed, phone_tel=phone.tel
    )
    db.session.flush()
    publish(
        "account.client_created",
        "user",
        user.id,
        {"user_id": user.id, "email": user.email, "name": user.name},
    )
    if invite:
        issue_invitation(user)
    return user


_UNCHANGED = object()


def update_client(
    user: User,
    *,
    name: object = _UNCHANGED,
    address: object = _UNCHANGED,
    phone: object = _UNCHANGED,
    payment_method: object = _UNCHANGED,
) -> User:
    """A manager edits a client's details; only the fields given change, all checked first.

    The email is the login and the key of the bulk import, so it is not edited here."""
    if not user.has_role(Role.CLIENT):
        raise ValidationError(email="Not a client.")
    errors = FieldErrors()
    changes: dict[str, object] = {}
    if name is not _UNCHANGED:
        changes["name"] = _check_text(errors, "name", name, 120, required=True)
    if address is not _UNCHANGED:
        changes["address"] = _check_text(errors, "address", address, 500, multiline=True)
    if payment_method is not _UNCHANGED:
        changes["payment_method"] = _check_payment_method(errors, payment_method)
    if phone is not _UNCHANGED:
        changes["phone"] = _check_phone(errors, phone)
    errors.raise_if_any()

    profile = user.client_profile
    if profile is None:
        profile = user.client_profile = ClientProfile(address="", payment_method="card")
    if "name" in changes:
        user.name = changes["name"]
    if "address" in changes:
        profile.address = changes["address"]
    if "payment_method" in changes:
        profile.payment_method = changes["payment_method"]
    if "phone" in changes:
        profile.phone, profile.phone_tel = changes["phone"].typed, changes["phone"].tel
    db.session.flush()
    return user


def create_worker(
    email: object,
    name: object,
    age: object = None,
    breed: object = "",
    coat_colour: object = "",
    strengths: object = None,
    weaknesses: object = None,
    *,
    photo_path: str | None = None,
    invite: bool = True,
) -> User:
    """A worker account with the profile matching needs (US-010, US-120).

    `photo_path` is a photo already checked and stored by app.platform.uploads.save_photo.
    """
    errors = FieldErrors()
    email = _check_email(errors, email)
    name = _check_text(errors, "name", name, 120, required=True)
    age = _check_age(errors, age)
    breed = _check_text(errors, "breed", breed, 80)
    coat_colour = _check_text(errors, "coat_colour", coat_colour, 80)
    strengths = _check_traits(errors, "strengths", strengths)
    weaknesses = _check_traits(errors, "weaknesses", weaknesses)
    errors.raise_if_any()

    user = _insert_user(email, name, [Role.WORKER])
    user.worker_profile = WorkerProfile(
        age=age,
        breed=breed,
        coat_colour=coat_colour,
        strengths=strengths,
        weaknesses=weaknesses,
        photo_path=photo_path,
    )
    db.session.flush()
    publish(
        "account.worker_created",
        "user",
        user.id,
        {
            "user_id": user.id,
            "email": user.email,
            "name": user.name,
            "strengths": strengths,
            "weaknesses": weaknesses,
        },
    )
    if invite:
        issue_invitation(user)
    return user


def create_staff(email: object, name: object, roles: Iterable[str], password: str | None = None) -> User:
    """Managers and the consumables department (used by the CLI and demo data)."""
    errors = FieldErrors()
    email = _check_email(errors, email)
    name = _check_text(errors, "name", name, 120, required=True)
    roles = set(roles)
    unknown = roles - set(ROLE_VALUES)
    if unknown:
        errors.add("roles", f"Unknown roles: {', '.join(sorted(unknown))}.")
    if Role.BETTOR in roles and Role.MANAGER not in roles:
        errors.add("roles", "Only managers may bet (US-280).")
    errors.raise_if_any()
    user = _insert_user(email, name, roles)
    if password is not None:
        set_password(user, password)
    return user


def grant_role(user: User, role: str) -> None:
    """Give a role; the bettor role only to managers (US-280)."""
    if role not in ROLE_VALUES:
        raise ValidationError(role=f"Unknown role {role!r}.")
    if role == Role.BETTOR and not user.has_role(Role.MANAGER):
        raise RoleNotAllowed(role="Only managers may bet (US-280).")
    if not user.has_role(role):
        user.role_rows.append(UserRole(role=role))
        db.session.flush()


def revoke_role(user: User, role: str) -> None:
    for row in list(user.role_rows):
        if row.role == role:
            user.role_rows.remove(row)
    if role == Role.MANAGER:  # a former manager may no longer bet
        for row in list(user.role_rows):
            if row.role == Role.BETTOR:
                user.role_rows.remove(row)
    db.session.flush()


# ---------------------------------------------------------------- passwords and login


def set_password(user: User, password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise ValidationError(password=problem)
    user.password_hash = hash_password(password)
    user.session_version = (user.session_version or 0) + 1
    db.session.flush()


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, else None (same cost either way)."""
    user = find_user_by_email(email)
    if not verify_password(user.password_hash if user else None, password):
        return None
    if not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db.session.flush()
    return user


def load_session_user(session_id: str, session_token: str | None = None) -> User | None:
    """flask-login's loader: the id carries the session version, so old sessions die; the session's
    token must name a server-side session that is not revoked (one query for both)."""
    try:
        user_id, version = (int(part) for part in session_id.split(":"))
    except ValueError:
        return None
    if not isinstance(session_token, str) or not session_token or not -(2**31) <= user_id < 2**31:
        return None
    oldest = utcnow() - current_app.config["PERMANENT_SESSION_LIFETIME"]
    user = db.session.scalar(
        select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            User.id == user_id,
            UserSession.token_hash == _token_digest(session_token),
            UserSession.revoked_at.is_(None),
            UserSession.created_at > oldest,
        )
    )
    if user is None or user.session_version != version:
        return None
    return user


def open_session(user: User) -> str:
    """A new server-side session for a sign-in; the token goes into the session cookie."""
    token = secrets.token_urlsafe(32)
    db.session.add(UserSession(token_hash=_token_digest(token), user_id=user.id))
    db.session.flush()
    return token


def revoke_session(session_token: str | None) -> None:
    """Logout: the session ends on the server, so a copy of its cookie opens nothing."""
    if isinstance(session_token, str) and session_token:
        session_row = db.session.get(UserSession, _token_digest(session_token))
        if session_row is not None and session_row.revoked_at is None:
            session_row.revoked_at = utcnow()
            db.session.flush()


# ---------------------------------------------------------------- signed, expiring, single-use links

INVITATION = "invitation"
PASSWORD_RESET = "password-reset"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="mcf-account-links")


def make_link_token(user: User, purpose: str) -> str:
    # The session version makes the link single-use: using it (setting a password) bumps it.
    return _serializer().dumps({"u": user.id, "v": user.session_version, "p": purpose})


def max_age_for(purpose: str) -> int:
    config = current_app.config
    age = config["INVITATION_MAX_AGE"] if purpose == INVITATION else config["PASSWORD_RESET_MAX_AGE"]
    return int(age.total_seconds())


class LinkInvalid(Exception):
    """The link is expired, used, or not ours; the message is safe to show."""


def user_for_link(token: str, purpose: str) -> User:
    try:
        data = _serializer().loads(token, max_age=max_age_for(purpose))
    except SignatureExpired:
        raise LinkInvalid("This link has expired. Ask for a new one.") from None
    except BadSignature:
        raise LinkInvalid("This link is not valid.") from None
    if not isinstance(data, dict) or data.get("p") != purpose:
        raise LinkInvalid("This link is not valid.")
    user = db.session.get(User, data.get("u"))
    if user is None or not user.active or user.session_version != data.get("v"):
        raise LinkInvalid("This link has already been used. Ask for a new one.")
    return user


def use_link(token: str, purpose: str, password: str) -> User:
    user = user_for_link(token, purpose)
    set_password(user, password)
    return user


def issue_invitation(user: User) -> None:
    """Publish the invitation; the notifications consumer mails the link (US-010)."""
    publish(
        "account.invitation_sent",
        "user",
        user.id,
        {"user_id": user.id, "email": user.email, "name": user.name, "roles": sorted(user.roles)},
    )


def request_password_reset(email: str) -> None:
    """Mail a reset link if the account exists; say nothing either way (no account probing)."""
    user = find_user_by_email(email)
    if user is None or not user.active:
        return
    publish("account.password_reset_requested", "user", user.id, {"user_id": user.id, "email": user.email})


# ---------------------------------------------------------------- API tokens


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(user: User, name: str = "") -> str:
    """A new bearer token for a manager; the plain token is returned once and never stored."""
    if not user.has_role(Role.MANAGER):
        raise RoleNotAllowed(email="API tokens are for managers.")
    token = "mcf_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, name=name, token_hash=_token_digest(token)))
    db.session.flush()
    return token


def user_for_api_token(token: str) -> User | None:
    row = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_digest(token), ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.active or not row.user.has_role(Role.MANAGER):
        return None
    row.last_used_at = utcnow()
    return row.user


# ---------------------------------------------------------------- listing


def users_with_role_page(
    role: str, page: int, per_page: int, options: Iterable = (), search: str = ""
) -> tuple[list[User], bool]:
    """One page of the people with `role`, newest first, optionally those whose name or email
    contains `search`: (users, has_next)."""
    query = select(User).join(UserRole).where(UserRole.role == role)
    if search.strip():
        term = search.strip()
        query = query.where(
            or_(User.name.icontains(term, autoescape=True), User.email.icontains(term, autoescape=True))
        )
    return fetch_page(query.options(*options).order_by(User.id.desc()), page, per_page)


def count_users_with_role(role: str) -> int:
    return db.session.scalar(select(func.count()).select_from(UserRole).where(UserRole.role == role)) or 0
