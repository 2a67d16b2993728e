"""Read models of the managers' hiring board: confirmed applications only (US-081: nothing
unconfirmed, so nothing a flood writes, ever reaches it)."""

from __future__ import annotations

from sqlalchemy import func, or_, select, union
from sqlalchemy.orm import joinedload

from app.accounts.models import WorkerProfile
from app.extensions import db
from app.hiring.models import Application, HiringTest, Stage, Vacancy
from app.orders.models import ServiceType
from app.platform.paging import fetch_page


def _conditions(vacancy_id: int | None, search: str) -> list:
    conditions = [Application.stage != Stage.UNCONFIRMED]
    if vacancy_id:
        conditions.append(Application.vacancy_id == vacancy_id)
    if search:
        conditions.append(
            or_(
                Application.name.icontains(search, autoescape=True),
                Application.email.icontains(search, autoescape=True),
            )
        )
    return conditions


def stage_counts(vacancy_id: int | None = None, search: str = "") -> dict[str, int]:
    rows = db.session.execute(
        select(Application.stage, func.count()).where(*_conditions(vacancy_id, search)).group_by(Application.stage)
    )
    return dict(rows.all())


def board_page(
    stage: str, vacancy_id: int | None, search: str, page: int, per_page: int
) -> tuple[list[Application], bool]:
    conditions = _conditions(vacancy_id, search)
    if stage:
        conditions.append(Application.stage == stage)
    query = (
        select(Application)
        .options(joinedload(Application.vacancy))
        .where(*conditions)
        .order_by(Application.updated_at.desc(), Application.id.desc())
    )
    return fetch_page(query, page, per_page)


def all_vacancies() -> list[Vacancy]:
    return list(db.session.scalars(select(Vacancy).order_by(Vacancy.is_open.desc(), Vacancy.title)))


def all_tests() -> list[HiringTest]:
    return list(db.session.scalars(select(HiringTest).order_by(HiringTest.name)))


def known_traits() -> list[str]:
    """The traits vocabulary in use: service skills, workers' strengths and weaknesses, the tests' traits."""
    words = union(
        select(func.unnest(ServiceType.skills).label("word")),
        select(func.unnest(WorkerProfile.strengths)),
        select(func.unnest(WorkerProfile.weaknesses)),
        select(HiringTest.trait),
    ).subquery()
    return list(db.session.scalars(select(func.lower(words.c.word)).distinct().order_by(func.lower(words.c.word))))
