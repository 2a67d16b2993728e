"""Read models of the quality pages: the queue, the dashboard, the hypotheses board, the export.

Each is a fixed number of set-based statements whatever the number of rows (no N+1).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.platform.clock import company_zone, utcnow
from app.platform.paging import one_page, split_page
from app.quality.models import (
    CRITERIA,
    Audit,
    Hypothesis,
    HypothesisStatus,
    QualityOrder,
    QueueItem,
    Review,
    RootCause,
    review_hypotheses,
)
from app.quality.services import ENDED_STATUSES, KIT_NOT_ISSUED_REASON, period_conditions

REASONS = {
    "cancelled": "Cancelled",
    "failed": "Failed (marked by a manager)",
    "no_show": "No-show",
    "kit_not_issued": "Kit never issued",
    "audit": "Random audit",
}
STATES = {"open": "To review", "mine": "Claimed by me", "reviewed": "Reviewed", "all": "All"}


# ---------------------------------------------------------------- the queue (US-200)


@dataclass(frozen=True)
class QueueFilters:
    state: str = "open"
    reason: str = ""
    service_type_id: int | None = None
    worker_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1
    problems: dict[str, str] = field(default_factory=dict, compare=False)

    def args(self, **changes) -> dict:
        changed = replace(self, **changes) if changes else self
        values = {
            "state": changed.state if changed.state != "open" else "",
            "reason": changed.reason,
            "service_type": changed.service_type_id,
            "worker": changed.worker_id,
            "from": changed.date_from.isoformat() if changed.date_from else "",
            "to": changed.date_to.isoformat() if changed.date_to else "",
            "page": changed.page if changed.page > 1 else "",
        }
        return {key: value for key, value in values.items() if value not in ("", None)}


def _reason_condition(reason: str):
    if reason == "cancelled":
        return QualityOrder.status == "cancelled"
    if reason == "failed":
        return and_(
            QualityOrder.status == "failed",
            QualityOrder.no_show.is_(False),
            QualityOrder.reason != KIT_NOT_ISSUED_REASON,
        )
    if reason == "kit_not_issued":
        return QualityOrder.reason == KIT_NOT_ISSUED_REASON
    if reason == "no_show":
        return QualityOrder.no_show.is_(True)
    if reason == "audit":
        return QueueItem.source == "audit"
    return None


def _conditions(filters: QueueFilters, manager_id: int, *, with_state: bool = True, with_reason: bool = True) -> list:
    conditions = period_conditions(QualityOrder.ended_at, filters.date_from, filters.date_to)
    if filters.service_type_id:
        conditions.append(QualityOrder.service_type_id == filters.service_type_id)
    if filters.worker_id:
        conditions.append(QualityOrder.worker_id == filters.worker_id)
    if with_reason and filters.reason in REASONS:
        conditions.append(_reason_condition(filters.reason))
    if with_state:
        reviewed = Review.id.is_not(None)
        if filters.state == "open":
            conditions.append(~reviewed)
        elif filters.state == "mine":
            conditions.extend([~reviewed, QueueItem.claimed_by_id == manager_id])
        elif filters.state == "reviewed":
            conditions.append(reviewed)
    return conditions


def _base():
    return (
        select(QueueItem)
        .join(QualityOrder, QualityOrder.order_id == QueueItem.order_id)
        .outerjoin(Review, Review.item_id == QueueItem.id)
    )


def queue_page(filters: QueueFilters, manager_id: int, per_page: int = 25) -> tuple[list[QueueItem], bool]:
    """Oldest first (by when the order ended, then when it entered), with order facts and review loaded."""
    query = (
        _base()
        .where(*_conditions(filters, manager_id))
        .options(selectinload(QueueItem.review))
        .order_by(QualityOrder.ended_at, QueueItem.entered_at, QueueItem.id)
    )
    return split_page(db.session.scalars(one_page(query, filters.page, per_page)).unique(), per_page)


@dataclass
class QueueCounts:
    to_review: int = 0
    claimed: int = 0
    mine: int = 0
    reviewed: int = 0
    stale: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


def queue_counts(filters: QueueFilters, manager_id: int, stale_days: int) -> QueueCounts:
    """The numbers above the queue, under the filters except state and reason (one statement)."""
    open_ = Review.id.is_(None)
    stale_before = utcnow() - timedelta(days=stale_days)
    columns = {
        "to_review": func.count().filter(open_),
        "claimed": func.count().filter(open_, QueueItem.claimed_by_id.is_not(None)),
        "mine": func.count().filter(open_, QueueItem.claimed_by_id == manager_id),
        "reviewed": func.count().filter(~open_),
        "stale": func.count().filter(open_, QueueItem.entered_at < stale_before),
        **{f"reason_{key}": func.count().filter(open_, _reason_condition(key)) for key in REASONS},
    }
    row = db.session.execute(
        select(*(value.label(key) for key, value in columns.items()))
        .select_from(QueueItem)
        .join(QualityOrder, QualityOrder.order_id == QueueItem.order_id)
        .outerjoin(Review, Review.item_id == QueueItem.id)
        .where(*_conditions(filters, manager_id, with_state=False, with_reason=False))
    ).one()
    values = row._asdict()
    return QueueCounts(
        to_review=values["to_review"],
        claimed=values["claimed"],
        mine=values["mine"],
        reviewed=values["reviewed"],
        stale=values["stale"],
        by_reason={key: values[f"reason_{key}"] for key in REASONS},
    )


def is_stale(item: QueueItem, stale_days: int, now: datetime | None = None) -> bool:
    return item.review is None and (now or utcnow()) - item.entered_at > timedelta(days=stale_days)


def recent_audits(limit: int = 10) -> list[Audit]:
    return list(db.session.scalars(select(Audit).order_by(Audit.picked_at.desc(), Audit.id.desc()).limit(limit)))


def item(item_id: int) -> QueueItem | None:
    return db.session.scalar(
        select(QueueItem)
        .where(QueueItem.id == item_id)
        .options(
            selectinload(QueueItem.review).selectinload(Review.hypotheses),
            selectinload(QueueItem.review).selectinload(Review.revisions),
            selectinload(QueueItem.review).selectinload(Review.root_cause),
        )
    )


def item_for_order(order_id: int) -> QueueItem | None:
    return db.session.scalar(select(QueueItem).where(QueueItem.order_id == order_id))


# ---------------------------------------------------------------- the dashboard


def _week_start(today: date) -> date:
    return today - timedelta(days=today.weekday())


@dataclass
class WeekRow:
    week: date
    reviews: int
    averages: dict[str, float | None]


def weekly(weeks: int = 12, now: datetime | None = None) -> list[WeekRow]:
    """Reviews per week and the average score per criterion, the last `weeks` weeks (company time)."""
    zone = company_zone()
    today = (now or utcnow()).astimezone(zone).date()
    first = _week_start(today) - timedelta(weeks=weeks - 1)
    local = func.timezone(zone.key, Review.created_at)
    week = func.date_trunc("week", local)
    rows = db.session.execute(
        select(
            week.label("week"),
            func.count().label("reviews"),
            *(func.avg(getattr(Review, name)).label(name) for name, _ in CRITERIA),
        )
        .where(*period_conditions(Review.created_at, first, None))
        .group_by(week)
    ).all()
    found = {row.week.date(): row for row in rows}
    result = []
    for number in range(weeks):
        start = first + timedelta(weeks=number)
        row = found.get(start)
        result.append(
            WeekRow(
                week=start,
                reviews=row.reviews if row else 0,
                averages={name: (round(float(getattr(row, name)), 2) if row else None) for name, _ in CRITERIA},
            )
        )
    return result


def top_root_causes(date_from: date | None, date_to: date | None, limit: int = 5) -> list[tuple[str, int]]:
    rows = db.session.execute(
        select(RootCause.name, func.count(Review.id))
        .join(Review, Review.root_cause_id == RootCause.id)
        .where(*period_conditions(Review.created_at, date_from, date_to))
        .group_by(RootCause.id, RootCause.name)
        .order_by(func.count(Review.id).desc(), RootCause.name)
        .limit(limit)
    )
    return [(name, count) for name, count in rows]


def workers_with_most_ended(date_from: date | None, date_to: date | None, limit: int = 5) -> list[tuple[int, int, int]]:
    """(worker id, failed, cancelled) for the workers with the most ended orders in the period."""
    failed = func.count().filter(QualityOrder.status == "failed")
    cancelled = func.count().filter(QualityOrder.status == "cancelled")
    rows = db.session.execute(
        select(QualityOrder.worker_id, failed, cancelled)
        .where(
            QualityOrder.worker_id.is_not(None),
            QualityOrder.status.in_(ENDED_STATUSES),
            *period_conditions(QualityOrder.ended_at, date_from, date_to),
        )
        .group_by(QualityOrder.worker_id)
        .order_by(func.count().desc(), QualityOrder.worker_id)
        .limit(limit)
    )
    return [(worker_id, f, c) for worker_id, f, c in rows]


# ---------------------------------------------------------------- hypotheses board


@dataclass
class BoardRow:
    hypothesis: Hypothesis
    supporting: int
    ended_supporting: int
    share: float | None
    first_seen: datetime | None
    last_seen: datetime | None


BOARD_SORTS = ("evidence", "recent", "status", "created")


def hypotheses_board(sort: str = "evidence", status: str = "") -> list[BoardRow]:
    """Every hypothesis with its evidence: supporting reviews, the share of reviewed failed or
    cancelled orders it covers, first and last seen. Two statements whatever the number."""
    ended_reviews = db.session.scalar(
        select(func.count(Review.id))
        .join(QualityOrder, QualityOrder.order_id == Review.order_id)
        .where(QualityOrder.status.in_(ENDED_STATUSES))
    )
    supporting = func.count(Review.id)
    ended = func.count(Review.id).filter(QualityOrder.status.in_(ENDED_STATUSES))
    first_seen = func.min(Review.created_at)
    last_seen = func.max(Review.created_at)
    query = (
        select(Hypothesis, supporting, ended, first_seen, last_seen)
        .outerjoin(review_hypotheses, review_hypotheses.c.hypothesis_id == Hypothesis.id)
        .outerjoin(Review, Review.id == review_hypotheses.c.review_id)
        .outerjoin(QualityOrder, QualityOrder.order_id == Review.order_id)
        .group_by(Hypothesis.id)
    )
    if status in set(HypothesisStatus):
        query = query.where(Hypothesis.status == status)
    order_by = {
        "evidence": (supporting.desc(), last_seen.desc().nulls_last(), Hypothesis.id),
        "recent": (last_seen.desc().nulls_last(), Hypothesis.id.desc()),
        "status": (
            case({s.value: i for i, s in enumerate(HypothesisStatus)}, value=Hypothesis.status),
            supporting.desc(),
            Hypothesis.id,
        ),
        "created": (Hypothesis.created_at.desc(), Hypothesis.id.desc()),
    }[sort if sort in BOARD_SORTS else "evidence"]
    rows = db.session.execute(query.order_by(*order_by)).all()
    return [
        BoardRow(
            hypothesis=row[0],
            supporting=row[1],
            ended_supporting=row[2],
            share=(row[2] / ended_reviews) if ended_reviews else None,
            first_seen=row[3],
            last_seen=row[4],
        )
        for row in rows
    ]


def hypothesis_row(hypothesis_id: int) -> BoardRow | None:
    for row in hypotheses_board():
        if row.hypothesis.id == hypothesis_id:
            return row
    return None


def supporting_reviews(hypothesis_id: int) -> list[Review]:
    return list(
        db.session.scalars(
            select(Review)
            .join(review_hypotheses, review_hypotheses.c.review_id == Review.id)
            .where(review_hypotheses.c.hypothesis_id == hypothesis_id)
            .options(selectinload(Review.item), selectinload(Review.root_cause))
            .order_by(Review.created_at.desc())
        )
    )


def hypothesis_choices() -> list[Hypothesis]:
    """Hypotheses a review may support: all but the rejected ones, newest first."""
    return list(
        db.session.scalars(
            select(Hypothesis)
            .where(Hypothesis.status != HypothesisStatus.REJECTED)
            .order_by(Hypothesis.created_at.desc(), Hypothesis.id.desc())
        )
    )


# ---------------------------------------------------------------- the CSV export


EXPORT_COLUMNS = (
    "review_id",
    "order_id",
    "source",
    "outcome",
    "reason",
    "no_show",
    "service",
    "worker_id",
    "client_id",
    "ended_at",
    "reviewed_at",
    "reviewer_id",
    *(name for name, _ in CRITERIA),
    "fault",
    "root_cause",
    "hypothesis_ids",
    "version",
)


def export_rows(date_from: date | None, date_to: date | None):
    """One row per review created in the period (no findings or messages: scores, fault, root cause)."""
    reviews = db.session.scalars(
        select(Review)
        .where(*period_conditions(Review.created_at, date_from, date_to))
        .options(
            selectinload(Review.item).joinedload(QueueItem.order),
            selectinload(Review.root_cause),
            selectinload(Review.hypotheses),
        )
        .order_by(Review.created_at, Review.id)
    )
    for review in reviews:
        order = review.item.order
        yield {
            "review_id": review.id,
            "order_id": review.order_id,
            "source": review.item.source,
            "outcome": order.status,
            "reason": order.reason,
            "no_show": order.no_show,
            "service": order.service,
            "worker_id": order.worker_id or "",
            "client_id": order.client_id,
            "ended_at": order.ended_at.isoformat(),
            "reviewed_at": review.created_at.isoformat(),
            "reviewer_id": review.reviewer_id,
            **review.scores(),
            "fault": review.fault,
            "root_cause": review.root_cause.name,
            "hypothesis_ids": " ".join(str(h.id) for h in review.hypotheses),
            "version": review.version,
        }


def known_filter_options() -> tuple[list[tuple[int, str]], list[int]]:
    """(service types as (id, name), worker ids) seen in the quality facts, for the filter menus."""
    services = db.session.execute(
        select(QualityOrder.service_type_id, func.max(QualityOrder.service))
        .where(QualityOrder.service_type_id.is_not(None))
        .group_by(QualityOrder.service_type_id)
        .order_by(func.max(QualityOrder.service))
    ).all()
    workers = list(
        db.session.scalars(select(QualityOrder.worker_id).where(QualityOrder.worker_id.is_not(None)).distinct())
    )
    return [(row[0], row[1]) for row in services], workers
