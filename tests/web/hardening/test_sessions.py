"""Sessions (US-002): logout revokes the session on the server, a copied cookie from another
browser opens nothing even though sessions are permanent, and signed-in pages are never cached."""

from __future__ import annotations

from sqlalchemy import select

from app.accounts.models import UserSession
from tests.support.factories import ManagerFactory
from tests.support.fixtures import csrf_token, login


def copy_cookie(source, target) -> None:
    target.set_cookie("session", source.get_cookie("session").value)


def test_logout_revokes_the_session_so_a_copied_cookie_opens_nothing(client, new_client, db):
    manager = ManagerFactory()
    login(client, manager)
    thief = new_client()
    copy_cookie(client, thief)
    assert thief.get("/manage/").status_code == 200  # the same cookie works before logout
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/manage/")})
    assert response.status_code == 303
    stolen = thief.get("/manage/")
    assert stolen.status_code == 302 and stolen.headers["Location"].startswith("/login")
    db.session.expire_all()
    row = db.session.scalar(select(UserSession).where(UserSession.user_id == manager.id))
    assert row.revoked_at is not None


def test_logout_ends_only_that_session(client, new_client, db):
    manager = ManagerFactory()
    phone = new_client()
    login(client, manager)
    login(phone, manager)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/manage/")})
    assert phone.get("/manage/").status_code == 200


def test_a_permanent_session_copied_to_another_browser_is_anonymous(client, new_client, db):
    login(client, ManagerFactory())
    other = new_client()
    copy_cookie(client, other)
    assert client.get("/manage/").status_code == 200
    response = other.get("/manage/", headers={"User-Agent": "Another browser/1.0"})
    assert response.status_code == 302
    response = other.get("/manage/", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 302


def test_signed_in_pages_are_not_stored(client, db):
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    login(client, ManagerFactory())
    for url in ("/manage/", "/manage/workers"):
        assert client.get(url).headers["Cache-Control"] == "no-store"
