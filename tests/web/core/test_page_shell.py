"""The page shell: security headers, cookies, error pages for browsers, htmx and the API."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import create_app
from app.config import TestConfig
from app.extensions import db as database
from tests.support.factories import ManagerFactory, WorkerFactory
from tests.support.fixtures import isolated_client, login

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"
HTMX = {"HX-Request": "true"}


def test_security_headers_on_a_page(client):
    response = client.get("/login")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers


def test_no_hsts_in_test_config_even_over_https(client):
    response = client.get("/login", base_url="https://localhost")
    assert "Strict-Transport-Security" not in response.headers


@pytest.fixture
def hsts_app(app):
    hsts = create_app(
        TestConfig,
        HSTS=True,
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=app.config["REDIS_URL"],
    )
    yield hsts
    with hsts.app_context():
        database.engine.dispose()


def test_hsts_when_enabled(hsts_app):
    client = hsts_app.test_client()
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    proxied = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "max-age=" in proxied.headers["Strict-Transport-Security"]


def test_session_cookie_is_httponly_and_samesite_lax(client):
    response = client.get("/login")  # the CSRF token puts something in the session
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")]
    assert cookies, response.headers
    assert "HttpOnly" in cookies[0]
    assert "SameSite=Lax" in cookies[0]


def test_404_is_a_full_page_or_a_fragment(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert b"<html" in page.data
    assert b"There is nothing here." in page.data
    fragment = client.get("/no-such-page", headers=HTMX)
    assert fragment.status_code == 404
    assert b"<html" not in fragment.data
    assert b"There is nothing here." in fragment.data
    assert "HX-Request" in page.headers["Vary"]
    assert "HX-Request" in fragment.headers["Vary"]


def test_403_is_a_full_page_or_a_fragment(client, db):
    login(client, WorkerFactory())
    page = client.get("/manage/")
    assert page.status_code == 403
    assert b"<html" in page.data
    fragment = client.get("/manage/", headers=HTMX)
    assert fragment.status_code == 403
    assert b"<html" not in fragment.data
    assert b"You do not have access" in fragment.data
    assert "HX-Request" in fragment.headers["Vary"]


def test_405_says_which_methods_are_allowed(client):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_api_404_and_405_are_json(client):
    for url in ("/api/v1/nothing-here", "/api/nothing"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.is_json
        assert response.get_json()["error"]
    response = client.delete("/api/v1/clients")
    assert response.status_code == 405
    assert response.is_json


def test_outbox_answers_the_table_fragment_to_htmx(client, db):
    login(client, ManagerFactory())
    page = client.get("/manage/outbox")
    assert page.status_code == 200
    assert b"<html" in page.data
    assert b'id="outbox-table"' in page.data
    fragment = client.get("/manage/outbox", headers=HTMX)
    assert fragment.status_code == 200
    assert b"<html" not in fragment.data
    assert b'<table class="outbox">' in fragment.data
    assert "HX-Request" in fragment.headers["Vary"]


def test_outbox_refuses_an_unknown_status_filter(client, db):
    login(client, ManagerFactory())
    assert client.get("/manage/outbox?status=nonsense").status_code == 400


def test_htmx_is_served_from_static(client, app):
    page = client.get("/login").get_data(as_text=True)
    scripts = re.findall(r'<script src="([^"]+)"', page)
    htmx = [src for src in scripts if "htmx" in src]
    assert htmx and all(src.startswith("/static/") for src in scripts), scripts
    response = client.get(htmx[0])
    assert response.status_code == 200
    assert b"htmx" in response.data[:2000]


def test_no_cdn_urls_in_page_templates():
    offenders = []
    pattern = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)
    for path in TEMPLATES.rglob("*.html"):
        if path.parts[-2] == "email":  # emails link back to the site by absolute URL
            continue
        text = path.read_text()
        if pattern.search(text) or re.search(r"unpkg|jsdelivr|cdnjs|googleapis", text, re.I):
            offenders.append(str(path.relative_to(TEMPLATES)))
    assert offenders == []


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_home_redirects_by_role(app, db):
    anonymous = isolated_client(app)
    assert anonymous.get("/").headers["Location"].startswith("/login")
    worker = isolated_client(app)
    login(worker, WorkerFactory())
    assert worker.get("/").headers["Location"] == "/work/"


def test_the_outbox_searches_by_recipient(client, db):
    from app.notifications.services import queue_email

    login(client, ManagerFactory())
    queue_email("zed@example.com", "invitation", {"name": "Zed", "link": "x", "roles": []}, "test:zed")
    queue_email("amy@example.com", "invitation", {"name": "Amy", "link": "x", "roles": []}, "test:amy")
    html = client.get("/manage/outbox", query_string={"q": "ZED@"}).get_data(as_text=True)
    assert "zed@example.com" in html and "amy@example.com" not in html
