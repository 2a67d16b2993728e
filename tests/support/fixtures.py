"""Test fixtures: real PostgreSQL and Redis, one fresh database per run, one transaction per test.

With DATABASE_URL / REDIS_URL set (CI, this machine) the suite uses those servers: it creates a
database of its own there and drops it at the end, and uses Redis database TEST_REDIS_DB (15).
Without them (a laptop) it starts the embedded servers of scripts/devservices.py.
"""

from __future__ import annotations

import contextvars
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import text
from sqlalchemy.orm import scoped_session, sessionmaker

# Before any app module is imported: config classes read the environment at import time.
os.environ["MCF_ENV"] = "test"

TEST_PASSWORD = "correct horse battery"


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def _with_redis_db(url: str, number: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{number}"))


def _claim_redis_db(redis_url: str):
    """A Redis database of this run's own (15 down to 1), so parallel runs never flush each other.

    TEST_REDIS_DB pins one. The claim is a key with an expiry, released at the end of the run.
    """
    pinned = os.environ.get("TEST_REDIS_DB")
    candidates = [int(pinned)] if pinned else range(15, 0, -1)
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    for number in candidates:
        url = _with_redis_db(redis_url, number)
        connection = Redis.from_url(url)
        if pinned or connection.set("mcf-test-run", token, nx=True, ex=3 * 3600):
            return url, lambda connection=connection: connection.delete("mcf-test-run")
    raise RuntimeError("every Redis database from 15 to 1 is claimed by another test run")


@pytest.fixture(scope="session")
def servers():
    """(server URL for the maintenance database, Redis URL), embedded when not configured."""
    workdir = Path(tempfile.mkdtemp(prefix="mcf-test-"))
    redis_process = None
    database_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    pg = None
    if not database_url:
        from scripts.devservices import start_postgres

        os.chmod(workdir, 0o755)
        pg = start_postgres(workdir / "pg")
        database_url = pg.get_uri("postgres")
    if not redis_url:
        from scripts.devservices import start_redis

        redis_url, redis_process = start_redis(workdir / "redis")
    test_redis_url, release = _claim_redis_db(redis_url)
    yield database_url, test_redis_url
    release()
    if redis_process is not None:
        redis_process.terminate()
        redis_process.wait(10)
    if pg is not None:
        pg.cleanup()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(servers):
    """A database of this run's own, created empty and dropped at the end."""
    server_url, _ = servers
    name = f"mcf_test_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _with_database(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url(servers):
    return servers[1]


@pytest.fixture(scope="session")
def app(database_url, redis_url):
    """The app on the test database, migrated from empty with `flask db upgrade`."""
    from flask_migrate import upgrade

    from app import create_app
    from app.config import TestConfig, sqlalchemy_url

    # Worker subprocesses started by tests build their app from the environment.
    os.environ.update(
        {"MCF_ENV": "test", "DATABASE_URL": database_url, "REDIS_URL": redis_url, "MCF_TEST_SUBPROCESS": "1"}
    )
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=sqlalchemy_url(database_url), REDIS_URL=redis_url)
    with app.app_context():
        upgrade()
    return app


# One atomic step: between a FLUSHDB and the claim's return, another run could claim this database.
FLUSH_KEEPING_CLAIM = """
local claim = redis.call('GET', KEYS[1])
redis.call('FLUSHDB')
if claim then redis.call('SET', KEYS[1], claim, 'EX', ARGV[1]) end
return claim
"""


@pytest.fixture(autouse=True)
def clean_redis(redis_url):
    """Empty this run's Redis database before each test, keeping the run's claim on it."""
    Redis.from_url(redis_url).eval(FLUSH_KEEPING_CLAIM, 1, "mcf-test-run", 3 * 3600)
    yield


@pytest.fixture
def db(app):
    """A database session inside a transaction that is rolled back after the test.

    Views and services may commit: in this mode a commit only releases a savepoint.
    """
    from flask_sqlalchemy.session import _app_ctx_id

    from app.extensions import db as database

    with app.app_context():
        connection = database.engine.connect()
        transaction = connection.begin()
        original = database.session
        database.session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint"), scopefunc=_app_ctx_id
        )
        try:
            yield database
        finally:
            database.session.remove()
            database.session = original
            transaction.rollback()
            connection.close()


# Reference data that migrations insert and the app needs; committed tests leave it alone.
REFERENCE_TABLES = {"matching_steps", "alembic_version"}


def empty_tables(app) -> None:
    from app.extensions import db as database

    with app.app_context():
        tables = ", ".join(
            f'"{table.name}"' for table in database.metadata.sorted_tables if table.name not in REFERENCE_TABLES
        )
        with database.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def committed_db(app):
    """For tests whose work crosses processes (RQ workers): real commits, tables emptied after."""
    from app.extensions import db as database

    with app.app_context():
        yield database
        database.session.remove()
    empty_tables(app)


class IsolatedClient(FlaskClient):
    """Each request runs in an empty contextvars context, so it pushes an app context of its own.

    Flask reuses an app context that is already pushed (the `db` fixture pushes one): without this,
    every request of a test would share one `g` (flask-login caches the user there) and one
    session, and a view's rollback would undo the test's own rows. Every session still sits on
    the test's connection, inside the transaction rolled back after the test.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def isolated_client(app) -> IsolatedClient:
    return IsolatedClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def client(app, db):
    return isolated_client(app)


@pytest.fixture
def new_client(app, db):
    """Another browser: `new_client()` gives a fresh client with its own cookies."""
    return lambda: isolated_client(app)


CSRF_IN_PAGE = re.compile(r'"X-CSRFToken": "([^"]+)"|name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client, url: str = "/login") -> str:
    """The CSRF token a real browser would have, read from a page (every page carries it)."""
    response = client.get(url, follow_redirects=True)
    match = CSRF_IN_PAGE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def login(client, user_or_email, password: str = TEST_PASSWORD):
    email = getattr(user_or_email, "email", user_or_email)
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response


@pytest.fixture
def login_as(client):
    def log_in(user):
        login(client, user)
        return client

    return log_in


@pytest.fixture
def uploads(app, tmp_path):
    """Photos go to a directory of the test's own."""
    from tests.support.web import config_values

    with config_values(app, UPLOAD_DIR=str(tmp_path / "uploads")):
        yield tmp_path / "uploads"
