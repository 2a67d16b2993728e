"""Template helpers: the role navigation, money and time formatting."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_login import current_user

from app.billing.models import InvoiceStatus, RunKind, TransactionKind
from app.billing.overview import run_summary_text
from app.billing.queries import breakdown_lines
from app.notifications.models import EmailStatus
from app.orders.models import OrderStatus
from app.orders.services import FAILURE_REASONS, checkin_opens_at
from app.platform.clock import company_zone
from app.platform.money import format_money

# (role, endpoint of its home, label) in the order the role switcher shows them.
ROLE_HOMES = (
    ("manager", "managers.home", "Manage"),
    ("supply", "supply.home", "Supplies"),
    ("worker", "workers.home", "My work"),
    ("client", "clients.home", "My orders"),
    ("bettor", "bettors.home", "Tote"),
)


def role_homes() -> list[tuple[str, str, str]]:
    if not current_user.is_authenticated:
        return []
    return [home for home in ROLE_HOMES if current_user.has_role(home[0])]


def format_datetime(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def format_localtime(value: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in the company's time zone (slots are booked in it)."""
    if value is None:
        return "-"
    zone = company_zone()
    return value.astimezone(zone).strftime(pattern)


def install(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = format_localtime
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.globals["role_homes"] = role_homes
    app.jinja_env.globals["invoice_breakdown"] = breakdown_lines
    app.jinja_env.globals["run_summary"] = run_summary_text
    app.jinja_env.globals["failure_reasons"] = FAILURE_REASONS
    app.jinja_env.globals["checkin_opens_at"] = checkin_opens_at
    # Statuses and kinds with their labels, so templates never spell a label again.
    for labelled in (OrderStatus, InvoiceStatus, TransactionKind, EmailStatus, RunKind):
        app.jinja_env.globals[labelled.__name__] = labelled
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
