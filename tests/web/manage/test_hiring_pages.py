"""The managers' hiring pages (US-090, 110, 120): the board, an application's page and its actions,
the test bank and the vacancies."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.hiring.models import HiringTest, Stage, Vacancy
from tests.support.factories import ManagerFactory
from tests.support.fixtures import login
from tests.support.hiring import apply, confirmed, make_test, make_vacancy, take_all
from tests.support.web import count_statements


@pytest.fixture
def manager(client, db):
    manager = ManagerFactory()
    login(client, manager)
    return manager


def csrf(client, path: str) -> str:
    return re.search(r'"X-CSRFToken": "([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_the_board_shows_confirmed_applications_by_stage_with_filters(client, manager, db, app):
    vacancy = make_vacancy([make_test()])
    other = make_vacancy(title="Gardener")
    hidden = apply(vacancy, name="Unconfirmed Ulla")
    for number in range(3):
        confirmed(vacancy, name=f"Confirmed {number}")
    confirmed(other, name="Garden Gus")
    html = client.get("/manage/hiring").get_data(as_text=True)
    assert "Confirmed 0" in html and "Garden Gus" in html and hidden.name not in html
    assert "New (4)" in html
    filtered = client.get(f"/manage/hiring?vacancy={other.id}", headers={"HX-Request": "true"})
    fragment = filtered.get_data(as_text=True)
    assert fragment.startswith("<section") or 'id="hiring-board"' in fragment
    assert "Garden Gus" in fragment and "Confirmed 0" not in fragment and "<html" not in fragment
    assert "Garden Gus" not in client.get("/manage/hiring?q=confirmed").get_data(as_text=True)


def test_the_board_needs_the_same_statements_for_3_or_30_rows(client, manager, db, app):
    from app.extensions import db as database

    vacancy = make_vacancy()
    for _ in range(3):
        confirmed(vacancy)
    with count_statements(database.engine) as few:
        client.get("/manage/hiring")
    for _ in range(27):
        confirmed(vacancy)
    with count_statements(database.engine) as many:
        client.get("/manage/hiring")
    assert many[0] == few[0]


def test_us090_contact_log_assign_and_the_unconfirmed_stay_hidden(client, manager, db):
    vacancy = make_vacancy([make_test()])
    application = confirmed(vacancy)
    hidden = apply(vacancy)
    assert client.get(f"/manage/hiring/applications/{hidden.id}").status_code == 404
    path = f"/manage/hiring/applications/{application.id}"
    token = csrf(client, path)
    response = client.post(f"{path}/contacts", data={"csrf_token": token, "channel": "call", "outcome": ""})
    assert response.status_code == 422
    key = re.search(r'name="form_key" type="hidden" value="([0-9a-f]+)"', client.get(path).get_data(as_text=True))
    data = {"csrf_token": token, "form_key": key.group(1), "channel": "call", "outcome": "Reached", "notes": "Keen"}
    assert client.post(f"{path}/contacts", data=data).status_code == 303
    assert client.post(f"{path}/contacts", data=data).status_code == 303  # a double submit logs once
    db.session.expire_all()
    assert application.stage == Stage.CONTACTED and [c.outcome for c in application.contacts] == ["Reached"]
    assert client.post(f"{path}/assign", data={"csrf_token": token}).status_code == 303
    assert client.post(f"{path}/assign", data={"csrf_token": token}).status_code == 303  # a double click
    db.session.expire_all()
    assert application.stage == Stage.TESTS_ASSIGNED and len(application.assignments) == 1
    assert "Remind" in client.get(path).get_data(as_text=True)


def test_us110_one_applicants_set_from_the_page(client, manager, db):
    first, second = make_test(), make_test()
    vacancy = make_vacancy([first])
    application = confirmed(vacancy)
    path = f"/manage/hiring/applications/{application.id}"
    token = csrf(client, path)
    client.post(f"{path}/tests", data={"csrf_token": token, "op": "add", "test_id": second.id})
    client.post(f"{path}/tests", data={"csrf_token": token, "op": "up", "test_id": second.id})
    db.session.expire_all()
    assert [a.test_id for a in application.assignments] == [second.id, first.id]
    assert [link.test_id for link in vacancy.tests] == [first.id]


def test_us120_hire_twice_from_the_page_makes_one_worker(client, manager, db):
    vacancy = make_vacancy([make_test()])
    application = confirmed(vacancy)
    take_all(application, manager)
    path = f"/manage/hiring/applications/{application.id}"
    page = client.get(path).get_data(as_text=True)
    assert "percentile" in page.lower() or "pass mark" in page
    token = csrf(client, path)
    assert client.post(f"{path}/hire", data={"csrf_token": token}).status_code == 303
    assert client.post(f"{path}/hire", data={"csrf_token": token}).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email == application.email)) == 1
    rejected = client.post(f"{path}/reject", data={"csrf_token": token, "reason": "late"})
    assert rejected.status_code == 409
    db.session.expire_all()
    assert application.stage == Stage.HIRED


def test_the_test_bank_and_vacancies(client, manager, db):
    token = csrf(client, "/manage/hiring/tests")
    response = client.post(
        "/manage/hiring/tests",
        data={
            "csrf_token": token,
            "name": "Sweeping",
            "trait": "Cleaning",
            "time_limit_minutes": "5",
            "pass_mark_percent": "60",
        },
    )
    assert response.status_code == 303
    test = db.session.scalar(select(HiringTest).where(HiringTest.name == "Sweeping"))
    assert (test.trait, test.time_limit_seconds) == ("cleaning", 300)
    bad = client.post(
        f"/manage/hiring/tests/{test.id}/questions",
        data={"csrf_token": token, "kind": "single", "text": "Pick", "choices": "A\nB", "correct": "3", "points": "1"},
    )
    assert bad.status_code == 422 and "Choose among 1 to 2" in bad.get_data(as_text=True)
    good = client.post(
        f"/manage/hiring/tests/{test.id}/questions",
        data={"csrf_token": token, "kind": "number", "text": "How many?", "correct": "42 0.5", "points": "2"},
    )
    assert good.status_code == 303
    db.session.expire_all()
    assert test.questions[0].correct == {"value": 42.0, "tolerance": 0.5}

    response = client.post(
        "/manage/hiring/vacancies", data={"csrf_token": token, "title": "Night Mouser", "description": "Nights."}
    )
    assert response.status_code == 303
    vacancy = db.session.scalar(select(Vacancy).where(Vacancy.slug == "night-mouser"))
    assert not vacancy.is_open
    client.post(
        f"/manage/hiring/vacancies/{vacancy.id}/tests", data={"csrf_token": token, "op": "add", "test_id": test.id}
    )
    client.post(f"/manage/hiring/vacancies/{vacancy.id}/open", data={"csrf_token": token, "open": "1"})
    db.session.expire_all()
    assert vacancy.is_open and [link.test_id for link in vacancy.tests] == [test.id]
    assert "Night Mouser" in client.get("/careers/").get_data(as_text=True)
