"""The hiring demo: two open vacancies, three tests of six questions, hundreds of past attempts,
about 30 applications over every stage (one ready to hire), and nobody mailed about them."""

from __future__ import annotations

from sqlalchemy import func, select

from app.events.models import Event, HandledEvent
from app.events.registry import consumers
from app.hiring.models import Application, HiringTest, Stage, TestScore, Vacancy
from tests.support.web import config_values


def test_demo_hiring(app, db, tmp_path):
    with config_values(app, UPLOAD_DIR=str(tmp_path)):
        result = app.test_cli_runner().invoke(args=["demo", "load"])
        assert result.exit_code == 0, result.output
        db.session.expire_all()
        vacancies = list(db.session.scalars(select(Vacancy)))
        assert len(vacancies) == 2 and all(v.is_open and v.tests for v in vacancies)
        tests = list(db.session.scalars(select(HiringTest)))
        assert len(tests) == 3 and all(len(test.questions) == 6 for test in tests)
        assert db.session.scalar(select(func.count()).select_from(TestScore)) >= 900
        stages = dict(db.session.execute(select(Application.stage, func.count()).group_by(Application.stage)).all())
        assert set(stages) == {stage.value for stage in Stage}
        assert 25 <= sum(stages.values()) <= 35
        ready = [a for a in db.session.scalars(select(Application).where(Application.stage == Stage.TESTS_DONE))]
        assert any(a.passed for a in ready), "one applicant is ready to hire"
        unhandled = db.session.scalar(
            select(func.count())
            .select_from(Event)
            .where(
                Event.type.in_([t for t in consumers["notifications"].event_types if t.startswith("hiring.")]),
                ~select(HandledEvent.event_id)
                .where(HandledEvent.event_id == Event.id, HandledEvent.consumer == "notifications")
                .exists(),
            )
        )
        assert unhandled == 0  # the notifications consumer will not mail the demo's applicants
