"""Every domain's models, imported in one place for SQLAlchemy and Alembic."""

from app.accounts.models import ApiToken, ClientProfile, User, UserRole, WorkerProfile
from app.billing.models import (
    BillingRun,
    DailyTotal,
    DayClose,
    Invoice,
    InvoiceItem,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    PaymentAttempt,
    SandboxPayment,
    SandboxSetting,
)
from app.events.models import Event, EventFailure, HandledEvent
from app.matching.models import MatchingStep, MatchRun
from app.notifications.models import OutboxEmail, RecipientSequence
from app.orders.models import Order, ServiceType
from app.supplies.models import CookieRequest, Kit

__all__ = [
    "ApiToken",
    "BillingRun",
    "DailyTotal",
    "DayClose",
    "Invoice",
    "InvoiceItem",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "PaymentAttempt",
    "SandboxPayment",
    "SandboxSetting",
    "ClientProfile",
    "CookieRequest",
    "Event",
    "EventFailure",
    "HandledEvent",
    "Kit",
    "MatchRun",
    "MatchingStep",
    "Order",
    "OutboxEmail",
    "RecipientSequence",
    "ServiceType",
    "User",
    "UserRole",
    "WorkerProfile",
]
