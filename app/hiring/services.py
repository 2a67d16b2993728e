"""Hiring services: vacancies and the test bank, applications from intake to decision, taking and
scoring tests (US-080, 090, 110, 120). Services flush and never commit; each step is a `hiring.*`
event in the same transaction (docs/events.md), and the notifications consumer mails from those.

Every step on an existing application locks its row first (`lock`), so two managers, a double
click or the test timer's job never decide or score one application twice at once.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from app.accounts import services as accounts
from app.accounts.models import User
from app.events import publish
from app.extensions import db
from app.hiring import scoring
from app.hiring.models import (
    DECIDED,
    Answer,
    Application,
    AssignmentStatus,
    ContactEntry,
    HiringTest,
    Question,
    QuestionKind,
    SetScore,
    Stage,
    TestAssignment,
    TestScore,
    Vacancy,
    VacancyTest,
)
from app.platform.clock import utcnow
from app.platform.validation import DuplicateError, FieldErrors, ValidationError

CONTACT_CHANNELS = {"call": "Phone call", "message": "Text message", "email": "Email", "meeting": "Meeting"}
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class DecisionError(ValidationError):
    """The application's stage does not allow the step (a decided one cannot be decided again)."""


class TimeUp(ValidationError):
    """An answer after the test's time limit: it does not count."""


def _payload(application: Application, **extra) -> dict:
    return {
        "application_id": application.id,
        "vacancy_id": application.vacancy_id,
        "email": application.email,
        "stage": application.stage,
        "at": utcnow().isoformat(),
        **extra,
    }


def _publish(event_type: str, application: Application, **extra) -> None:
    publish(event_type, "application", application.id, _payload(application, **extra))


def lock(application: Application) -> Application:
    """Take the application's row lock and reload it (events of one aggregate stay in commit order)."""
    db.session.flush()
    db.session.refresh(application, with_for_update=True)
    return application


def _text(errors: FieldErrors, field: str, value, max_length: int, required: bool = False) -> str:
    value = value if isinstance(value, str) else ("" if value is None else str(value))
    value = value.strip()
    if required and not value:
        errors.add(field, "This field is required.")
    if len(value) > max_length:
        errors.add(field, f"At most {max_length} characters.")
    if any(ord(char) < 32 and char not in "\r\n\t" for char in value):
        errors.add(field, "Control characters are not allowed.")
    return value


# ---------------------------------------------------------------- vacancies


def save_vacancy(vacancy: Vacancy | None, *, title, slug, description, is_open: bool = False) -> Vacancy:
    errors = FieldErrors()
    title = _text(errors, "title", title, 160, required=True)
    description = _text(errors, "description", description, 5000)
    slug = _text(errors, "slug", slug, 80).lower() or re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:80]
    if slug and not SLUG.match(slug):
        errors.add("slug", "Lower-case letters, digits and dashes only.")
    clash = db.session.scalar(
        select(Vacancy.id).where(Vacancy.slug == slug, Vacancy.id != (vacancy.id if vacancy else -1))
    )
    if clash is not None:
        errors.add("slug", "Another vacancy has this address.")
    errors.raise_if_any()
    created = vacancy is None
    if vacancy is None:
        vacancy = Vacancy()
        db.session.add(vacancy)
    vacancy.title, vacancy.slug, vacancy.description = title, slug, description
    vacancy.is_open = bool(is_open)
    db.session.flush()
    publish(
        "hiring.vacancy_saved",
        "vacancy",
        vacancy.id,
        {"vacancy_id": vacancy.id, "title": title, "slug": slug, "is_open": vacancy.is_open, "created": created},
    )
    return vacancy


def set_vacancy_open(vacancy: Vacancy, is_open: bool) -> None:
    if vacancy.is_open == is_open:
        return
    vacancy.is_open = is_open
    db.session.flush()
    publish(
        "hiring.vacancy_opened" if is_open else "hiring.vacancy_closed",
        "vacancy",
        vacancy.id,
        {"vacancy_id": vacancy.id, "title": vacancy.title},
    )


