"""Payment providers behind one adapter interface.

An adapter charges a client or pays out a worker, each call with an idempotency key: it returns a
`ProviderResult` (settled, with the provider's reference) or raises `PaymentDeclined`. Repeating a
key must never move money twice; the real providers promise that, and the sandbox keeps its own
book (`SandboxPayment`) to keep the promise here.

- `sandbox`: stands in for the client's card/bank and for Golden Hat. It fails for the user ids in
  `SandboxSetting.fail_user_ids`, or for `fail_rate` percent of keys (decided from the key, so a
  replay gets the same answer). Its book is written outside the caller's transaction, as a real
  provider's would be: a caller killed after the call still finds the first outcome on its retry.
- `manual`: nothing is sent; the invoice waits for a manager (`payments.mark_paid_manually`).

Which adapter: CLIENT_PAYMENT_PROVIDER / WORKER_PAYOUT_PROVIDER, either one name ("sandbox") or per
client payment method ("card=sandbox,bank_transfer=manual", any method not listed uses "default=").
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Engine, select, text

from app.billing.models import SandboxSetting
from app.extensions import db
from app.platform.clock import utcnow
from app.platform.validation import FieldErrors

CHARGE = "charge"
PAYOUT = "payout"


class PaymentDeclined(Exception):
    """The provider refused the payment; the message is safe to show to the party."""

    def __init__(self, message: str, reference: str = ""):
        super().__init__(message)
        self.message = message
        self.reference = reference


@dataclass(frozen=True)
class ProviderResult:
    reference: str
    settled: bool = True  # False: nothing was sent, a manager settles it (the manual adapter)


class PaymentProvider:
    """The adapter interface."""

    name = ""
    automatic = True  # False: nothing is sent, the invoice waits for a manager

    def charge(self, *, key: str, user_id: int, amount_cents: int, description: str) -> ProviderResult:
        raise NotImplementedError

    def payout(self, *, key: str, user_id: int, amount_cents: int, description: str) -> ProviderResult:
        raise NotImplementedError


class ManualProvider(PaymentProvider):
    name = "manual"
    automatic = False

    def charge(self, *, key: str, user_id: int, amount_cents: int, description: str) -> ProviderResult:
        return ProviderResult(reference="", settled=False)

    payout = charge


class SandboxProvider(PaymentProvider):
    name = "sandbox"

    def charge(self, *, key: str, user_id: int, amount_cents: int, description: str) -> ProviderResult:
        return self._call(CHARGE, key, user_id, amount_cents)

    def payout(self, *, key: str, user_id: int, amount_cents: int, description: str) -> ProviderResult:
        return self._call(PAYOUT, key, user_id, amount_cents)

    def _call(self, operation: str, key: str, user_id: int, amount_cents: int) -> ProviderResult:
        called_at = time.monotonic()
        digest = hashlib.sha256(key.encode()).hexdigest()
        first = _record_once(
            {
                "key": key,
                "operation": operation,
                "user_id": user_id,
                "user_id_text": str(user_id),
                "amount_cents": amount_cents,
                # A replay of the key draws the same number, so a random failure is repeatable.
                "roll": int(digest[:8], 16) % 100,
                "reference": f"sbx_{digest[:20]}",
                "now": utcnow(),
            }
        )
        # The provider answers SANDBOX_DELAY_SECONDS after the call (no connection of ours is held
        # meanwhile): like a real provider's, the sandbox's own book-keeping is part of that latency,
        # not added to it. A book slower than the delay makes the answer that much later.
        delay = float(current_app.config.get("SANDBOX_DELAY_SECONDS") or 0)
        if not delay and first.delay_ms:  # the managers' setting: answers spread like a real provider's
            delay = first.delay_ms / 1000 * random.uniform(0.5, 1.5)
        remaining = delay - (time.monotonic() - called_at)
        if remaining > 0:
            time.sleep(remaining)
        if not first.succeeded:
            raise PaymentDeclined(first.error, reference=first.reference)
        return ProviderResult(reference=first.reference)


@dataclass(frozen=True)
class _Booked:
    succeeded: bool
    error: str
    reference: str
    delay_ms: int = 0


# The sandbox's whole book-keeping for a call in one statement (one round trip, committed on its
# own): decide from the settings, insert the key's row once, and answer with the row that holds the
# key. Both halves of the UNION read one snapshot: a new row comes back from the INSERT's RETURNING,
# a key booked before comes from the table.
_BOOK = text(
    """
    WITH setting AS (
        SELECT fail_user_ids, fail_rate, delay_ms FROM sandbox_settings ORDER BY id LIMIT 1
    ),
    decided AS (
        SELECT CASE
                   WHEN EXISTS (SELECT 1 FROM jsonb_array_elements_text(COALESCE(s.fail_user_ids, '[]'::jsonb)) v
                                WHERE v = :user_id_text)
                       THEN 'Declined by the sandbox (this party is set to fail).'
                   WHEN :roll < COALESCE(s.fail_rate, 0)
                       THEN 'Declined by the sandbox (random failure at ' || s.fail_rate || '%).'
                   ELSE ''
               END AS error
        FROM (SELECT 1) one LEFT JOIN setting s ON true
    ),
    booked AS (
        INSERT INTO sandbox_payments (idempotency_key, operation, user_id, amount_cents, succeeded, error,
                                      reference, created_at)
        SELECT :key, :operation, :user_id, :amount_cents, error = '', error, :reference, :now FROM decided
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING succeeded, error, reference
    )
    SELECT succeeded, error, reference, (SELECT delay_ms FROM setting) FROM booked
    UNION ALL
    SELECT succeeded, error, reference, (SELECT delay_ms FROM setting) FROM sandbox_payments
    WHERE idempotency_key = :key
    """
)
_FIRST = text(
    "SELECT succeeded, error, reference, (SELECT delay_ms FROM sandbox_settings ORDER BY id LIMIT 1)"
    " FROM sandbox_payments WHERE idempotency_key = :key"
)


def _record_once(values: dict) -> _Booked:
    """Book the call once per key and return the FIRST outcome (a repeated key gets it back).

    On a connection of its own in autocommit (the row is durable before the sandbox's delay, and
    the connection is given back before it) when the session is bound to the engine; a session
    bound to one connection (the rollback-per-test fixture) shares that connection.
    """

    def book(execute) -> _Booked:
        row = execute(_BOOK, values).first()
        if row is None:
            # The key's first booking was still in flight when our statement took its snapshot:
            # the INSERT waited for it and skipped; it is committed now.
            row = execute(_FIRST, {"key": values["key"]}).one()
        succeeded, error, reference, delay_ms = row
        return _Booked(succeeded, error, reference, delay_ms or 0)

    bind = db.session.get_bind()
    if isinstance(bind, Engine):
        with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return book(connection.execute)
    return book(db.session.execute)


ADAPTERS: dict[str, type[PaymentProvider]] = {"sandbox": SandboxProvider, "manual": ManualProvider}


def _choose(setting: str, method: str | None) -> str:
    setting = (setting or "sandbox").strip()
    if "=" not in setting:
        return setting
    choices = dict(part.strip().split("=", 1) for part in setting.split(",") if "=" in part)
    return choices.get(method or "", choices.get("default", "sandbox")).strip()


def get_provider(name: str) -> PaymentProvider:
    try:
        return ADAPTERS[name]()
    except KeyError:
        raise ValueError(f"unknown payment provider {name!r} (known: {', '.join(ADAPTERS)})") from None


def client_provider(payment_method: str | None) -> PaymentProvider:
    """The adapter for a client's chosen payment method (ClientProfile.payment_method)."""
    return get_provider(_choose(current_app.config["CLIENT_PAYMENT_PROVIDER"], payment_method))


