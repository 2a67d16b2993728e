"""Helpers shared by the web, API and accounts tests."""

from __future__ import annotations

import re
from contextlib import contextmanager

from sqlalchemy import event, func, select

from app.accounts.models import ApiToken, ClientProfile, User, UserRole, WorkerProfile
from app.events.models import Event

_MISSING = object()


@contextmanager
def config_values(app, **values):
    """Set app.config values for a block and restore them afterwards."""
    saved = {key: app.config.get(key, _MISSING) for key in values}
    app.config.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is _MISSING:
                app.config.pop(key, None)
            else:
                app.config[key] = value


COUNTED = {
    "users": User,
    "user_roles": UserRole,
    "worker_profiles": WorkerProfile,
    "client_profiles": ClientProfile,
    "api_tokens": ApiToken,
    "events": Event,
}


def row_counts(db) -> dict[str, int]:
    """How many rows each accounts table (and the event log) holds, as the test's session sees them."""
    return {name: db.session.scalar(select(func.count()).select_from(model)) for name, model in COUNTED.items()}


def events_of(db, event_type: str, aggregate_id: object | None = None) -> list[Event]:
    query = select(Event).where(Event.type == event_type).order_by(Event.id)
    if aggregate_id is not None:
        query = query.where(Event.aggregate_id == str(aggregate_id))
    return list(db.session.scalars(query))


def user_by_email(db, email: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))


@contextmanager
def count_statements(engine):
    """Count the SQL statements sent on `engine` inside the block: `with ... as counter: counter[0]`."""
    counter = [0]

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        counter[0] += 1

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)


def field_errors(html: str, field_id: str) -> list[str]:
    """The messages shown next to a form field (see templates/macros/forms.html)."""
    match = re.search(rf'<ul class="errors" id="{re.escape(field_id)}-errors">(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", match.group(1), re.S) if match else []


PROXY = "10.0.0.254"  # a proxy in front of the app, for the tests of forwarded addresses


def login_attempt(client, email, password, ip="10.0.0.1", forwarded=None):
    """A sign-in from `ip` (or from `forwarded` behind a proxy at `ip`), with the form's CSRF token."""
    from tests.support.fixtures import csrf_token

    token = csrf_token(client, "/login")
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": ip},
        headers=headers,
    )
