"""The boundary in the matching team's terms: a reference sample and ordinary samples (US-060).

The reference sample is the client with the order to match; each ordinary sample is a candidate
worker. Both load with a constant number of queries, whatever the number of workers, and both
turn into the JSON that external steps read on stdin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.accounts.models import User, UserRole, WorkerProfile
from app.extensions import db
from app.orders.models import Order
from app.orders.services import excluded_workers


@dataclass(frozen=True)
class ReferenceSample:
    """The client and the order: what the workers are compared against."""

    order_id: int
    client_id: int
    client_name: str
    service_type_id: int
    service: str
    skills: tuple[str, ...]
    slot_start: datetime
    slot_end: datetime
    address: str
    excluded_worker_ids: frozenset[int]

    def to_json(self) -> dict:
        return {
            "order_id": self.order_id,
            "client_id": self.client_id,
            "client_name": self.client_name,
            "service_type_id": self.service_type_id,
            "service": self.service,
            "skills": list(self.skills),
            "slot_start": self.slot_start.isoformat(),
            "slot_end": self.slot_end.isoformat(),
            "address": self.address,
            "excluded_worker_ids": sorted(self.excluded_worker_ids),
        }


@dataclass(frozen=True)
class OrdinarySample:
    """One candidate worker, with the traits matching looks at."""

    worker_id: int
    name: str
    strengths: tuple[str, ...]
    weaknesses: tuple[str, ...]
    age: int | None
    breed: str
    coat_colour: str

    def to_json(self) -> dict:
        return {
            "id": self.worker_id,
            "name": self.name,
            "strengths": list(self.strengths),
            "weaknesses": list(self.weaknesses),
            "age": self.age,
            "breed": self.breed,
            "coat_colour": self.coat_colour,
        }


def reference_sample(order: Order) -> ReferenceSample:
    service_type = order.service_type
    return ReferenceSample(
        order_id=order.id,
        client_id=order.client_id,
        client_name=order.client.name,
        service_type_id=order.service_type_id,
        service=service_type.name,
        skills=tuple(skill.lower() for skill in (service_type.skills or [])),
        slot_start=order.slot_start,
        slot_end=order.slot_end,
        address=order.address,
        excluded_worker_ids=frozenset(excluded_workers(order)),
    )


def ordinary_samples() -> list[OrdinarySample]:
    """Every active worker, in id order, in one query."""
    rows = db.session.execute(
        select(
            User.id,
            User.name,
            WorkerProfile.strengths,
            WorkerProfile.weaknesses,
            WorkerProfile.age,
            WorkerProfile.breed,
            WorkerProfile.coat_colour,
        )
        .join(UserRole, (UserRole.user_id == User.id) & (UserRole.role == "worker"))
        .outerjoin(WorkerProfile, WorkerProfile.user_id == User.id)
        .where(User.active.is_(True))
        .order_by(User.id)
    )
    return [
        OrdinarySample(
            worker_id=row.id,
            name=row.name,
            strengths=tuple(item.lower() for item in (row.strengths or [])),
            weaknesses=tuple(item.lower() for item in (row.weaknesses or [])),
            age=row.age,
            breed=row.breed or "",
            coat_colour=row.coat_colour or "",
        )
        for row in rows
    ]