def _known_tests(test_ids: list[int]) -> list[int]:
    ids = []
    for test_id in test_ids:
        if test_id not in ids:
            ids.append(test_id)
    found = set(db.session.scalars(select(HiringTest.id).where(HiringTest.id.in_(ids)))) if ids else set()
    if set(ids) - found:
        raise ValidationError(tests="Choose tests from the bank.")
    return ids


def set_vacancy_tests(vacancy: Vacancy, test_ids: list[int]) -> None:
    """The vacancy's default test set, in this order (US-110)."""
    ids = _known_tests(test_ids)
    vacancy.tests = [VacancyTest(test_id=test_id, position=position) for position, test_id in enumerate(ids)]
    db.session.flush()
    publish("hiring.vacancy_tests_set", "vacancy", vacancy.id, {"vacancy_id": vacancy.id, "test_ids": ids})


def open_vacancies() -> list[Vacancy]:
    return list(db.session.scalars(select(Vacancy).where(Vacancy.is_open.is_(True)).order_by(Vacancy.title)))


# ---------------------------------------------------------------- the test bank


def save_test(
    test: HiringTest | None, *, name, description, trait, time_limit_minutes, pass_mark_percent
) -> HiringTest:
    errors = FieldErrors()
    name = _text(errors, "name", name, 120, required=True)
    description = _text(errors, "description", description, 2000)
    trait = _text(errors, "trait", trait, 60, required=True).lower()
    if not isinstance(time_limit_minutes, int) or not 1 <= time_limit_minutes <= 180:
        errors.add("time_limit_minutes", "Between 1 and 180 minutes.")
    if not isinstance(pass_mark_percent, int) or not 0 <= pass_mark_percent <= 100:
        errors.add("pass_mark_percent", "Between 0 and 100.")
    clash = db.session.scalar(
        select(HiringTest.id).where(
            func.lower(HiringTest.name) == name.lower(), HiringTest.id != (test.id if test else -1)
        )
    )
    if clash is not None:
        errors.add("name", "Another test has this name.")
    errors.raise_if_any()
    if test is None:
        test = HiringTest()
        db.session.add(test)
    test.name, test.description, test.trait = name, description, trait
    test.time_limit_seconds = time_limit_minutes * 60
    test.pass_mark_percent = pass_mark_percent
    db.session.flush()
    return test


def parse_correct(kind: str, choices: list[str], correct: str, errors: FieldErrors):
    """The correct answer typed by a manager: choice numbers ("1, 3") or a number and a tolerance."""
    raw = (correct or "").strip()
    if kind == QuestionKind.NUMBER:
        parts = [part for part in re.split(r"[\s;]+|±|\+-", raw.replace(",", ".")) if part]
        try:
            value = float(parts[0])
            tolerance = float(parts[1]) if len(parts) > 1 else 0.0
        except (IndexError, ValueError):
            errors.add("correct", "Type the number, optionally followed by a tolerance, e.g. 42 or 42 0.5.")
            return None
        if tolerance < 0:
            errors.add("correct", "The tolerance cannot be negative.")
        return {"value": value, "tolerance": tolerance}
    try:
        picked = sorted({int(part) - 1 for part in re.split(r"[\s,]+", raw) if part})
    except ValueError:
        errors.add("correct", "Type the numbers of the correct choices, e.g. 2 or 1, 3.")
        return None
    if not picked or any(not 0 <= index < len(choices) for index in picked):
        errors.add("correct", f"Choose among 1 to {len(choices)}.")
    elif kind == QuestionKind.SINGLE and len(picked) != 1:
        errors.add("correct", "A single-choice question has exactly one correct choice.")
    return picked


