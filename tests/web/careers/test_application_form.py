"""US-081/090: the careers form. Refusals (no challenge, replayed, over the limits, honeypot, too
fast) answer with their status and write nothing a manager sees; a good POST writes one row, and
the intake job, the confirmation mail and the link make it reach the board."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from app.events.jobs import deliver
from app.hiring import intake
from app.hiring.jobs import intake as intake_job
from app.hiring.models import Application, Stage
from app.notifications.models import OutboxEmail
from app.platform.uploads import photo_file
from tests.support.hiring import board_rows, details, jpeg_bytes, make_test, make_vacancy
from tests.support.web import config_values


def rows() -> int:
    from app.extensions import db

    return db.session.scalar(select(func.count()).select_from(Application))


def form_fields(client, vacancy) -> dict:
    html = client.get(f"/careers/{vacancy.slug}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    token = re.search(r'name="form_token" type="hidden" value="([^"]+)"', html).group(1)
    return {"csrf_token": csrf, "form_token": token}


def solved(client) -> str:
    response = client.get("/careers/challenge")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    return intake.solve(response.get_json())


def post(client, vacancy, *, altcha: str | None = "solve", photo: bytes | None = None, address="127.0.0.9", **extra):
    data = {**form_fields(client, vacancy), **{k: str(v) for k, v in details().items()}, **extra}
    if altcha == "solve":
        altcha = solved(client)
    if altcha is not None:
        data["altcha"] = altcha
    data["photo"] = (io.BytesIO(photo if photo is not None else jpeg_bytes()), "me.jpg")
    return client.post(
        f"/careers/{vacancy.slug}",
        data=data,
        content_type="multipart/form-data",
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.fixture
def vacancy(db):
    return make_vacancy([make_test()])


def test_us090_the_careers_pages_list_open_vacancies(client, vacancy, db):
    assert vacancy.title in client.get("/careers/").get_data(as_text=True)
    page = client.get(f"/careers/{vacancy.slug}").get_data(as_text=True)
    assert "altcha-widget" in page and 'name="website"' in page
    assert "cdn" not in page.lower()


def test_us081_a_good_application_writes_one_unconfirmed_row_and_defers_the_photo(client, vacancy, db, app):
    response = post(client, vacancy)
    assert response.status_code == 303, response.get_data(as_text=True)[:400]
    application = db.session.scalar(select(Application))
    assert application.stage == Stage.UNCONFIRMED
    assert application.raw_photo_path and application.photo_path is None  # re-encoding waits for the job
    assert board_rows() == []
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 0  # mail waits for the job


def test_us090_double_opt_in_from_the_mail_to_the_board(client, vacancy, db, app):
    post(client, vacancy, email="felix@example.com")
    application = db.session.scalar(select(Application))
    assert intake_job(application.id) is True
    assert intake_job(application.id) is False  # a duplicated job changes nothing
    db.session.refresh(application)
    assert application.photo_path and photo_file(application.photo_path).is_file()
    deliver("notifications", "application", str(application.id))
    mail = db.session.scalar(select(OutboxEmail).where(OutboxEmail.template == "hiring_confirm"))
    assert mail.recipient == "felix@example.com"
    link = re.search(r"http://\S+/careers/confirm/\S+", mail.body_text).group(0)
    path = link.split("5000", 1)[-1] if "5000" in link else link
    page = client.get(path)
    assert page.status_code == 200 and board_rows() == []  # a GET (a mail scanner) does not confirm
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    confirmed = client.post(path, data={"csrf_token": csrf})
    assert confirmed.status_code == 303 and "/careers/application/" in confirmed.headers["Location"]
    assert [row.id for row in board_rows()] == [application.id]
    deliver("notifications", "application", str(application.id))
    templates = set(db.session.scalars(select(OutboxEmail.template)))
    assert {"hiring_confirm", "hiring_received", "hiring_new_application"} <= templates


def test_us081_without_a_solved_challenge_nothing_is_written(client, vacancy, db):
    response = post(client, vacancy, altcha=None)
    assert response.status_code == 400
    assert "anti-robot" in response.get_data(as_text=True)
    response = post(client, vacancy, altcha="bm90IGEgc29sdXRpb24=")
    assert response.status_code == 400
    assert rows() == 0


def test_us081_a_replayed_solution_is_refused(client, vacancy, db):
    payload = solved(client)
    assert post(client, vacancy, altcha=payload).status_code == 303
    replay = post(client, vacancy, altcha=payload, email="other@example.com")
    assert replay.status_code == 409
    assert rows() == 1


def test_us081_the_honeypot_and_a_too_fast_submit_are_refused(client, vacancy, db, app):
    assert post(client, vacancy, website="http://spam.example").status_code == 400
    with config_values(app, HIRING_MIN_FILL_SECONDS=30):
        response = post(client, vacancy)
    assert response.status_code == 429 and response.headers["Retry-After"]
    assert rows() == 0


def test_us081_rate_limits_per_address_and_per_24(client, vacancy, db, app):
    with config_values(app, HIRING_LIMIT_PER_ADDRESS="2 per minute", HIRING_LIMIT_PER_NETWORK="4 per minute"):
        assert post(client, vacancy, address="10.1.2.3").status_code == 303
        assert post(client, vacancy, address="10.1.2.3").status_code == 303
        refused = post(client, vacancy, address="10.1.2.3")
        assert refused.status_code == 429
        assert "try again" in refused.get_data(as_text=True).lower() and "Traceback" not in refused.get_data(
            as_text=True
        )
        assert (
            post(client, vacancy, address="10.1.2.4").status_code == 303
        )  # another address, same /24 (the refused POST counted too)
        assert post(client, vacancy, address="10.1.2.5").status_code == 429  # the /24 is spent
        assert post(client, vacancy, address="10.1.3.5").status_code == 303  # another /24
    assert rows() == 4 and board_rows() == []


def test_us081_the_global_cap_on_unconfirmed_applications(client, vacancy, db, app):
    with config_values(app, HIRING_UNCONFIRMED_PER_HOUR=1):
        assert post(client, vacancy).status_code == 303
        response = post(client, vacancy, address="127.0.0.10")
    assert response.status_code == 429
    assert rows() == 1


def test_difficulty_rises_with_the_post_rate(app, db):
    assert intake.level_for(10, 60, 4) == 0
    assert intake.level_for(61, 60, 4) == 1
    assert intake.level_for(240, 60, 4) == 2
    assert intake.level_for(10_000, 60, 4) == 4
    with app.test_request_context():
        base = intake.difficulty()
        for _ in range(3):
            intake.count_post()
        with config_values(app, ALTCHA_NORMAL_POSTS_PER_10_MIN=1):
            level, cost = intake.difficulty()
    assert base[0] == 0 and level == 2 and cost == app.config["ALTCHA_COST"] * 4


def test_errors_are_inline_and_keep_what_was_typed(client, vacancy, db):
    response = post(client, vacancy, email="not-an-email", name="Tigger")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="Tigger"' in html and "valid email" in html
    assert rows() == 0


def test_a_file_that_is_not_a_photo_is_refused_inline(client, vacancy, db):
    response = post(client, vacancy, photo=b"GIF89a not really")
    assert response.status_code == 422 and "photo" in response.get_data(as_text=True).lower()
    assert rows() == 0


def test_us081_a_plain_post_is_refused_cheaply_without_a_session(client, vacancy, db):
    response = client.post(f"/careers/{vacancy.slug}", data={k: str(v) for k, v in details().items()})
    assert response.status_code == 400
    assert "Reload the page" in response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers  # a refusal creates no session
    assert rows() == 0


def test_us081_views_of_the_form_are_limited_per_24(client, vacancy, db, app):
    with config_values(app, HIRING_FORM_VIEWS_PER_NETWORK="2 per minute"):
        for _ in range(2):
            assert client.get(f"/careers/{vacancy.slug}", environ_base={"REMOTE_ADDR": "10.9.9.1"}).status_code == 200
        refused = client.get(f"/careers/{vacancy.slug}", environ_base={"REMOTE_ADDR": "10.9.9.2"})
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
        assert client.get(f"/careers/{vacancy.slug}", environ_base={"REMOTE_ADDR": "10.9.8.1"}).status_code == 200
