"""Issue 4 item 9 (US-220, US-230): runs are idempotent and catch up. Two runs at once, a run that
crashes between the provider's answer and recording it, a run killed with SIGKILL in a real
`worker.py` midway: each party invoiced once per period, each invoice charged at most once."""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import func, select

from app.billing.models import (
    AccountKind,
    BillingRun,
    Invoice,
    InvoiceStatus,
    PaymentAttempt,
    SandboxPayment,
    TransactionKind,
)
from app.billing.processes import payments, runs
from app.extensions import db
from app.platform.validation import ValidationError
from tests.support.billing_runs import (
    attempts_count,
    balance,
    bill,
    charge,
    count,
    earning,
    invoices,
    mail,
    payments_count,
    run_twice_at_once,
    sandbox_count,
)
from tests.support.factories import ClientFactory, ManagerFactory, WorkerFactory
from tests.support.pipeline import WorkerProcess, wait_until


def _every_invoice_charged_once(parties: int, kind: str = TransactionKind.PAYMENT) -> None:
    assert count(Invoice) == parties
    assert sandbox_count() == parties, "the provider was called once per invoice (per key)"
    assert payments_count(kind) == parties
    assert all(invoice.status == InvoiceStatus.PAID and invoice.attempts == 1 for invoice in invoices())
    assert attempts_count() == parties