def save_question(test: HiringTest, question: Question | None, *, kind, text, choices, correct, points) -> Question:
    errors = FieldErrors()
    if kind not in {k.value for k in QuestionKind}:
        errors.add("kind", "Choose a kind.")
    text = _text(errors, "text", text, 2000, required=True)
    options = [line.strip() for line in (choices or "").splitlines() if line.strip()]
    if kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE) and len(options) < 2:
        errors.add("choices", "At least two choices, one per line.")
    if len(options) > 12 or any(len(option) > 300 for option in options):
        errors.add("choices", "At most 12 choices of 300 characters.")
    if not isinstance(points, int) or not 1 <= points <= 100:
        errors.add("points", "Between 1 and 100.")
    answer = parse_correct(kind, options, correct, errors) if kind in {k.value for k in QuestionKind} else None
    errors.raise_if_any()
    if question is None:
        position = db.session.scalar(
            select(func.coalesce(func.max(Question.position), -1)).where(Question.test_id == test.id)
        )
        question = Question(test=test, position=position + 1)
        db.session.add(question)
    question.kind, question.text, question.points = kind, text, points
    question.choices = options if kind != QuestionKind.NUMBER else []
    question.correct = answer
    db.session.flush()
    return question


def delete_question(question: Question) -> None:
    db.session.delete(question)
    db.session.flush()


# ---------------------------------------------------------------- applications: intake and opt-in


def check_application(fields: dict) -> dict:
    """The applicant's details, cleaned; every problem at once, keyed by field."""
    errors = FieldErrors()
    clean = {
        "name": _text(errors, "name", fields.get("name"), 120, required=True),
        "phone": _text(errors, "phone", fields.get("phone"), 40, required=True),
        "breed": _text(errors, "breed", fields.get("breed"), 80, required=True),
        "coat_colour": _text(errors, "coat_colour", fields.get("coat_colour"), 80, required=True),
        "about": _text(errors, "about", fields.get("about"), 2000),
    }
    clean["email"] = accounts.normalise_email(_text(errors, "email", fields.get("email"), 254, required=True))
    if clean["email"]:
        try:
            validate_email(clean["email"], check_deliverability=False)
        except EmailNotValidError as exc:
            errors.add("email", f"Not a valid email address: {exc}")
    if clean["phone"] and not re.fullmatch(r"\+?[0-9 ()./-]{6,40}", clean["phone"]):
        errors.add("phone", "Digits, spaces and + ( ) - only.")
    age = fields.get("age")
    if age in (None, ""):
        errors.add("age", "This field is required.")
    elif not isinstance(age, int) or isinstance(age, bool) or not 0 <= age <= 40:
        errors.add("age", "A whole number between 0 and 40.")
    clean["age"] = age if isinstance(age, int) else None
    errors.raise_if_any()
    return clean


def submit_application(vacancy: Vacancy, fields: dict, raw_photo_path: str | None) -> int | None:
    """Write the application: one statement, one row per (vacancy, email). Returns its id, or None
    when an application a manager already acted on stands as it is (the caller drops the upload).

    Applying again with the same email replaces the details while nobody has acted on the
    application yet (unconfirmed or new: the later details win); later, the row is left as it is.
    Only the intake job (photo, mail) follows, after the commit.
    """
    if not vacancy.is_open:
        raise ValidationError(vacancy="This vacancy is closed.")
    clean = check_application(fields)
    now = utcnow()
    expires = now + timedelta(hours=current_app.config["HIRING_CONFIRM_HOURS"])
    table = Application.__table__
    values = {**clean, "vacancy_id": vacancy.id, "raw_photo_path": raw_photo_path}
    statement = insert(table).values(
        **values,
        stage=Stage.UNCONFIRMED,
        version=1,
        processed_version=0,
        created_at=now,
        updated_at=now,
        expires_at=expires,
    )
    replace = {key: statement.excluded[key] for key in ("name", "phone", "age", "breed", "coat_colour", "about")}
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.vacancy_id, table.c.email],
        set_={
            **replace,
            "raw_photo_path": func.coalesce(statement.excluded.raw_photo_path, table.c.raw_photo_path),
            "version": table.c.version + 1,
            "updated_at": now,
        },
        where=table.c.stage.in_([Stage.UNCONFIRMED, Stage.NEW]),
    ).returning(table.c.id)
    return db.session.execute(statement).scalar()


def unconfirmed_last_hour() -> int:
    since = utcnow() - timedelta(hours=1)
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Application)
            .where(Application.stage == Stage.UNCONFIRMED, Application.created_at >= since)
        )
        or 0
    )


