"""Read-side queries other domains may call: plain data about people, never the models."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from app.accounts.models import User, UserRole
from app.extensions import db


@dataclass(frozen=True)
class Contact:
    id: int
    name: str
    email: str
    active: bool


def contacts(user_ids: Iterable[int | None]) -> dict[int, Contact]:
    """{id: Contact} for the given users, in one statement (unknown ids are left out)."""
    wanted = {int(user_id) for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    rows = db.session.execute(select(User.id, User.name, User.email, User.active).where(User.id.in_(wanted)))
    return {row.id: Contact(row.id, row.name, row.email, row.active) for row in rows}


def active_with_role(role: str) -> list[Contact]:
    """Active people holding a role, by name (e.g. the managers who may own a hypothesis)."""
    rows = db.session.execute(
        select(User.id, User.name, User.email, User.active)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == role, User.active.is_(True))
        .order_by(User.name, User.id)
    )
    return [Contact(row.id, row.name, row.email, row.active) for row in rows]
