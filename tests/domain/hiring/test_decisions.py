"""US-120: hire makes exactly one worker with the tests' traits and the profile; reject is final."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.hiring import services
from app.hiring.models import Application, Stage
from tests.support.factories import ManagerFactory
from tests.support.hiring import confirmed, earlier_scores, make_test, make_vacancy, take_all
from tests.support.web import events_of


def workers_named(db, email: str) -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.email == email))


def test_us120_hire_creates_the_worker_with_profile_traits_and_invitation(db):
    strong, weak = make_test(trait="cleaning"), make_test(trait="cooking")
    earlier_scores(strong, [40.0] * 100)  # full marks rank at the top
    earlier_scores(weak, [100.0] * 100)  # nothing answered ranks at the bottom
    vacancy = make_vacancy([strong, weak])
    manager = ManagerFactory()
    application = confirmed(vacancy, name="Felix", breed="Bengal", coat_colour="spotted", age=4)
    application.photo_path = "applicants/felix.jpg"
    services.assign_tests(application, manager)
    first, second = application.assignments
    services.start_test(first)
    from tests.support.hiring import all_right_answers

    all_right_answers(first)
    services.submit_test(first)
    services.start_test(second)
    services.submit_test(second)
    worker = services.hire(application, manager)
    profile = worker.worker_profile
    assert (worker.name, worker.email) == ("Felix", application.email)
    assert (profile.age, profile.breed, profile.coat_colour, profile.photo_path) == (
        4,
        "Bengal",
        "spotted",
        "applicants/felix.jpg",
    )
    assert profile.strengths == ["cleaning"] and profile.weaknesses == ["cooking"]
    assert worker.has_role("worker") and not worker.has_password
    assert len(events_of(db, "account.invitation_sent", worker.id)) == 1
    hired = events_of(db, "hiring.hired", application.id)
    assert len(hired) == 1 and hired[0].payload["worker_id"] == worker.id


def test_us120_a_double_hire_makes_one_worker(db):
    vacancy = make_vacancy([make_test()])
    manager = ManagerFactory()
    application = confirmed(vacancy)
    take_all(application, manager)
    first = services.hire(application, manager)
    second = services.hire(application, ManagerFactory())
    assert first.id == second.id
    assert workers_named(db, application.email) == 1
    assert len(events_of(db, "hiring.hired", application.id)) == 1


def test_us120_a_rejected_applicant_cannot_be_hired_and_a_hired_one_not_rejected(db):
    vacancy = make_vacancy([make_test()])
    manager = ManagerFactory()
    rejected = confirmed(vacancy)
    take_all(rejected, manager)
    assert services.reject(rejected, manager, reason="Scratches furniture", message_to_applicant="") is True
    assert services.reject(rejected, manager, reason="again") is False
    with pytest.raises(services.DecisionError):
        services.hire(rejected, manager)
    assert rejected.stage == Stage.REJECTED and workers_named(db, rejected.email) == 0

    hired = confirmed(vacancy)
    take_all(hired, manager)
    services.hire(hired, manager)
    with pytest.raises(services.DecisionError):
        services.reject(hired, manager, reason="changed our mind")
    assert hired.stage == Stage.HIRED


def test_hire_waits_for_the_tests(db):
    vacancy = make_vacancy([make_test()])
    application = confirmed(vacancy)
    with pytest.raises(services.DecisionError):
        services.hire(application, ManagerFactory())


@pytest.mark.slow
def test_us120_two_managers_hiring_at_once_make_one_worker(app, committed_db):
    """Two sessions, two threads: the row lock makes the second see the first's hire."""
    db = committed_db
    vacancy = make_vacancy([make_test()])
    managers = [ManagerFactory(), ManagerFactory()]
    application = confirmed(vacancy)
    take_all(application, managers[0])
    db.session.commit()
    application_id, email = application.id, application.email
    manager_ids = [manager.id for manager in managers]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def hire(manager_id: int) -> None:
        try:
            with app.app_context():
                row = db.session.get(Application, application_id)
                manager = db.session.get(User, manager_id)
                barrier.wait()
                worker = services.hire(row, manager)
                db.session.commit()
                results.append(worker.id)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=hire, args=(manager_id,)) for manager_id in manager_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert len(set(results)) == 1
    db.session.remove()
    assert workers_named(db, email) == 1