def process_intake(application: Application, photo_path: str | None) -> bool:
    """The intake job's step: the re-encoded photo is in, the confirmation mail is due (an event).

    Returns False when this version was processed already (a duplicated job changes nothing).
    """
    lock(application)
    if application.processed_version >= application.version:
        return False
    if photo_path is not None:
        application.photo_path = photo_path
    application.raw_photo_path = None
    application.processed_version = application.version
    db.session.flush()
    if application.stage == Stage.UNCONFIRMED:
        application.expires_at = utcnow() + timedelta(hours=current_app.config["HIRING_CONFIRM_HOURS"])
        _publish("hiring.application_submitted", application, version=application.version)
    else:
        _publish("hiring.application_updated", application, version=application.version)
    return True


def confirm(application: Application) -> bool:
    """Double opt-in: the applicant clicked the link; the application reaches the managers (new)."""
    lock(application)
    if application.stage != Stage.UNCONFIRMED:
        return False
    if application.expires_at is not None and application.expires_at < utcnow():
        raise DecisionError(link="This application expired before it was confirmed. You are welcome to apply again.")
    application.stage = Stage.NEW
    application.confirmed_at = utcnow()
    application.expires_at = None
    db.session.flush()
    _publish(
        "hiring.application_confirmed", application, vacancy_title=application.vacancy.title, name=application.name
    )
    return True


def purge_expired(now: datetime | None = None) -> list[str]:
    """Delete unconfirmed applications past their expiry; returns the files they leave behind."""
    now = now or utcnow()
    rows = db.session.execute(
        delete(Application)
        .where(Application.stage == Stage.UNCONFIRMED, Application.expires_at < now)
        .returning(Application.id, Application.photo_path, Application.raw_photo_path)
    ).all()
    if rows:
        publish("hiring.unconfirmed_purged", "hiring", "purge", {"count": len(rows), "at": now.isoformat()})
    return [path for row in rows for path in (row.photo_path, row.raw_photo_path) if path]


# ---------------------------------------------------------------- managers' steps


def _not_decided(application: Application) -> None:
    if application.stage in DECIDED:
        raise DecisionError(stage=f"This application was {application.stage} already.")
    if application.stage == Stage.UNCONFIRMED:
        raise DecisionError(stage="The applicant has not confirmed their email yet.")


def record_contact(
    application: Application,
    manager: User,
    *,
    contacted_at,
    channel,
    outcome,
    notes,
    message_to_applicant: str = "",
    form_key: str | None = None,
) -> ContactEntry:
    """US-090: log a call or message; a new application becomes contacted. The applicant is mailed
    only when the manager writes them a message."""
    lock(application)
    if form_key:
        done = db.session.scalar(select(ContactEntry).where(ContactEntry.form_key == form_key))
        if done is not None:  # the same form sent twice
            return done
    errors = FieldErrors()
    if channel not in CONTACT_CHANNELS:
        errors.add("channel", "Choose how.")
    outcome = _text(errors, "outcome", outcome, 120, required=True)
    notes = _text(errors, "notes", notes, 4000)
    message = _text(errors, "message", message_to_applicant, 2000)
    if contacted_at is None:
        contacted_at = utcnow()
    elif contacted_at > utcnow() + timedelta(minutes=5):
        errors.add("contacted_at", "Not in the future.")
    errors.raise_if_any()
    _not_decided(application)
    entry = ContactEntry(
        application=application,
        manager_id=manager.id,
        contacted_at=contacted_at,
        channel=channel,
        outcome=outcome,
        notes=notes,
        form_key=form_key or None,
    )
    db.session.add(entry)
    if application.stage == Stage.NEW:
        application.stage = Stage.CONTACTED
    db.session.flush()
    _publish(
        "hiring.contacted", application, contact_id=entry.id, channel=channel, by_user_id=manager.id, message=message
    )
    return entry


