"""Billing switches managers set on /manage/billing (flush, never commit)."""

from __future__ import annotations

from sqlalchemy import select

from app.billing.models import BillingSetting
from app.extensions import db


def billing_setting() -> BillingSetting | None:
    return db.session.scalar(select(BillingSetting).order_by(BillingSetting.id).limit(1))


def automatic_runs() -> bool:
    """Whether the schedule starts weekly, monthly and retry runs by itself (the default)."""
    setting = billing_setting()
    return True if setting is None else setting.automatic_runs


def set_automatic_runs(on: bool, manager=None) -> BillingSetting:
    setting = billing_setting()
    if setting is None:
        setting = BillingSetting()
        db.session.add(setting)
    setting.automatic_runs = bool(on)
    setting.updated_by_id = getattr(manager, "id", manager)
    db.session.flush()
    return setting
