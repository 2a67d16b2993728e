"""The applicant's signed pages: only their application, tests one at a time, answers saved by
htmx, the correct answers never in the HTML, and the server's timer."""

from __future__ import annotations

import re
from datetime import timedelta

import time_machine

from app.hiring import links, services
from app.hiring.models import AssignmentStatus
from app.platform.clock import utcnow
from tests.support.factories import ManagerFactory
from tests.support.hiring import confirmed, make_test, make_vacancy


def setup_applicant(db):
    vacancy = make_vacancy([make_test(), make_test()])
    manager = ManagerFactory()
    application = confirmed(vacancy)
    services.assign_tests(application, manager)
    return application, links.make_token(application, links.PAGE)


def csrf(client, path: str) -> str:
    return re.search(r'"X-CSRFToken": "([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_the_link_shows_the_application_and_its_tests(client, db):
    application, token = setup_applicant(db)
    html = client.get(f"/careers/application/{token}").get_data(as_text=True)
    assert application.name in html and "Start this test" in html
    assert html.count("Start this test") == 1  # one test at a time


def test_a_link_shows_only_its_own_application(client, db):
    application, token = setup_applicant(db)
    other, _ = setup_applicant(db)
    foreign = other.assignments[0].id
    assert client.get(f"/careers/application/{token}/tests/{foreign}").status_code == 404
    assert (
        client.post(
            f"/careers/application/{token}/tests/{foreign}/start", data={"csrf_token": csrf(client, "/careers/")}
        ).status_code
        == 404
    )
    assert client.get("/careers/application/not-a-token").status_code == 404


def test_taking_a_test_answers_saved_by_htmx_and_never_the_correct_ones_in_the_page(client, db):
    application, token = setup_applicant(db)
    assignment = application.assignments[0]
    base = f"/careers/application/{token}/tests/{assignment.id}"
    token_value = csrf(client, f"/careers/application/{token}")
    assert client.post(f"{base}/start", data={"csrf_token": token_value}).status_code == 303
    page = client.get(base)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Time left" in html
    assert "correct" not in html.lower() and "tolerance" not in html.lower()
    single, multiple, number = assignment.test.questions
    saved = client.post(
        f"{base}/answers/{multiple.id}",
        data={f"q{multiple.id}": ["0", "2"]},
        headers={"HX-Request": "true", "X-CSRFToken": token_value},
    )
    assert saved.status_code == 200 and "Saved" in saved.get_data(as_text=True)
    resumed = client.get(base).get_data(as_text=True)  # a reload resumes with the answer checked
    assert re.search(rf'name="q{multiple.id}" value="0" checked', resumed)
    done = client.post(f"{base}/submit", data={"csrf_token": token_value, f"q{number.id}": "8"})
    assert done.status_code == 303
    db.session.expire_all()
    assert assignment.status == AssignmentStatus.SUBMITTED and assignment.points == 3


def test_an_answer_after_the_time_limit_is_refused_and_the_test_scored(client, db):
    application, token = setup_applicant(db)
    assignment = application.assignments[0]
    base = f"/careers/application/{token}/tests/{assignment.id}"
    token_value = csrf(client, f"/careers/application/{token}")
    client.post(f"{base}/start", data={"csrf_token": token_value})
    question = assignment.test.questions[0]
    with time_machine.travel(utcnow() + timedelta(minutes=11), tick=False):
        late = client.post(
            f"{base}/answers/{question.id}",
            data={f"q{question.id}": "0"},
            headers={"HX-Request": "true", "X-CSRFToken": token_value},
        )
    assert late.status_code == 409 and late.headers["HX-Redirect"].endswith(token)
    db.session.expire_all()
    assert assignment.status == AssignmentStatus.SUBMITTED and assignment.points == 0
