"""Issue 11 point 2 (US-220, US-230): a run whose worker died shows as stalled as soon as its
heartbeat is older than BILLING_RUN_STALE_SECONDS (a few seconds beyond BILLING_HEARTBEAT_SECONDS,
not two minutes), and a manager resumes it: the same run continued by a new job, every invoice
still charged at most once."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.billing.models import BillingRun, Invoice, InvoiceStatus, PaymentAttempt
from app.billing.processes import runs
from app.extensions import db
from app.platform.clock import utcnow
from app.platform.queues import get_queue
from app.platform.validation import ValidationError
from tests.support.billing_runs import (
    attempts_count,
    bill,
    charge,
    count,
    invoices,
    mail,
    payments_count,
    sandbox_count,
)
from tests.support.factories import ClientFactory, ManagerFactory
from tests.support.fixtures import csrf_token, isolated_client, login
from tests.support.pipeline import WorkerProcess, wait_until


def _running(kind=runs.WEEKLY_CLIENTS, beat_ago: float = 0.0, **summary) -> BillingRun:
    run = BillingRun(kind=kind, status="running", summary=summary, heartbeat_at=utcnow() - timedelta(seconds=beat_ago))
    db.session.add(run)
    db.session.commit()
    return run


def test_a_run_is_stalled_a_few_seconds_after_its_heartbeat_stops_not_minutes(money, app):
    limit = app.config["BILLING_RUN_STALE_SECONDS"]
    assert app.config["BILLING_HEARTBEAT_SECONDS"] < limit <= app.config["BILLING_HEARTBEAT_SECONDS"] + 15
    alive, dead = _running(beat_ago=limit - 2), _running(runs.MONTHLY_WORKERS, beat_ago=limit + 1)
    assert not runs.is_stale(alive) and runs.is_stale(dead)
    done = BillingRun(kind=runs.DAILY_CLOSE, status="done", summary={}, heartbeat_at=utcnow() - timedelta(hours=1))
    assert not runs.is_stale(done)


def test_resume_refuses_a_live_or_finished_run_and_enqueues_the_same_run_after_the_commit(money, app):
    manager = ManagerFactory()
    alive = _running(beat_ago=1)
    with pytest.raises(ValidationError, match="alive"):
        runs.resume_run(alive.id, manager)
    db.session.rollback()
    finished = BillingRun(kind=runs.DAILY_CLOSE, status="done", summary={})
    db.session.add(finished)
    db.session.commit()
    with pytest.raises(ValidationError, match="only a stalled run"):
        runs.resume_run(finished.id, manager)
    db.session.rollback()
    with pytest.raises(ValidationError):
        runs.resume_run(999_999, manager)
    db.session.rollback()

    stalled = _running(runs.MONTHLY_WORKERS, beat_ago=60, as_of="2024-02-01T00:30:00+00:00")
    runs.resume_run(stalled.id, manager)
    assert get_queue("billing").get_jobs() == [], "nothing is enqueued before the commit"
    db.session.commit()
    jobs = get_queue("billing").get_jobs()
    assert [(job.func_name, job.args) for job in jobs] == [
        (runs.EXECUTE_JOB, (stalled.id, "2024-02-01T00:30:00+00:00"))
    ], "the same run, billing up to the moment it was started for"
    db.session.rollback()
    again = db.session.get(BillingRun, stalled.id)
    assert again.status == "running" and not runs.is_stale(again) and again.summary["resumed"] == 1


def test_a_resumed_run_finishes_what_was_left_and_charges_each_invoice_once(money, zone, monkeypatch, app):
    """The dead run had invoiced the week and committed the keys of its attempts (the provider may or
    may not have charged): the resumed run repeats those keys and records each outcome once."""
    from app.billing.processes import payments

    local = zone("America/New_York")
    clients = [ClientFactory() for _ in range(3)]
    for number, client in enumerate(clients, 1):
        charge(client, number * 10_00, local(2024, 3, 6, 10))
    db.session.commit()
    now = local(2024, 3, 11, 1)
    bill(runs.DAILY_CLOSE, now)

    class Died(BaseException):
        pass

    real = payments.record_answers
    monkeypatch.setattr(payments, "record_answers", lambda *a, **k: (_ for _ in ()).throw(Died()))
    run = runs.start_run(runs.WEEKLY_CLIENTS, None, now=now)
    db.session.commit()
    with pytest.raises(Died):
        runs.execute(run.id, now)
    db.session.rollback()
    monkeypatch.setattr(payments, "record_answers", real)
    # The process "died": its row still says running, its heartbeat stops.
    db.session.execute(
        BillingRun.__table__.update()
        .where(BillingRun.id == run.id)
        .values(status="running", error="", heartbeat_at=utcnow() - timedelta(seconds=60))
    )
    db.session.commit()
    assert sandbox_count() == 3 and count(PaymentAttempt, PaymentAttempt.status == "pending") == 3

    runs.resume_run(run.id, ManagerFactory())
    db.session.commit()
    finished = runs.execute(run.id, now)
    assert finished.status == "done" and finished.summary["resumed"] == 1
    assert sandbox_count() == 3 and payments_count() == 3 and attempts_count() == 3
    assert all(i.status == InvoiceStatus.PAID and i.attempts == 1 for i in invoices())
    assert all(mail(client) == ["invoice_issued", "payment_succeeded"] for client in clients)


def test_a_run_waiting_on_a_slow_provider_keeps_beating_and_holds_its_run(money, zone, app, monkeypatch):
    """The heartbeat comes from a thread of its own: a run whose provider answers after longer than
    the stale limit is never shown stalled; a second job for the same run does nothing meanwhile."""
    local = zone("UTC")
    client = ClientFactory()
    charge(client, 12_00, local(2024, 1, 3))
    db.session.commit()
    now = local(2024, 1, 8, 1)
    bill(runs.DAILY_CLOSE, now)
    monkeypatch.setitem(app.config, "BILLING_HEARTBEAT_SECONDS", 0.2)
    monkeypatch.setitem(app.config, "BILLING_RUN_STALE_SECONDS", 1)
    monkeypatch.setitem(app.config, "SANDBOX_DELAY_SECONDS", 3)
    run_id = _running().id  # the thread must not touch this session's objects
    errors, results = [], []

    def execute() -> None:
        try:
            with app.app_context():
                results.append(runs.execute(run_id, now).status)
        except Exception as error:  # reported below
            errors.append(error)

    thread = threading.Thread(target=execute)
    thread.start()
    wait_until(lambda: count(PaymentAttempt) == 1, message=lambda: f"no attempt began: {errors}")
    seen_stale = []
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        db.session.rollback()
        seen_stale.append(runs.is_stale(db.session.get(BillingRun, run_id)))
        time.sleep(0.1)
    # A second job for the same run (a resume clicked while it was alive after all) does nothing.
    assert runs.execute(run_id, now).status == "running"
    thread.join(30)
    assert errors == [] and results == ["done"]
    assert not any(seen_stale), "beating while the provider took 3 s"
    assert sandbox_count() == 1 and payments_count() == 1


@pytest.fixture
def billing_worker(money, tmp_path):
    started: list[WorkerProcess] = []

    def start(**env) -> WorkerProcess:
        environment = {**os.environ, **{key: str(value) for key, value in env.items()}}
        args = ["billing", "--no-cron", "--burst", "--name", f"billing-stall-{len(started)}-{os.getpid()}"]
        worker = WorkerProcess(args, environment, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.mark.slow
def test_a_worker_killed_mid_run_shows_stalled_and_the_manager_resumes_it_from_the_page(
    money, zone, billing_worker, app, monkeypatch
):
    """A real RQ worker is SIGKILLed while its calls are in flight: within BILLING_RUN_STALE_SECONDS the
    page and the progress fragment say "stalled" with a resume button; the manager's POST enqueues the
    run again, a new worker finishes it, and the provider charged each invoice once."""
    monkeypatch.setitem(app.config, "BILLING_RUN_STALE_SECONDS", 3)
    local = zone("Europe/Berlin")
    clients = [ClientFactory() for _ in range(5)]
    for number, client in enumerate(clients, 1):
        charge(client, number * 10_00, local(2024, 10, 23, 12))
    manager = ManagerFactory()
    db.session.commit()
    now = local(2024, 10, 28, 0, 30)
    bill(runs.DAILY_CLOSE, now)
    run = runs.start_run(runs.WEEKLY_CLIENTS, None, now=now)
    db.session.commit()
    env = {"COMPANY_TIMEZONE": "Europe/Berlin", "BILLING_HEARTBEAT_SECONDS": 0.5, "BILLING_RUN_STALE_SECONDS": 3}
    worker = billing_worker(SANDBOX_DELAY_SECONDS=30, BILLING_CONCURRENCY=5, **env)
    wait_until(lambda: sandbox_count() >= 1, message=worker.log)
    worker.kill()
    killed_at = time.monotonic()

    browser = isolated_client(app)
    login(browser, manager)
    fragment = f"/manage/billing/runs/{run.id}/progress"
    wait_until(lambda: "stalled" in browser.get(fragment).get_data(as_text=True), timeout=10, message=lambda: "")
    assert time.monotonic() - killed_at < 6, "stalled within the limit, not after two minutes"
    page = browser.get("/manage/billing").get_data(as_text=True)
    assert "stalled" in page and f"/manage/billing/runs/{run.id}/resume" in page
    assert count(PaymentAttempt, PaymentAttempt.status == "pending") == 5 and payments_count() == 0

    response = browser.post(
        f"/manage/billing/runs/{run.id}/resume", data={"csrf_token": csrf_token(browser, "/manage/billing")}
    )
    assert response.status_code == 303
    again = billing_worker(SANDBOX_DELAY_SECONDS=0, **env)
    assert again.wait() == 0, again.log()
    db.session.rollback()
    finished = db.session.get(BillingRun, run.id)
    assert (finished.status, finished.summary["resumed"]) == ("done", 1)
    assert sandbox_count() == 5 and payments_count() == 5 and attempts_count() == 5
    assert [i.amount_cents for i in invoices()] == [10_00, 20_00, 30_00, 40_00, 50_00]
    assert all(i.status == InvoiceStatus.PAID and i.attempts == 1 for i in invoices())
    assert db.session.scalars(select(Invoice.run_id).distinct()).all() == [run.id]