def assign_tests(application: Application, manager: User) -> bool:
    """US-090/110: give the applicant their test set (the vacancy's, unless changed for them) and
    mail the link. Assigning again after that changes nothing (False)."""
    lock(application)
    _not_decided(application)
    if application.stage in (Stage.TESTS_ASSIGNED, Stage.TESTS_DONE):
        return False
    if not application.assignments:
        for position, link in enumerate(application.vacancy.tests):
            application.assignments.append(TestAssignment(test_id=link.test_id, position=position))
    if not application.assignments:
        raise DecisionError(tests="Give this vacancy or this applicant at least one test first.")
    application.stage = Stage.TESTS_ASSIGNED
    db.session.flush()
    _publish(
        "hiring.tests_assigned",
        application,
        by_user_id=manager.id,
        test_ids=[assignment.test_id for assignment in application.assignments],
    )
    return True


def applicant_test_ids(application: Application) -> list[int]:
    """The applicant's set: their own once changed or assigned, else the vacancy's default."""
    if application.assignments:
        return [assignment.test_id for assignment in application.assignments]
    return [link.test_id for link in application.vacancy.tests]


def set_applicant_tests(application: Application, test_ids: list[int], manager: User) -> None:
    """US-110: change one applicant's set (add, remove, reorder) without touching the vacancy's.

    A test the applicant started or finished stays in the set.
    """
    lock(application)
    _not_decided(application)
    ids = _known_tests(test_ids)
    existing = {assignment.test_id: assignment for assignment in application.assignments}
    kept_started = [a.test_id for a in application.assignments if a.status != AssignmentStatus.ASSIGNED]
    missing = [test_id for test_id in kept_started if test_id not in ids]
    if missing:
        raise DecisionError(tests="A test the applicant has started or finished cannot be removed.")
    for test_id, assignment in list(existing.items()):
        if test_id not in ids:
            application.assignments.remove(assignment)
    db.session.flush()
    for position, test_id in enumerate(ids):
        assignment = existing.get(test_id)
        if assignment is None:
            assignment = TestAssignment(test_id=test_id)
            application.assignments.append(assignment)
        assignment.position = position
    if application.stage == Stage.TESTS_DONE and any(
        a.status != AssignmentStatus.SUBMITTED for a in application.assignments
    ):
        application.stage = Stage.TESTS_ASSIGNED
    db.session.flush()
    _publish("hiring.test_set_changed", application, test_ids=ids, by_user_id=manager.id)
    if application.stage == Stage.TESTS_ASSIGNED and ids:
        _finish_set_if_done(application)


def remind(application: Application, manager: User) -> None:
    lock(application)
    if application.stage != Stage.TESTS_ASSIGNED:
        raise DecisionError(stage="Only an applicant with tests to take can be reminded.")
    _publish("hiring.reminded", application, by_user_id=manager.id)


def reject(application: Application, manager: User, *, reason, message_to_applicant="") -> bool:
    """US-120: reject, with a reason for managers and, if written, a message for the applicant.
    Rejecting again changes nothing (False); a hired applicant cannot be rejected."""
    lock(application)
    if application.stage == Stage.REJECTED:
        return False
    _not_decided(application)
    errors = FieldErrors()
    reason = _text(errors, "reason", reason, 2000, required=True)
    message = _text(errors, "message", message_to_applicant, 2000)
    errors.raise_if_any()
    application.stage = Stage.REJECTED
    application.decided_at = utcnow()
    application.decided_by_id = manager.id
    application.reject_reason, application.reject_message = reason, message
    db.session.flush()
    _publish("hiring.rejected", application, by_user_id=manager.id, message=message)
    return True


