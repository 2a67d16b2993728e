"""US-090 intake with double opt-in: one row per (vacancy, email), confirmation, expiry and purge."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app.extensions import db
from app.hiring import links, services
from app.hiring.models import Application, Stage
from app.platform.clock import utcnow
from app.platform.validation import ValidationError
from tests.support.hiring import apply, board_rows, confirmed, details, make_vacancy
from tests.support.web import events_of


def count(vacancy) -> int:
    return db.session.scalar(select(func.count()).select_from(Application).where(Application.vacancy_id == vacancy.id))


def test_us090_an_application_starts_unconfirmed_and_invisible_to_managers(db):
    vacancy = make_vacancy()
    application = apply(vacancy)
    assert application.stage == Stage.UNCONFIRMED
    assert application.expires_at > utcnow() + timedelta(hours=47)
    assert board_rows() == []


def test_the_same_email_applying_twice_gives_one_application_with_the_later_details(db):
    vacancy = make_vacancy()
    first = apply(vacancy, email="Twice@Example.com", name="First Name")
    second = apply(vacancy, email="twice@example.com ", name="Second Name")
    assert first.id == second.id
    db.session.refresh(first)
    assert first.name == "Second Name"
    assert first.version == 2
    assert count(vacancy) == 1


def test_a_decided_application_is_not_overwritten_by_applying_again(db):
    from tests.support.factories import ManagerFactory

    vacancy = make_vacancy()
    application = confirmed(vacancy, name="Original")
    services.reject(application, ManagerFactory(), reason="Not now")
    again = services.submit_application(vacancy, details(email=application.email, name="Changed"), None)
    assert again is None
    db.session.refresh(application)
    assert (application.name, application.stage) == ("Original", Stage.REJECTED)


def test_bad_details_are_refused_per_field(db):
    vacancy = make_vacancy()
    with pytest.raises(ValidationError) as raised:
        services.submit_application(vacancy, details(email="not-an-email", age=99, phone="call me", name=""), None)
    assert {"email", "age", "phone", "name"} <= set(raised.value.errors)
    assert count(vacancy) == 0


def test_confirmation_makes_it_new_once_and_publishes(db):
    vacancy = make_vacancy()
    application = apply(vacancy)
    assert services.confirm(application) is True
    assert services.confirm(application) is False  # a second click changes nothing
    assert application.stage == Stage.NEW
    assert len(events_of(db, "hiring.application_confirmed", application.id)) == 1
    assert board_rows() == [application]


def test_an_expired_application_cannot_be_confirmed_and_is_purged(db):
    vacancy = make_vacancy()
    stale = apply(vacancy)
    fresh = apply(vacancy)
    kept = confirmed(vacancy)
    with time_machine.travel(utcnow() + timedelta(hours=49), tick=False):
        with pytest.raises(services.DecisionError):
            services.confirm(stale)
        services.purge_expired()
    remaining = set(db.session.scalars(select(Application.id).where(Application.vacancy_id == vacancy.id)))
    assert remaining == {kept.id}
    assert stale.id not in remaining and fresh.id not in remaining
    assert events_of(db, "hiring.unconfirmed_purged")


def test_links_name_one_application_and_expire(db, app):
    vacancy = make_vacancy()
    application = apply(vacancy)
    token = links.make_token(application, links.PAGE)
    assert links.application_for(token, links.PAGE).id == application.id
    with pytest.raises(links.LinkInvalid):
        links.application_for(token, links.CONFIRM)  # the purpose is signed too
    with pytest.raises(links.LinkInvalid):
        links.application_for(token[:-2] + "xx", links.PAGE)
    confirm_token = links.make_token(application, links.CONFIRM)
    with time_machine.travel(utcnow() + timedelta(hours=49), tick=False), pytest.raises(links.LinkInvalid):
        links.application_for(confirm_token, links.CONFIRM)
