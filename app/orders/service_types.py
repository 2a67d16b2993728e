"""Service types (US-021): what clients can order, with a base price (US-050) and a consumables list."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.orders.models import DEFAULT_BASE_PRICE_CENTS, ServiceType
from app.platform.clock import utcnow
from app.platform.validation import DuplicateError, FieldErrors, check_single_line, control_character_error


def _clean_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace("\n", ",").split(",")
    items = []
    for item in value:
        item = str(item).strip()
        if item and item not in items:
            items.append(item)
    return items


def save_service_type(
    service_type: ServiceType | None,
    *,
    name: str,
    description: str = "",
    base_price_cents: int | None = DEFAULT_BASE_PRICE_CENTS,
    duration_minutes: int | None = 120,
    skills=None,
    consumables=None,
) -> ServiceType:
    """Create (service_type None) or edit a service type."""
    errors = FieldErrors()
    name = (name or "").strip()
    if not name:
        errors.add("name", "A name is required.")
    elif len(name) > 120:
        errors.add("name", "At most 120 characters.")
    if base_price_cents is None or base_price_cents < 0:
        errors.add("base_price", "The price must be zero or more.")
    if duration_minutes is None or not 15 <= duration_minutes <= 12 * 60:
        errors.add("duration_minutes", "Between 15 minutes and 12 hours.")
    skills = [skill.lower() for skill in _clean_list(skills)]
    consumables = _clean_list(consumables)
    if any(len(skill) > 60 for skill in skills):
        errors.add("skills", "Each skill at most 60 characters.")
    if any(len(item) > 120 for item in consumables):
        errors.add("consumables", "Each item at most 120 characters.")
    check_single_line(errors, name=name, skills=" ".join(skills), consumables=" ".join(consumables))
    if message := control_character_error(description or "", multiline=True):
        errors.add("description", message)
    errors.raise_if_any()
    clash = db.session.scalar(
        select(ServiceType).where(
            func.lower(ServiceType.name) == name.lower(), ServiceType.id != (service_type.id if service_type else -1)
        )
    )
    if clash is not None:
        raise DuplicateError(name="A service type with this name exists.")
    if service_type is None:
        service_type = ServiceType()
        db.session.add(service_type)
    service_type.name = name
    service_type.description = (description or "").strip()
    service_type.base_price_cents = base_price_cents
    service_type.duration_minutes = duration_minutes
    service_type.skills = skills
    service_type.consumables = consumables
    db.session.flush()
    return service_type


def retire_service_type(service_type: ServiceType, retired: bool = True) -> None:
    """Retired types can't be ordered; old orders keep them."""
    service_type.retired_at = utcnow() if retired else None
    db.session.flush()


def orderable_service_types() -> list[ServiceType]:
    return list(
        db.session.scalars(select(ServiceType).where(ServiceType.retired_at.is_(None)).order_by(ServiceType.name))
    )
