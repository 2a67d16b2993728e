"""The figures operators watch, for /manage/system (managers) and /metrics (Prometheus): queues,
workers, the cron's last tick, events pending per consumer, the outbox, the last billing runs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import func, select

from app.billing.models import BillingRun
from app.events.jobs import pending_by_consumer
from app.extensions import db
from app.notifications.models import EmailStatus, OutboxEmail
from app.platform import health
from app.platform.clock import utcnow
from app.platform.queues import QUEUE_NAMES, get_queue, redis_connection

log = logging.getLogger(__name__)


def _age(moment) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (utcnow() - moment).total_seconds())


def _redis_figures() -> dict:
    """Queues, workers and the cron as Redis knows them; None where Redis does not answer."""
    from rq.cron import CronScheduler

    try:
        connection = redis_connection()
        queues = {name: get_queue(name).count for name in QUEUE_NAMES}
        workers = health.live_workers(connection)
        beats = [cron.last_heartbeat for cron in CronScheduler.all(connection)]
        cron_tick = max((beat for beat in beats if beat is not None), default=None)
        return {"redis_up": True, "queues": queues, "workers": workers, "cron_tick": cron_tick}
    except Exception as exc:  # an outage is a figure here, not an error page
        log.warning("system page: redis figures unavailable: %s", exc.__class__.__name__)
        return {"redis_up": False, "queues": None, "workers": None, "cron_tick": None}


def system_figures() -> dict:
    figures = _redis_figures()
    figures["cron_age"] = _age(figures["cron_tick"])
    figures["events"] = {name: (count, _age(oldest)) for name, (count, oldest) in pending_by_consumer().items()}
    counts = dict(db.session.execute(select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status)).all())
    oldest_pending = db.session.scalar(
        select(func.min(OutboxEmail.created_at)).where(OutboxEmail.status == EmailStatus.PENDING)
    )
    figures["outbox"] = {
        "pending": counts.get(EmailStatus.PENDING, 0),
        "dead": counts.get(EmailStatus.DEAD, 0),
        "sent": counts.get(EmailStatus.SENT, 0),
        "oldest_pending_age": _age(oldest_pending),
    }
    figures["billing_runs"] = list(db.session.scalars(select(BillingRun).order_by(BillingRun.id.desc()).limit(5)))
    figures["now"] = datetime.now(UTC)
    return figures


def prometheus_text(figures: dict) -> bytes:
    """The same figures in Prometheus' text format (a registry of its own per scrape)."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()

    def gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, documentation, list(labels), registry=registry)

    gauge("mcf_redis_up", "1 when Redis answers").set(1 if figures["redis_up"] else 0)
    if figures["redis_up"]:
        queue = gauge("mcf_queue_length", "Jobs waiting per RQ queue", ("queue",))
        for name, length in figures["queues"].items():
            queue.labels(name).set(length)
        gauge("mcf_workers_alive", "RQ workers with a recent heartbeat").set(len(figures["workers"]))
        heartbeat = Gauge(
            "mcf_worker_heartbeat_age_seconds", "Age of each worker's heartbeat", ["worker"], registry=registry
        )
        for worker in figures["workers"]:
            beat = datetime.fromisoformat(worker["last_heartbeat"])
            heartbeat.labels(worker["name"]).set(max(0.0, (figures["now"] - beat).total_seconds()))
    if figures["cron_age"] is not None:
        gauge("mcf_cron_tick_age_seconds", "Seconds since the cron's last tick").set(figures["cron_age"])
    pending = gauge("mcf_events_pending", "Events not handled yet per consumer", ("consumer",))
    oldest = Gauge(
        "mcf_events_oldest_pending_age_seconds", "Age of the oldest pending event", ["consumer"], registry=registry
    )
    for name, (count, age) in figures["events"].items():
        pending.labels(name).set(count)
        oldest.labels(name).set(age or 0)
    outbox = gauge("mcf_outbox_messages", "Outbox messages by status", ("status",))
    for status in ("pending", "dead", "sent"):
        outbox.labels(status).set(figures["outbox"][status])
    gauge("mcf_outbox_oldest_pending_age_seconds", "Age of the oldest waiting message").set(
        figures["outbox"]["oldest_pending_age"] or 0
    )
    runs = gauge("mcf_billing_run_running", "1 while the latest run of a kind is running", ("kind",))
    for run in figures["billing_runs"]:
        runs.labels(run.kind).set(1 if run.status == "running" else 0)
    return generate_latest(registry)
