"""Read-side queries other domains may call: plain data about people, never the models."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from app.accounts.models import User
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