def worker_provider() -> PaymentProvider:
    """Golden Hat (US-230): the sandbox stands in for it unless configured otherwise."""
    return get_provider(_choose(current_app.config["WORKER_PAYOUT_PROVIDER"], None))


# ---------------------------------------------------------------- sandbox settings (pages, tests)


def sandbox_settings(create: bool = True) -> SandboxSetting | None:
    """The one settings row (created with no failures when missing, if `create`)."""
    setting = db.session.scalar(select(SandboxSetting).order_by(SandboxSetting.id).limit(1))
    if setting is None and create:
        setting = SandboxSetting(fail_user_ids=[], fail_rate=0, delay_ms=0)
        db.session.add(setting)
        db.session.flush()
    return setting


def set_sandbox(fail_user_ids, fail_rate, delay_ms=None) -> SandboxSetting:
    """Make the sandbox fail for these user ids and/or at this percent rate (0-100), and answer after
    about `delay_ms` (0-10000; None keeps it). Flushes only."""
    errors = FieldErrors()
    ids: list[int] = []
    if isinstance(fail_user_ids, str):
        fail_user_ids = fail_user_ids.replace(",", " ").split()
    for value in fail_user_ids or []:
        try:
            number = int(str(value).strip())
        except ValueError:
            errors.add("fail_user_ids", f"{value!r} is not a user id.")
            continue
        if number <= 0:
            errors.add("fail_user_ids", f"{value!r} is not a user id.")
        elif number not in ids:
            ids.append(number)
    try:
        rate = int(str(fail_rate if fail_rate not in (None, "") else 0).strip())
    except ValueError:
        rate = -1
    if not 0 <= rate <= 100:
        errors.add("fail_rate", "Enter a whole percent from 0 to 100.")
    delay = None
    if delay_ms not in (None, ""):
        try:
            delay = int(str(delay_ms).strip())
        except ValueError:
            delay = -1
        if not 0 <= delay <= 10_000:
            errors.add("delay_ms", "Enter whole milliseconds from 0 to 10000.")
    errors.raise_if_any()
    setting = sandbox_settings()
    setting.fail_user_ids = sorted(ids)
    setting.fail_rate = rate
    if delay is not None:
        setting.delay_ms = delay
    db.session.flush()
    return setting
