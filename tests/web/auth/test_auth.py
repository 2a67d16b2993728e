"""Login, logout, sessions, invitation and reset links (Accounts: login by password)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from app.accounts.services import INVITATION, PASSWORD_RESET, create_client, make_link_token, set_password
from tests.support.factories import ClientFactory, ManagerFactory, WorkerFactory
from tests.support.fixtures import TEST_PASSWORD, csrf_token, login
from tests.support.web import events_of, field_errors, user_by_email

NEW_PASSWORD = "a brand new password"
WRONG = "The email or the password is wrong."


def post_login(client, email: str, password: str, url: str = "/login"):
    token = csrf_token(client, "/login")
    data = {"email": email, "password": password, "csrf_token": token}
    return client.post(url, data=data)


def set_password_via_link(client, url: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    token = csrf_token(client, url)
    return client.post(url, data={"password": password, "confirm": confirm or password, "csrf_token": token})


# ---------------------------------------------------------------- login


def test_login_goes_to_the_home_of_the_role(client, db):
    response = post_login(client, ManagerFactory().email, TEST_PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/manage/"


def test_login_email_is_case_insensitive(client, db):
    worker = WorkerFactory(email="mixed.case@example.com")
    response = post_login(client, "  Mixed.Case@EXAMPLE.com ", TEST_PASSWORD)
    assert response.status_code == 303
    assert user_by_email(db, worker.email).last_login_at is not None


def test_login_starts_a_fresh_session(client, db):
    manager = ManagerFactory()
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "from before the login"
    cookie_before = client.get_cookie("session").value
    login(client, manager)
    assert client.get_cookie("session").value != cookie_before
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == f"{manager.id}:{manager.session_version}"


def test_wrong_password_is_422_with_the_message_next_to_the_field(client, db):
    manager = ManagerFactory()
    response = post_login(client, manager.email, "not the password")
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "password") == [WRONG]
    assert client.get("/manage/").status_code == 302


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(client, db):
    response = post_login(client, "nobody@example.com", TEST_PASSWORD)
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "password") == [WRONG]


def test_missing_fields_are_422_next_to_the_fields(client, db):
    response = post_login(client, "", "")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, "email")
    assert field_errors(html, "password")


def test_inactive_user_is_refused(client, db):
    manager = ManagerFactory(active=False)
    response = post_login(client, manager.email, TEST_PASSWORD)
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "password") == [WRONG]
    assert client.get("/manage/").status_code == 302


def test_deactivating_a_user_ends_their_sessions(client, db):
    manager = ManagerFactory()
    login(client, manager)
    assert client.get("/manage/").status_code == 200
    manager.active = False
    db.session.flush()
    response = client.get("/manage/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_user_without_password_yet_cannot_log_in(client, db):
    client_user = ClientFactory(password_hash=None)
    assert post_login(client, client_user.email, "").status_code == 422
    assert post_login(client, client_user.email, TEST_PASSWORD).status_code == 422


def test_anonymous_visitor_is_sent_to_login_and_back(client, db):
    manager = ManagerFactory()
    response = client.get("/manage/workers?page=1")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert login_url.startswith("/login?next=")
    response = post_login(client, manager.email, TEST_PASSWORD, url=login_url)
    assert response.status_code == 303
    assert response.headers["Location"] == "/manage/workers?page=1"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example/",
        "javascript:alert(1)",
        "/\t/evil.example/",
        "/\n/evil.example/",
        "http:/evil.example",
        "",
    ],
)
def test_next_only_goes_to_local_paths(client, db, target):
    manager = ManagerFactory()
    client.get("/login")
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": manager.email, "password": TEST_PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/manage/"


def test_logged_in_person_visiting_login_goes_home(client, db):
    login(client, WorkerFactory())
    response = client.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/work/"


def test_person_without_a_role_sees_the_no_role_page(client, db):
    from tests.support.factories import UserFactory

    nobody = UserFactory(roles=())
    response = login(client, nobody)
    assert response.headers["Location"] == "/no-role"
    assert client.get("/no-role").status_code == 200
    assert client.get("/client/").status_code == 403


# ---------------------------------------------------------------- logout


def test_logout_is_post_only(client, db):
    login(client, ManagerFactory())
    assert client.get("/logout").status_code == 405
    assert client.get("/manage/").status_code == 200


def test_logout_ends_the_session(client, db):
    login(client, ManagerFactory())
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/manage/")})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert client.get("/manage/").status_code == 302
    with client.session_transaction() as session:
        assert "_user_id" not in session


# ---------------------------------------------------------------- sessions and password changes


def test_password_change_ends_other_sessions(client, new_client, db):
    manager = ManagerFactory()
    laptop, phone = client, new_client()
    login(laptop, manager)
    login(phone, manager)
    assert phone.get("/manage/").status_code == 200
    # The phone changes the password through a reset link.
    response = set_password_via_link(phone, f"/reset-password/{make_link_token(manager, PASSWORD_RESET)}")
    assert response.status_code == 303
    assert phone.get("/manage/").status_code == 200  # the session that changed it goes on
    response = laptop.get("/manage/")
    assert response.status_code == 302  # every other session is over
    assert response.headers["Location"].startswith("/login")


def test_set_password_bumps_the_session_version(db):
    manager = ManagerFactory()
    version = manager.session_version
    set_password(manager, NEW_PASSWORD)
    assert manager.session_version == version + 1
    assert manager.get_id() == f"{manager.id}:{version + 1}"


def test_session_with_a_forged_user_id_is_anonymous(client, db):
    manager = ManagerFactory()
    login(client, manager)
    with client.session_transaction() as session:
        session["_user_id"] = "not-a-session-id"
    assert client.get("/manage/").status_code == 302


# ---------------------------------------------------------------- invitation links (US-010)


@pytest.fixture
def invited(db):
    """A client created with an invitation, who has no password yet."""
    user = create_client("invited@example.com", "Invited Cat")
    db.session.flush()
    return user


def test_invitation_sets_the_password_once(client, new_client, db, invited):
    url = f"/invitation/{make_link_token(invited, INVITATION)}"
    page = client.get(url)
    assert page.status_code == 200
    assert invited.email in page.get_data(as_text=True)
    response = set_password_via_link(client, url)
    assert response.status_code == 303
    assert response.headers["Location"] == "/client/"
    assert client.get("/client/").status_code == 200  # logged in
    assert user_by_email(db, invited.email).has_password

    assert client.get(url).status_code == 410  # used
    assert new_client().get(url).status_code == 410
    assert set_password_via_link(new_client(), url, "yet another password").status_code == 410
    # The password from the link works.
    assert post_login(new_client(), invited.email, NEW_PASSWORD).status_code == 303


def test_expired_invitation_is_410(client, db, invited):
    token = make_link_token(invited, INVITATION)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8)):
        response = client.get(f"/invitation/{token}")
    assert response.status_code == 410
    assert b"expired" in response.data


def test_invitation_still_valid_before_it_expires(client, db, invited):
    token = make_link_token(invited, INVITATION)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=6)):
        assert client.get(f"/invitation/{token}").status_code == 200


def test_tampered_or_foreign_links_are_410(client, db, invited):
    token = make_link_token(invited, INVITATION)
    assert client.get(f"/invitation/{token[:-2]}xx").status_code == 410
    assert client.get("/invitation/garbage").status_code == 410
    # A link made for one purpose does not work for the other.
    assert client.get(f"/reset-password/{token}").status_code == 410
    reset = make_link_token(invited, PASSWORD_RESET)
    assert client.get(f"/invitation/{reset}").status_code == 410


def test_link_of_a_deactivated_person_is_410(client, db, invited):
    token = make_link_token(invited, INVITATION)
    invited.active = False
    db.session.flush()
    assert client.get(f"/invitation/{token}").status_code == 410


def test_set_password_form_errors_are_422_next_to_the_fields(client, db, invited):
    url = f"/invitation/{make_link_token(invited, INVITATION)}"
    short = set_password_via_link(client, url, "short")
    assert short.status_code == 422
    assert field_errors(short.get_data(as_text=True), "password")
    differ = set_password_via_link(client, url, NEW_PASSWORD, confirm="something else entirely")
    assert differ.status_code == 422
    assert field_errors(differ.get_data(as_text=True), "confirm") == ["The passwords differ."]
    assert not user_by_email(db, invited.email).has_password
    assert client.get(url).status_code == 200  # still usable


# ---------------------------------------------------------------- password reset


def test_reset_flow(client, new_client, db):
    manager = ManagerFactory()
    response = client.post(
        "/forgot-password", data={"email": manager.email.upper(), "csrf_token": csrf_token(client, "/forgot-password")}
    )
    assert response.status_code == 303
    assert [event.payload["email"] for event in events_of(db, "account.password_reset_requested")] == [manager.email]

    url = f"/reset-password/{make_link_token(manager, PASSWORD_RESET)}"
    assert client.get(url).status_code == 200
    response = set_password_via_link(client, url)
    assert response.status_code == 303
    assert response.headers["Location"] == "/manage/"
    assert client.get(url).status_code == 410  # single use
    assert post_login(new_client(), manager.email, TEST_PASSWORD).status_code == 422
    assert post_login(new_client(), manager.email, NEW_PASSWORD).status_code == 303


def test_reset_link_expires_after_two_hours(client, db):
    manager = ManagerFactory()
    token = make_link_token(manager, PASSWORD_RESET)
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=3)):
        assert client.get(f"/reset-password/{token}").status_code == 410


def test_forgot_password_answers_the_same_whether_or_not_the_account_exists(client, new_client, db):
    manager = ManagerFactory()
    answers = []
    for email in (manager.email, "nobody-here@example.com"):
        browser = new_client()
        response = browser.post(
            "/forgot-password", data={"email": email, "csrf_token": csrf_token(browser, "/forgot-password")}
        )
        page = browser.get(response.headers["Location"]).get_data(as_text=True)
        message = "If an account has this email, a link to set a new password is on its way."
        answers.append((response.status_code, response.headers["Location"], message in page))
    assert answers[0] == answers[1] == (303, "/login", True)
    assert len(events_of(db, "account.password_reset_requested")) == 1


def test_forgot_password_for_an_inactive_account_sends_nothing(client, db):
    manager = ManagerFactory(active=False)
    response = client.post(
        "/forgot-password", data={"email": manager.email, "csrf_token": csrf_token(client, "/forgot-password")}
    )
    assert response.status_code == 303
    assert events_of(db, "account.password_reset_requested") == []


def test_forgot_password_without_email_is_422(client, db):
    response = client.post("/forgot-password", data={"email": "", "csrf_token": csrf_token(client, "/forgot-password")})
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "email")
