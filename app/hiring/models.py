"""Hiring tables: vacancies, the test bank, applications, their tests and answers, the contact log,
and the scores every percentile is ranked against (US-080, 081, 090, 110, 120)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.platform.clock import utcnow


class Stage(StrEnum):
    UNCONFIRMED = "unconfirmed"  # the applicant has not clicked the mail's link yet: managers never see it
    NEW = "new"
    CONTACTED = "contacted"
    TESTS_ASSIGNED = "tests_assigned"
    TESTS_DONE = "tests_done"
    HIRED = "hired"
    REJECTED = "rejected"


STAGE_LABELS = {
    Stage.UNCONFIRMED: "Unconfirmed",
    Stage.NEW: "New",
    Stage.CONTACTED: "Contacted",
    Stage.TESTS_ASSIGNED: "Tests assigned",
    Stage.TESTS_DONE: "Tests done",
    Stage.HIRED: "Hired",
    Stage.REJECTED: "Rejected",
}
BOARD_STAGES = [stage for stage in Stage if stage != Stage.UNCONFIRMED]
DECIDED = (Stage.HIRED, Stage.REJECTED)


class QuestionKind(StrEnum):
    SINGLE = "single"  # one choice
    MULTIPLE = "multiple"  # every correct choice and nothing else
    NUMBER = "number"  # a number, within the question's tolerance


class AssignmentStatus(StrEnum):
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"


def _check_in(column: str, values) -> str:
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


class Vacancy(db.Model):
    __tablename__ = "hiring_vacancies"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(160))
    description: Mapped[str] = mapped_column(Text, default="")
    is_open: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    tests: Mapped[list[VacancyTest]] = relationship(
        order_by="VacancyTest.position", cascade="all, delete-orphan", back_populates="vacancy"
    )


class HiringTest(db.Model):
    """A test of the bank: it measures one trait (the vocabulary of strengths and service skills)."""

    __tablename__ = "hiring_tests"
    __table_args__ = (
        CheckConstraint("time_limit_seconds > 0", name="time_limit_positive"),
        CheckConstraint("pass_mark_percent BETWEEN 0 AND 100", name="pass_mark_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    trait: Mapped[str] = mapped_column(String(60))
    time_limit_seconds: Mapped[int] = mapped_column(Integer, default=600)
    # The absolute pass mark, deciding while the test has too few attempts for a percentile.
    pass_mark_percent: Mapped[int] = mapped_column(Integer, default=70)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    questions: Mapped[list[Question]] = relationship(
        order_by="Question.position", cascade="all, delete-orphan", back_populates="test"
    )

    @property
    def max_points(self) -> int:
        return sum(question.points for question in self.questions)


class Question(db.Model):
    __tablename__ = "hiring_questions"
    __table_args__ = (
        CheckConstraint(_check_in("kind", [kind.value for kind in QuestionKind]), name="kind_known"),
        CheckConstraint("points > 0", name="points_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    test_id: Mapped[int] = mapped_column(ForeignKey("hiring_tests.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    choices: Mapped[list] = mapped_column(JSONB, default=list)  # the labels, for single and multiple
    # The correct answer: a list of choice indexes, or {"value": n, "tolerance": t} for a number.
    correct: Mapped[dict | list] = mapped_column(JSONB)
    points: Mapped[int] = mapped_column(Integer, default=1)

    test: Mapped[HiringTest] = relationship(back_populates="questions")


class VacancyTest(db.Model):
    """A vacancy's default test set, in order (US-110)."""

    __tablename__ = "hiring_vacancy_tests"

    vacancy_id: Mapped[int] = mapped_column(ForeignKey("hiring_vacancies.id", ondelete="CASCADE"), primary_key=True)
    test_id: Mapped[int] = mapped_column(ForeignKey("hiring_tests.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    vacancy: Mapped[Vacancy] = relationship(back_populates="tests")
    test: Mapped[HiringTest] = relationship()


class Application(db.Model):
    """One person's application to one vacancy: one row per (vacancy, email), whatever the retries."""

    __tablename__ = "hiring_applications"
    __table_args__ = (
        CheckConstraint(_check_in("stage", [stage.value for stage in Stage]), name="stage_known"),
        CheckConstraint("age IS NULL OR (age >= 0 AND age <= 40)", name="age_range"),
        UniqueConstraint("vacancy_id", "email"),
        # The board's question: confirmed applications by stage, newest first.
        Index("ix_hiring_applications_stage_created", "stage", "created_at"),
        # The global cap and the purge: unconfirmed rows by age.
        Index(
            "ix_hiring_applications_unconfirmed",
            "created_at",
            postgresql_where="stage = 'unconfirmed'",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vacancy_id: Mapped[int] = mapped_column(ForeignKey("hiring_vacancies.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))  # stored trimmed and lower-cased
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(40))
    age: Mapped[int | None] = mapped_column(Integer)
    breed: Mapped[str] = mapped_column(String(80), default="")
    coat_colour: Mapped[str] = mapped_column(String(80), default="")
    about: Mapped[str] = mapped_column(Text, default="")
    # The upload as received (checked only cheaply), until the intake job re-encodes it into photo_path.
    raw_photo_path: Mapped[str | None] = mapped_column(String(255))
    photo_path: Mapped[str | None] = mapped_column(String(255))
    stage: Mapped[str] = mapped_column(String(20), default=Stage.UNCONFIRMED)
    # Bumped when the details change: the intake job (photo, confirmation mail) runs once per version.
    version: Mapped[int] = mapped_column(Integer, default=1)
    processed_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reject_reason: Mapped[str] = mapped_column(Text, default="")  # for managers only
    reject_message: Mapped[str] = mapped_column(Text, default="")  # what the applicant is told, if anything
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), unique=True)
    # The set's result against everyone who took the same set (filled when the last test is scored).
    set_percent: Mapped[float | None] = mapped_column(Float)
    set_percentile: Mapped[float | None] = mapped_column(Float)
    set_rule: Mapped[str | None] = mapped_column(String(20))
    passed: Mapped[bool | None] = mapped_column(Boolean)

    vacancy: Mapped[Vacancy] = relationship()
    assignments: Mapped[list[TestAssignment]] = relationship(
        order_by="TestAssignment.position", cascade="all, delete-orphan", back_populates="application"
    )
    contacts: Mapped[list[ContactEntry]] = relationship(
        order_by="ContactEntry.contacted_at.desc()", cascade="all, delete-orphan", back_populates="application"
    )

    @property
    def is_decided(self) -> bool:
        return self.stage in DECIDED

    @property
    def stage_label(self) -> str:
        return STAGE_LABELS[Stage(self.stage)]


class TestAssignment(db.Model):
    """One test of one applicant's set (US-110), with its timer and its result (US-080)."""

    __tablename__ = "hiring_assignments"
    __test__ = False  # not a pytest class, whatever its name
    __table_args__ = (
        UniqueConstraint("application_id", "test_id"),
        CheckConstraint(_check_in("status", [status.value for status in AssignmentStatus]), name="status_known"),
        Index("ix_hiring_assignments_running", "deadline_at", postgresql_where="status = 'in_progress'"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("hiring_applications.id", ondelete="CASCADE"))
    test_id: Mapped[int] = mapped_column(ForeignKey("hiring_tests.id", ondelete="RESTRICT"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default=AssignmentStatus.ASSIGNED)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    points: Mapped[int | None] = mapped_column(Integer)
    max_points: Mapped[int | None] = mapped_column(Integer)
    percentile: Mapped[float | None] = mapped_column(Float)
    rule: Mapped[str | None] = mapped_column(String(20))  # "percentile" or "pass_mark"
    passed: Mapped[bool | None] = mapped_column(Boolean)

    application: Mapped[Application] = relationship(back_populates="assignments")
    test: Mapped[HiringTest] = relationship()
    answers: Mapped[list[Answer]] = relationship(cascade="all, delete-orphan", back_populates="assignment")

    @property
    def percent(self) -> float | None:
        if self.points is None or not self.max_points:
            return None
        return 100.0 * self.points / self.max_points


class Answer(db.Model):
    """An answer as given, saved the moment it is given; `in_time` is false for one after the deadline."""

    __tablename__ = "hiring_answers"

    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("hiring_assignments.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(ForeignKey("hiring_questions.id", ondelete="CASCADE"), primary_key=True)
    value: Mapped[dict | list | float | str | None] = mapped_column(JSONB)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    assignment: Mapped[TestAssignment] = relationship(back_populates="answers")


class TestScore(db.Model):
    """Every scored attempt at a test, the population its percentiles are ranked against.

    `assignment_id` is null for attempts from before this system (the demo's history).
    """

    __tablename__ = "hiring_test_scores"
    __test__ = False
    __table_args__ = (Index("ix_hiring_test_scores_test_percent", "test_id", "percent"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    test_id: Mapped[int] = mapped_column(ForeignKey("hiring_tests.id", ondelete="CASCADE"))
    percent: Mapped[float] = mapped_column(Float)
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("hiring_assignments.id", ondelete="SET NULL"), unique=True
    )
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SetScore(db.Model):
    """Every finished test set: `set_key` names the set (its test ids in order)."""

    __tablename__ = "hiring_set_scores"
    __table_args__ = (Index("ix_hiring_set_scores_key_percent", "set_key", "percent"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    set_key: Mapped[str] = mapped_column(String(200))
    percent: Mapped[float] = mapped_column(Float)
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("hiring_applications.id", ondelete="SET NULL"), unique=True
    )
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ContactEntry(db.Model):
    """US-090: a manager's call or message to an applicant: when, how, the outcome and notes."""

    __tablename__ = "hiring_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("hiring_applications.id", ondelete="CASCADE"), index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    contacted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    channel: Mapped[str] = mapped_column(String(20), default="call")
    outcome: Mapped[str] = mapped_column(String(120), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    # The form's one-time key: a double submit of one form logs the contact once.
    form_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    application: Mapped[Application] = relationship(back_populates="contacts")


Index("ix_hiring_applications_vacancy", Application.vacancy_id, Application.stage)
