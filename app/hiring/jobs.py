"""Hiring jobs: the intake of a new application (photo re-encoding, then the confirmation mail),
the purge of unconfirmed applications past their expiry, and scoring tests whose time ran out."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.hiring import services
from app.hiring.models import Application, TestAssignment
from app.platform.clock import utcnow
from app.platform.jobs import job
from app.platform.queues import enqueue
from app.platform.schedule import every
from app.platform.sweep import sweeper
from app.platform.unit_of_work import after_commit
from app.platform.uploads import discard_photo, reencode_stashed
from app.platform.validation import ValidationError

log = logging.getLogger(__name__)

INTAKE_JOB = "app.hiring.jobs.intake"
PHOTO_FOLDER = "applicants"


def enqueue_intake(application_id: int) -> None:
    """After the application's commit: its intake job (never before, never for a refused POST)."""
    after_commit(lambda: enqueue("default", INTAKE_JOB, application_id))


@job
def intake(application_id: int) -> bool:
    application = db.session.get(Application, application_id)
    if application is not None:
        services.lock(application)  # a duplicated job waits here, then finds the work done
    if application is None or application.processed_version >= application.version:
        db.session.rollback()
        return False
    photo_path, old_photo = None, application.photo_path
    if application.raw_photo_path:
        try:
            photo_path = reencode_stashed(application.raw_photo_path, PHOTO_FOLDER)
        except (ValidationError, FileNotFoundError):
            log.info("application %s: the photo could not be decoded; it goes on without one", application_id)
    done = services.process_intake(application, photo_path)
    db.session.commit()
    if done and photo_path and old_photo and old_photo != photo_path:
        discard_photo(old_photo)  # the later details won: the earlier photo is nobody's now
    return done


@sweeper("hiring intake")
def intake_pending(older_than: timedelta) -> list[tuple[str, str, tuple[int]]]:
    cutoff = utcnow() - older_than
    ids = db.session.scalars(
        select(Application.id).where(
            Application.processed_version < Application.version, Application.updated_at <= cutoff
        )
    )
    return [("default", INTAKE_JOB, (application_id,)) for application_id in ids]


@every("HIRING_PURGE_CHECK_SECONDS", name="hiring-purge")
@job
def purge_unconfirmed() -> int:
    files = services.purge_expired()
    db.session.commit()
    for path in files:
        discard_photo(path)
    return len(files)


@every("HIRING_TEST_CHECK_SECONDS", name="hiring-tests-timeout")
@job
def score_overdue_tests() -> int:
    """Tests whose time ran out while nobody was on the page are scored with what came in time."""
    scored = 0
    for assignment_id in services.overdue_assignments():
        assignment = db.session.get(TestAssignment, assignment_id)
        if assignment is not None and services.submit_test(assignment):
            scored += 1
        db.session.commit()
    return scored
