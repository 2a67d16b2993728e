"""Every domain's models, imported in one place for SQLAlchemy and Alembic."""

from app.accounts.models import ApiToken, ClientProfile, User, UserRole, WorkerProfile
from app.events.models import Event, EventFailure, HandledEvent
from app.notifications.models import OutboxEmail, RecipientSequence

__all__ = [
    "ApiToken",
    "ClientProfile",
    "Event",
    "EventFailure",
    "HandledEvent",
    "OutboxEmail",
    "RecipientSequence",
    "User",
    "UserRole",
    "WorkerProfile",
]