def hire(application: Application, manager: User) -> User:
    """US-120: the applicant becomes a worker (profile, traits from the tests, invitation mail).

    Idempotent: hiring a hired applicant returns their worker; a rejected one cannot be hired.
    """
    lock(application)
    if application.stage == Stage.HIRED:
        return db.session.get(User, application.worker_id)
    _not_decided(application)
    if application.stage != Stage.TESTS_DONE:
        raise DecisionError(stage="Hire once the applicant has finished their tests.")
    strengths, weaknesses = traits_of(application)
    try:
        worker = accounts.create_worker(
            application.email,
            application.name,
            application.age,
            application.breed,
            application.coat_colour,
            strengths,
            weaknesses,
            photo_path=application.photo_path,
        )
    except DuplicateError:
        raise DecisionError(email="A person with this email has an account already.") from None
    application.stage = Stage.HIRED
    application.worker_id = worker.id
    application.decided_at = utcnow()
    application.decided_by_id = manager.id
    db.session.flush()
    _publish(
        "hiring.hired",
        application,
        by_user_id=manager.id,
        worker_id=worker.id,
        strengths=strengths,
        weaknesses=weaknesses,
    )
    return worker


def traits_of(application: Application) -> tuple[list[str], list[str]]:
    config = current_app.config
    results = [
        (a.test.trait, a.rule, a.percentile, a.passed)
        for a in application.assignments
        if a.status == AssignmentStatus.SUBMITTED
    ]
    return scoring.traits_from_results(
        results,
        strength_percentile=config["HIRING_STRENGTH_PERCENTILE"],
        weakness_percentile=config["HIRING_WEAKNESS_PERCENTILE"],
    )


# ---------------------------------------------------------------- taking tests


def next_assignment(application: Application) -> TestAssignment | None:
    """The test to take now: the one in progress, else the first not taken yet (one at a time)."""
    for assignment in application.assignments:
        if assignment.status == AssignmentStatus.IN_PROGRESS:
            return assignment
    for assignment in application.assignments:
        if assignment.status == AssignmentStatus.ASSIGNED:
            return assignment
    return None


def start_test(assignment: TestAssignment, now: datetime | None = None) -> None:
    """Start the timer (the server's clock decides; the page only shows what is left)."""
    application = lock(assignment.application)
    db.session.refresh(assignment)
    if application.stage != Stage.TESTS_ASSIGNED:
        raise DecisionError(stage="There is no test to take now.")
    if assignment.status != AssignmentStatus.ASSIGNED:
        return
    current = next_assignment(application)
    if current is not None and current.id != assignment.id:
        raise DecisionError(test="Take the tests one at a time, in order.")
    now = now or utcnow()
    assignment.status = AssignmentStatus.IN_PROGRESS
    assignment.started_at = now
    assignment.deadline_at = now + timedelta(seconds=assignment.test.time_limit_seconds)
    db.session.flush()
    _publish(
        "hiring.test_started",
        application,
        assignment_id=assignment.id,
        test_id=assignment.test_id,
        deadline_at=assignment.deadline_at.isoformat(),
    )


def save_answer(assignment: TestAssignment, question_id: int, value, now: datetime | None = None) -> Answer:
    """Save an answer the moment it is given (a reload resumes). After the deadline it does not
    count: the test is scored with what came in time, and TimeUp is raised."""
    now = now or utcnow()
    if assignment.status != AssignmentStatus.IN_PROGRESS:
        raise TimeUp(answer="This test is finished.")
    if assignment.deadline_at is not None and now > assignment.deadline_at:
        submit_test(assignment, now)
        raise TimeUp(answer="The time for this test is up; answers after the limit do not count.")
    if question_id not in {question.id for question in assignment.test.questions}:
        raise ValidationError(answer="No such question in this test.")
    statement = insert(Answer.__table__).values(
        assignment_id=assignment.id, question_id=question_id, value=value, answered_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=["assignment_id", "question_id"], set_={"value": value, "answered_at": now}
    )
    db.session.execute(statement)
    db.session.expire(assignment, ["answers"])
    return db.session.get(Answer, (assignment.id, question_id))


