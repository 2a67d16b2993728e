"""Helpers for the hiring tests: a vacancy with a test set, and applications at any stage."""

from __future__ import annotations

import io
import itertools
from datetime import timedelta

from PIL import Image
from sqlalchemy import select

from app.extensions import db
from app.hiring import services
from app.hiring.models import Application, HiringTest, Stage, TestScore
from app.platform.clock import utcnow

_numbers = itertools.count(1)

# (kind, text, choices, correct as a manager types it, points)
QUESTIONS = [
    ("single", "Which is a cleaning tool?", "Broom\nFish\nYarn", "1", 1),
    ("multiple", "Which are safe to eat?", "Tuna\nLilies\nChicken", "1, 3", 2),
    ("number", "How many paws have two cats?", "", "8", 1),
]


def make_test(name: str | None = None, trait: str = "cleaning", minutes: int = 10, pass_mark: int = 70) -> HiringTest:
    test = services.save_test(
        None,
        name=name or f"Test {next(_numbers)}",
        description="",
        trait=trait,
        time_limit_minutes=minutes,
        pass_mark_percent=pass_mark,
    )
    for kind, text, choices, correct, points in QUESTIONS:
        services.save_question(test, None, kind=kind, text=text, choices=choices, correct=correct, points=points)
    return test


def make_vacancy(tests: list[HiringTest] | None = None, title: str | None = None):
    number = next(_numbers)
    vacancy = services.save_vacancy(
        None, title=title or f"House cat {number}", slug=f"house-cat-{number}", description="Chores.", is_open=True
    )
    if tests:
        services.set_vacancy_tests(vacancy, [test.id for test in tests])
    return vacancy


def details(**overrides) -> dict:
    number = next(_numbers)
    return {
        "name": f"Applicant {number}",
        "email": f"applicant{number}@example.com",
        "phone": "+44 20 7946 0000",
        "age": 3,
        "breed": "Siamese",
        "coat_colour": "seal point",
        "about": "I love cleaning.",
        **overrides,
    }


def apply(vacancy, **overrides) -> Application:
    application_id = services.submit_application(vacancy, details(**overrides), None)
    db.session.flush()
    return db.session.get(Application, application_id)


def confirmed(vacancy, **overrides) -> Application:
    application = apply(vacancy, **overrides)
    services.confirm(application)
    return application


def all_right_answers(assignment) -> None:
    """Answer every question of the assignment's test correctly."""
    for question in assignment.test.questions:
        if question.kind == "number":
            value = str(question.correct["value"])
        else:
            value = list(question.correct)
        services.save_answer(assignment, question.id, value)


def take_all(application, manager, right: bool = True) -> None:
    """Assign the set and take every test (all right, or nothing answered)."""
    services.assign_tests(application, manager)
    for assignment in list(application.assignments):
        services.start_test(assignment)
        if right:
            all_right_answers(assignment)
        services.submit_test(assignment)


def earlier_scores(test: HiringTest, percents: list[float]) -> None:
    db.session.add_all(TestScore(test_id=test.id, percent=p, scored_at=utcnow() - timedelta(days=1)) for p in percents)
    db.session.flush()


def jpeg_bytes(size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, format="JPEG")
    return buffer.getvalue()


def board_rows() -> list[Application]:
    """What the managers' board can show: every confirmed application."""
    return list(db.session.scalars(select(Application).where(Application.stage != Stage.UNCONFIRMED)))
