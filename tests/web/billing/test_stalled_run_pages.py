"""Issue 11 point 2: /manage/billing shows a run whose heartbeat stopped as "stalled" at once (the page
and the progress fragment), with a resume button that only managers can use (POST, CSRF)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.billing.models import BillingRun
from app.billing.processes import runs
from app.extensions import db as database
from app.platform.clock import utcnow
from app.platform.queues import get_queue
from tests.support.fixtures import csrf_token


def _run(beat_ago: float) -> BillingRun:
    run = BillingRun(
        kind="weekly_clients", status="running", summary={}, heartbeat_at=utcnow() - timedelta(seconds=beat_ago)
    )
    database.session.add(run)
    database.session.flush()
    return run


def test_a_run_without_a_recent_heartbeat_is_stalled_on_the_page_and_in_its_fragment(db, people, as_user, app):
    manager = as_user(people["manager"])
    limit = app.config["BILLING_RUN_STALE_SECONDS"]
    alive, dead = _run(beat_ago=limit - 3), _run(beat_ago=limit + 1)
    page = manager.get("/manage/billing").get_data(as_text=True)
    assert page.count(">stalled<") == 1
    assert f"/manage/billing/runs/{dead.id}/resume" in page and f"/manage/billing/runs/{alive.id}/resume" not in page

    fragment = manager.get(f"/manage/billing/runs/{dead.id}/progress", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert ">stalled<" in body and "no heartbeat since" in body and "Resume run" in body
    assert 'hx-trigger="every 5s"' in body, "it keeps looking, slower, so a resumed run shows alive again"
    alive_body = manager.get(f"/manage/billing/runs/{alive.id}/progress").get_data(as_text=True)
    assert ">running<" in alive_body and 'hx-trigger="every 1s"' in alive_body and "Resume" not in alive_body


def test_a_manager_resumes_a_stalled_run_and_a_job_continues_it(db, people, as_user, app):
    manager = as_user(people["manager"])
    dead = _run(beat_ago=600)
    token = csrf_token(manager, "/manage/billing")
    assert manager.post(f"/manage/billing/runs/{dead.id}/resume", data={}).status_code == 400, "CSRF"
    response = manager.post(
        f"/manage/billing/runs/{dead.id}/resume", data={"csrf_token": token}, headers={"HX-Request": "true"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and ">running<" in body and "Resume" not in body
    run = database.session.scalar(select(BillingRun).where(BillingRun.id == dead.id))
    database.session.refresh(run)
    assert run.summary["resumed"] == 1 and not runs.is_stale(run)
    jobs = get_queue("billing").get_jobs()
    assert [(job.func_name, job.args[0]) for job in jobs] == [(runs.EXECUTE_JOB, dead.id)]

    again = manager.post(
        f"/manage/billing/runs/{dead.id}/resume", data={"csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert again.status_code == 409 and "needs no resuming" in again.get_data(as_text=True)
    assert len(get_queue("billing").get_jobs()) == 1
    plain = manager.post(f"/manage/billing/runs/{dead.id}/resume", data={"csrf_token": token})
    assert plain.status_code == 303
    assert manager.post("/manage/billing/runs/999999/resume", data={"csrf_token": token}).status_code == 404


def test_only_managers_resume_runs(db, people, as_user):
    dead = _run(beat_ago=600)
    for role in ("client", "worker"):
        browser = as_user(people[role])
        token = csrf_token(browser, "/")
        assert browser.post(f"/manage/billing/runs/{dead.id}/resume", data={"csrf_token": token}).status_code == 403
    assert get_queue("billing").get_jobs() == []