def submit_test(assignment: TestAssignment, now: datetime | None = None) -> bool:
    """Score the test (on submit, or when its time ran out); False if it was scored already."""
    application = lock(assignment.application)
    db.session.refresh(assignment)
    if assignment.status == AssignmentStatus.SUBMITTED:
        return False
    if assignment.status == AssignmentStatus.ASSIGNED:
        raise DecisionError(test="This test has not been started.")
    now = now or utcnow()
    deadline = assignment.deadline_at
    given = {answer.question_id: answer for answer in assignment.answers}
    points = 0
    for question in assignment.test.questions:
        answer = given.get(question.id)
        if answer is None or (deadline is not None and answer.answered_at > deadline):
            continue
        if scoring.is_correct(question.kind, question.correct, answer.value):
            points += question.points
    max_points = assignment.test.max_points
    percent = scoring.round_percent(points, max_points)
    below, equal, total = _counts(TestScore.test_id == assignment.test_id, TestScore.percent, percent)
    config = current_app.config
    result = scoring.verdict(
        percent,
        below,
        equal,
        total,
        top_percent=config["HIRING_TOP_PERCENT"],
        min_attempts=config["HIRING_MIN_ATTEMPTS"],
        pass_mark_percent=assignment.test.pass_mark_percent,
    )
    assignment.status = AssignmentStatus.SUBMITTED
    assignment.submitted_at = min(now, deadline) if deadline else now
    assignment.points, assignment.max_points = points, max_points
    assignment.percentile, assignment.rule, assignment.passed = result.percentile, result.rule, result.passed
    db.session.add(TestScore(test_id=assignment.test_id, percent=percent, assignment_id=assignment.id, scored_at=now))
    db.session.flush()
    _publish(
        "hiring.test_submitted",
        application,
        assignment_id=assignment.id,
        test_id=assignment.test_id,
        points=points,
        max_points=max_points,
        percentile=result.percentile,
        rule=result.rule,
        passed=result.passed,
    )
    _finish_set_if_done(application)
    return True


def _counts(condition, column, value: float) -> tuple[int, int, int]:
    """(below, equal, total) of the earlier scores matching `condition`, in one statement."""
    row = db.session.execute(
        select(
            func.count().filter(column < value),
            func.count().filter(column == value),
            func.count(),
        ).where(condition)
    ).one()
    return row[0], row[1], row[2]


def set_key(application: Application) -> str:
    return ",".join(str(assignment.test_id) for assignment in application.assignments)


def _finish_set_if_done(application: Application) -> None:
    """When the last test is scored: the set's result against everyone who took the same set."""
    if application.stage != Stage.TESTS_ASSIGNED or not application.assignments:
        return
    if any(a.status != AssignmentStatus.SUBMITTED for a in application.assignments):
        return
    points = sum(a.points or 0 for a in application.assignments)
    max_points = sum(a.max_points or 0 for a in application.assignments)
    percent = scoring.round_percent(points, max_points)
    key = set_key(application)
    below, equal, total = _counts(SetScore.set_key == key, SetScore.percent, percent)
    config = current_app.config
    if total < config["HIRING_MIN_ATTEMPTS"]:
        # Too few earlier sets to rank against: the set passes when every test passed by its own rule.
        percentile = scoring.percentile_from_counts(below, equal, total) if total else None
        result = scoring.Verdict(all(a.passed for a in application.assignments), scoring.PASS_MARK, percentile)
    else:
        result = scoring.verdict(
            percent,
            below,
            equal,
            total,
            top_percent=config["HIRING_TOP_PERCENT"],
            min_attempts=config["HIRING_MIN_ATTEMPTS"],
            pass_mark_percent=100.0,
        )
    existing = db.session.scalar(select(SetScore).where(SetScore.application_id == application.id))
    if existing is not None:  # the set was changed after it was finished once: the newer result counts
        db.session.delete(existing)
        db.session.flush()
    db.session.add(SetScore(set_key=key, percent=percent, application_id=application.id))
    application.set_percent, application.set_percentile = percent, result.percentile
    application.set_rule, application.passed = result.rule, result.passed
    application.stage = Stage.TESTS_DONE
    db.session.flush()
    _publish(
        "hiring.tests_done",
        application,
        set_key=key,
        percent=percent,
        percentile=result.percentile,
        rule=result.rule,
        passed=result.passed,
    )


def overdue_assignments(now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(TestAssignment.id).where(
                TestAssignment.status == AssignmentStatus.IN_PROGRESS, TestAssignment.deadline_at < now
            )
        )
    )