def test_us220_two_runs_at_once_bill_and_charge_once(money, zone, app):
    local = zone("America/New_York")
    clients = [ClientFactory() for _ in range(12)]
    workers = [WorkerFactory() for _ in range(4)]
    for number, client in enumerate(clients, 1):
        charge(client, number * 1_00, local(2024, 3, 5, 10))
        charge(client, 50, local(2024, 3, 12, 10))
    for worker in workers:
        earning(worker, 10_00, local(2024, 3, 5, 10))
    money.session.commit()
    now = local(2024, 4, 1, 0, 5)
    bill(runs.DAILY_CLOSE, now)
    run_twice_at_once(app, now, 60)
    weekly = [i for i in invoices("client")]
    assert len(weekly) == 24 and len({(i.user_id, i.period_start) for i in weekly}) == 24
    assert sandbox_count() == 28 and payments_count() == 24 and payments_count(TransactionKind.PAYOUT) == 4
    assert all(i.status == InvoiceStatus.PAID for i in invoices())
    assert all(balance(AccountKind.CLIENT, client) == 0 for client in clients)
    # Both weeks are invoiced before either is charged: two of each, once each.
    assert all(sorted(mail(client)) == ["invoice_issued"] * 2 + ["payment_succeeded"] * 2 for client in clients)


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs, nothing is caught."""


def test_us220_a_run_dying_after_the_provider_answered_completes_without_a_second_charge(money, zone, monkeypatch):
    """The calls are concurrent and their answers recorded in batches: a run that dies while recording
    leaves every attempt of the batch pending (their keys committed before the calls); the next run
    repeats those keys and the provider, having charged each once, answers with its first outcome."""
    local = zone("UTC")
    clients = [ClientFactory() for _ in range(3)]
    for client in clients:
        charge(client, 15_00, local(2024, 1, 3))
    money.session.commit()
    now = local(2024, 1, 8, 1)
    real_record = payments.record_answers
    calls = []

    def record_then_die(answers, *args, **kwargs):
        calls.append(len(answers))
        raise Crash  # charged by the provider, the outcomes never recorded

    monkeypatch.setattr(payments, "record_answers", record_then_die)
    with pytest.raises(Crash):
        bill(runs.WEEKLY_CLIENTS, now)
    db.session.rollback()
    assert calls == [3]
    assert sandbox_count() == 3 and payments_count() == 0
    assert count(PaymentAttempt, PaymentAttempt.status == "pending") == 3
    monkeypatch.setattr(payments, "record_answers", real_record)

    bill(runs.WEEKLY_CLIENTS, now)  # the next run repeats the pending attempts' keys
    _every_invoice_charged_once(3)
    assert all(mail(client) == ["invoice_issued", "payment_succeeded"] for client in clients)


@pytest.fixture
def billing_worker(money, tmp_path):
    """Start `worker.py billing` subprocesses (stopped at the end, before the tables are emptied)."""
    started: list[WorkerProcess] = []

    def start(**env) -> WorkerProcess:
        environment = {**os.environ, **{key: str(value) for key, value in env.items()}}
        args = ["billing", "--no-cron", "--burst", "--name", f"billing-{len(started)}-{os.getpid()}"]
        worker = WorkerProcess(args, environment, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.mark.slow
def test_us220_us230_run_killed_with_sigkill_midway_completes_on_the_next_run(
    money, zone, billing_worker, app, monkeypatch
):
    """A real worker is SIGKILLed while the sandbox's answer is on its way (its book already written):
    the next run finds the pending attempt, repeats its key, and nothing is charged twice."""
    local = zone("Europe/Berlin")
    clients = [ClientFactory() for _ in range(4)]
    for number, client in enumerate(clients, 1):
        charge(client, number * 10_00, local(2024, 10, 23, 12))
    money.session.commit()
    now = local(2024, 10, 28, 0, 30)  # after the DST week ended
    bill(runs.DAILY_CLOSE, now)
    run = runs.start_run(runs.WEEKLY_CLIENTS, None, now=now)
    db.session.commit()

    # Four calls at once, each answered after 30 s: the worker is killed while they are in flight.
    worker = billing_worker(COMPANY_TIMEZONE="Europe/Berlin", SANDBOX_DELAY_SECONDS=30, BILLING_CONCURRENCY=4)
    wait_until(lambda: sandbox_count() >= 1, message=worker.log)
    worker.kill()

    assert count(Invoice) == 4 and payments_count() == 0
    assert count(PaymentAttempt, PaymentAttempt.status == "pending") == 4  # all keys committed before any call
    assert db.session.get(BillingRun, run.id).status == "running"
    with pytest.raises(ValidationError):  # the killed run still looks alive until it goes stale
        runs.start_run(runs.WEEKLY_CLIENTS, None)
    db.session.rollback()

    monkeypatch.setitem(app.config, "BILLING_RUN_STALE_SECONDS", 0)
    time.sleep(0.01)
    again = runs.start_run(runs.WEEKLY_CLIENTS, None, now=now)
    db.session.commit()
    assert db.session.get(BillingRun, run.id).status == "failed"
    finished = runs.execute(again.id, now)
    assert finished.status == "done"
    _every_invoice_charged_once(4)
    assert [i.amount_cents for i in invoices()] == [10_00, 20_00, 30_00, 40_00]
    assert all(mail(client) == ["invoice_issued", "payment_succeeded"] for client in clients)


@pytest.mark.slow
def test_us220_a_started_run_is_done_by_the_billing_queue(money, zone, billing_worker, app):
    """start_run enqueues after the commit; a real worker on the `billing` queue does the run."""
    local = zone("UTC")
    client = ClientFactory()
    charge(client, 8_00, local(2024, 1, 3))
    money.session.commit()
    now = local(2024, 1, 8, 1)
    run = runs.start_run(runs.DAILY_CLOSE, ManagerFactory(), now=now)
    db.session.commit()
    assert billing_worker(COMPANY_TIMEZONE="UTC").wait() == 0
    run2 = runs.start_run(runs.WEEKLY_CLIENTS, None, now=now)
    db.session.commit()
    worker = billing_worker(COMPANY_TIMEZONE="UTC")
    assert worker.wait() == 0, worker.log()
    db.session.rollback()
    assert db.session.get(BillingRun, run.id).status == "done"
    done = db.session.get(BillingRun, run2.id)
    assert (done.status, done.summary["invoices"], done.summary["paid"], done.done, done.total) == ("done", 1, 1, 2, 2)
    _every_invoice_charged_once(1)


def test_start_run_refuses_a_second_running_run_of_a_kind(money, app):
    manager = ManagerFactory()
    first = runs.start_run(runs.WEEKLY_CLIENTS, manager)
    db.session.commit()
    assert first.started_by_id == manager.id
    with pytest.raises(ValidationError) as refused:
        runs.start_run(runs.WEEKLY_CLIENTS, manager)
    assert "kind" in refused.value.errors
    db.session.rollback()
    runs.start_run(runs.MONTHLY_WORKERS, manager)  # another kind may run meanwhile
    with pytest.raises(ValidationError):
        runs.start_run("nonsense", manager)
    db.session.rollback()
    from app.platform.queues import get_queue

    jobs = get_queue("billing").get_jobs()
    assert [(job.func_name, job.args[0]) for job in jobs] == [(runs.EXECUTE_JOB, first.id)]


def test_the_periodic_check_starts_a_run_only_when_there_is_work(money, zone, app):
    """Checked every BILLING_CHECK_SECONDS: idle checks leave no run rows (time-machine travels)."""
    import time_machine

    from app.billing.jobs import check

    local = zone("UTC")
    with time_machine.travel(local(2024, 1, 10, 12), tick=False):
        assert check(runs.WEEKLY_CLIENTS) is None and check(runs.PAYMENT_RETRIES) is None
        assert check(runs.DAILY_CLOSE) is None, "no activity, nothing to close"
        client = ClientFactory()
        charge(client, 8_00, local(2024, 1, 3))  # last week: it has ended
        money.session.commit()
        assert check(runs.MONTHLY_WORKERS) is None
        assert check(runs.WEEKLY_CLIENTS) is None, "its days are not closed yet"
        close_run = check(runs.DAILY_CLOSE)
        assert close_run is not None
        db.session.rollback()
        runs.execute(close_run)
        assert check(runs.DAILY_CLOSE) is None
        weekly = check(runs.WEEKLY_CLIENTS)
        assert weekly is not None and check(runs.WEEKLY_CLIENTS) is None, "one is running already"
        db.session.rollback()
        runs.execute(weekly)
        assert check(runs.WEEKLY_CLIENTS) is None, "nothing left to do"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(BillingRun)) == 2
    assert db.session.scalar(select(func.count()).select_from(SandboxPayment)) == 1
