"""Issue 4 item 8: the provider adapters. The sandbox never charges twice for a key (a replay gets
the first answer even after its settings changed), fails for chosen parties or at a deterministic
rate; the manual adapter sends nothing; the adapter follows the client's payment method."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.billing import providers
from app.billing.models import SandboxPayment
from app.platform.validation import ValidationError


def _rows(db) -> int:
    return db.session.scalar(select(func.count()).select_from(SandboxPayment))


def test_sandbox_repeated_key_returns_the_first_outcome_and_books_once(money):
    sandbox = providers.SandboxProvider()
    first = sandbox.charge(key="k:1", user_id=7, amount_cents=10_00, description="x")
    providers.set_sandbox([7], 0)
    money.session.commit()
    again = sandbox.charge(key="k:1", user_id=7, amount_cents=10_00, description="x")
    assert first == again and first.settled and first.reference.startswith("sbx_")
    with pytest.raises(providers.PaymentDeclined) as declined:
        sandbox.charge(key="k:2", user_id=7, amount_cents=10_00, description="x")
    assert "set to fail" in declined.value.message
    providers.set_sandbox([], 0)
    money.session.commit()
    with pytest.raises(providers.PaymentDeclined):  # the first answer for k:2 stands
        sandbox.charge(key="k:2", user_id=7, amount_cents=10_00, description="x")
    assert _rows(money) == 2


def test_sandbox_fail_rate_is_deterministic_per_key(money):
    sandbox = providers.SandboxProvider()
    providers.set_sandbox([], 50)
    money.session.commit()

    def outcome(key: str) -> bool:
        try:
            sandbox.payout(key=key, user_id=1, amount_cents=1, description="x")
            return True
        except providers.PaymentDeclined:
            return False

    answers = [outcome(f"rate:{n}") for n in range(40)]
    assert 5 < answers.count(False) < 35
    assert [outcome(f"rate:{n}") for n in range(40)] == answers
    providers.set_sandbox([], 100)
    money.session.commit()
    assert not outcome("rate:new")


def test_set_sandbox_validates(money):
    with pytest.raises(ValidationError) as refused:
        providers.set_sandbox(["abc", "-3"], 101)
    assert set(refused.value.errors) == {"fail_user_ids", "fail_rate"}
    setting = providers.set_sandbox("4, 2 4", "10")
    assert (setting.fail_user_ids, setting.fail_rate) == ([2, 4], 10)
    assert providers.sandbox_settings().id == setting.id


def test_adapter_follows_the_payment_method(money, app, monkeypatch):
    monkeypatch.setitem(app.config, "CLIENT_PAYMENT_PROVIDER", "card=sandbox,default=manual")
    assert providers.client_provider("card").name == "sandbox"
    assert providers.client_provider("bank_transfer").name == "manual"
    assert not providers.ManualProvider().charge(key="m", user_id=1, amount_cents=1, description="x").settled
    monkeypatch.setitem(app.config, "WORKER_PAYOUT_PROVIDER", "manual")
    assert providers.worker_provider().name == "manual"
    with pytest.raises(ValueError):
        providers.get_provider("paypal")


def test_issue12_the_sandbox_answers_after_the_managers_delay_spread_like_a_real_provider(money, app, monkeypatch):
    """The demo's setting: each answer after 50% to 150% of delay_ms (SANDBOX_DELAY_SECONDS, when set,
    wins); refused outside 0-10000 ms."""
    import time

    monkeypatch.setitem(app.config, "SANDBOX_DELAY_SECONDS", 0)
    providers.set_sandbox([], 0, 400)
    money.session.commit()
    sandbox = providers.SandboxProvider()
    started = time.monotonic()
    sandbox.charge(key="slow:1", user_id=7, amount_cents=10_00, description="x")
    assert 0.2 <= time.monotonic() - started < 1.5
    with pytest.raises(ValidationError) as refused:
        providers.set_sandbox([], 0, "20000")
    assert "delay_ms" in refused.value.errors
    money.session.rollback()
    providers.set_sandbox([], 0)  # the delay is kept when not given
    assert providers.sandbox_settings().delay_ms == 400


def test_issue12_a_slow_provider_moves_the_runs_progress_every_second(money, zone, app, monkeypatch):
    """Answers are recorded when a batch is full or a second has passed: with a slow provider the run's
    progress moves before its last answer (the demo's bar), not once at the end."""
    from app.billing.models import Invoice
    from app.billing.processes import payments
    from app.extensions import db
    from tests.support.factories import ClientFactory

    monkeypatch.setitem(app.config, "SANDBOX_DELAY_SECONDS", 0)
    clients = [ClientFactory() for _ in range(6)]
    invoices = [
        Invoice(
            party_kind="client",
            user_id=c.id,
            period_start=zone("UTC")(2024, 1, 1).date(),
            period_end=zone("UTC")(2024, 1, 8).date(),
            amount_cents=10_00,
            breakdown={},
            status="issued",
        )
        for c in clients
    ]
    db.session.add_all(invoices)
    providers.set_sandbox([], 0, 1000)
    db.session.commit()
    spreads = iter([0.5, 0.5, 0.5, 2.0, 2.0, 2.0])  # half answer at 0.5 s, half at 2 s
    monkeypatch.setattr(providers.random, "uniform", lambda low, high: next(spreads))
    steps: list[int] = []
    outcomes = payments.settle_many([i.id for i in invoices], concurrency=6, on_progress=steps.append)
    assert outcomes["paid"] == 6
    assert [s for s in steps if s] == [3, 3], "the first answers are recorded after a second, the rest at the end"


def test_sandbox_same_key_from_many_threads_books_once_with_one_answer(money, app):
    """The book is one statement on a connection of its own: calls racing on one key (a run and a
    concurrent run repeating a pending attempt) all get the first outcome, and it is booked once."""
    import threading

    providers.set_sandbox([], 50)
    money.session.commit()
    keys = [f"race:{n}" for n in range(6)]
    answers: dict[str, list] = {key: [] for key in keys}
    start = threading.Barrier(8)

    def call(key: str) -> None:
        with app.app_context():
            start.wait()
            try:
                answers[key].append(
                    providers.SandboxProvider().charge(key=key, user_id=5, amount_cents=1, description="x")
                )
            except providers.PaymentDeclined as declined:
                answers[key].append(("declined", declined.message, declined.reference))

    for key in keys:
        start.reset()
        threads = [threading.Thread(target=call, args=(key,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert all(len(got) == 8 and len(set(got)) == 1 for got in answers.values()), answers
    assert _rows(money) == len(keys)


def test_sandbox_answers_after_its_delay_counted_from_the_call(money, app, monkeypatch):
    """SANDBOX_DELAY_SECONDS is the provider's latency: the answer comes no sooner, and the sandbox's
    own book-keeping is inside it (a repeated key, whose book is a read, waits as long)."""
    import time

    monkeypatch.setitem(app.config, "SANDBOX_DELAY_SECONDS", 0.25)
    sandbox = providers.SandboxProvider()
    for _ in range(2):
        started = time.monotonic()
        sandbox.charge(key="late:1", user_id=3, amount_cents=1, description="x")
        assert 0.25 <= time.monotonic() - started < 2
