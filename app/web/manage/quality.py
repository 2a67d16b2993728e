"""The quality queue and dashboard under /manage/quality (US-190, US-200, US-210).

The queue: every cancelled or failed order and every audited one, oldest first, with its age
(items older than QUALITY_STALE_DAYS highlighted), filters, counts and pages; the table is one
htmx fragment chosen by the HX-Request header, and the filter form also works without JavaScript.
A manager claims an item; a random audit picks a completed order and claims it for them.
Below the queue, the dashboard: reviews per week and the average score per criterion over twelve
weeks (a server-rendered SVG with its numbers in a table), the top root causes and the workers
with the most failed or cancelled orders; and the CSV export of reviews for a period.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from wtforms.fields.choices import SelectChoice

from app.accounts.queries import contacts
from app.extensions import db
from app.orders.models import ServiceType
from app.platform.clock import utcnow
from app.platform.validation import ValidationError
from app.quality import queries
from app.quality import services as quality
from app.quality.models import CRITERIA
from app.web.core.htmx import is_htmx
from app.web.core.pagination import page_args
from app.web.manage.blueprint import bp
from app.web.manage.quality_forms import AuditForm

PER_PAGE = 25
CHART_WEEKS = 12


def _day(args, name: str, problems: dict) -> date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems[name] = "Use a date like 2025-01-31."
        return None


def parse_filters(args) -> queries.QueueFilters:
    problems: dict[str, str] = {}
    state = args.get("state", "open")
    reason = args.get("reason", "")
    page, _ = page_args(PER_PAGE)
    return queries.QueueFilters(
        state=state if state in queries.STATES else "open",
        reason=reason if reason in queries.REASONS else "",
        service_type_id=args.get("service_type", type=int),
        worker_id=args.get("worker", type=int),
        date_from=_day(args, "from", problems),
        date_to=_day(args, "to", problems),
        page=page,
        problems=problems,
    )


def _stale_days() -> int:
    return int(current_app.config["QUALITY_STALE_DAYS"])


def _queue_context(filters: queries.QueueFilters) -> dict:
    manager_id = current_user.id
    items, has_next = queries.queue_page(filters, manager_id, PER_PAGE)
    people = contacts(
        {item.order.client_id for item in items}
        | {item.order.worker_id for item in items}
        | {item.claimed_by_id for item in items}
        | {item.order.ended_by_id for item in items}
    )
    now = utcnow()
    return {
        "filters": filters,
        "items": items,
        "has_next": has_next,
        "counts": queries.queue_counts(filters, manager_id, _stale_days()),
        "people": people,
        "now": now,
        "stale_days": _stale_days(),
        "stale": {item.id for item in items if queries.is_stale(item, _stale_days(), now)},
        "reasons": queries.REASONS,
        "states": queries.STATES,
    }


# ---------------------------------------------------------------- the chart


@dataclass(frozen=True)
class Line:
    criterion: str
    label: str
    points: str  # "x,y x,y ..." for a polyline (weeks without reviews are skipped)
    dots: list[tuple[float, float, str]]


@dataclass(frozen=True)
class ScoreChart:
    width: int
    height: int
    left: int
    lines: list[Line]
    bars: list[tuple[float, float, float, float, str]]  # x, y, width, height, title
    ticks: list[tuple[float, int]]
    labels: list[tuple[float, str]]


def build_score_chart(weeks: list[queries.WeekRow], width: int = 720, height: int = 260) -> ScoreChart:
    """Average score per criterion (1 to 5) as lines over the weeks; reviews per week as faint bars."""
    left, right, top, bottom = 40, 8, 12, 28
    plot_width, plot_height = width - left - right, height - top - bottom
    slot = plot_width / max(len(weeks), 1)
    most = max([week.reviews for week in weeks] or [0]) or 1

    def y_of(score: float) -> float:
        return round(top + plot_height - plot_height * (score - 1) / 4, 1)

    labels, bars = [], []
    for index, week in enumerate(weeks):
        centre = left + index * slot + slot / 2
        labels.append((round(centre, 1), week.week.strftime("%d %b")))
        bar_height = plot_height * week.reviews / most
        bars.append(
            (
                round(centre - slot * 0.3, 1),
                round(top + plot_height - bar_height, 1),
                round(slot * 0.6, 1),
                round(bar_height, 1),
                f"Week of {week.week:%d %b}: {week.reviews} review{'s' if week.reviews != 1 else ''}",
            )
        )
    lines = []
    for name, label in CRITERIA:
        dots = []
        for index, week in enumerate(weeks):
            value = week.averages[name]
            if value is not None:
                x = round(left + index * slot + slot / 2, 1)
                dots.append((x, y_of(value), f"{label}, week of {week.week:%d %b}: {value:.2f}"))
        lines.append(Line(name, label, " ".join(f"{x},{y}" for x, y, _ in dots), dots))
    ticks = [(y_of(score), score) for score in range(1, 6)]
    return ScoreChart(width, height, left, lines, bars, ticks, labels)


def _dashboard_context(filters: queries.QueueFilters) -> dict:
    """The chart covers the last twelve weeks; the tops cover the queue filter's period, or those weeks."""
    weeks = queries.weekly(CHART_WEEKS)
    period_start = filters.date_from or (weeks[0].week if weeks else None)
    period_end = filters.date_to
    workers = queries.workers_with_most_ended(period_start, period_end)
    return {
        "weeks": weeks,
        "chart": build_score_chart(weeks),
        "criteria": CRITERIA,
        "root_causes": queries.top_root_causes(period_start, period_end),
        "worst_workers": workers,
        "worker_names": contacts(worker_id for worker_id, _, _ in workers),
        "period_start": period_start,
        "period_end": period_end,
    }


def _service_types() -> list[tuple[int, str]]:
    return [
        (row.id, row.name)
        for row in db.session.execute(select(ServiceType.id, ServiceType.name).order_by(ServiceType.name))
    ]


def _audit_form(form: AuditForm | None = None) -> AuditForm:
    form = form or AuditForm(formdata=None)
    form.service_type.choices = [SelectChoice(0, "Any"), *(SelectChoice(id_, name) for id_, name in _service_types())]
    form.worker.choices = [SelectChoice(0, "Any"), *(SelectChoice(id_, name) for id_, name in _known_workers())]
    return form


def _known_workers() -> list[tuple[int, str]]:
    """Workers of the ended orders the quality service knows, by name, for the filter menus."""
    _services, worker_ids = queries.known_filter_options()
    names = contacts(worker_ids)
    return sorted(((worker_id, names[worker_id].name) for worker_id in names), key=lambda pair: pair[1].lower())


def _page(filters, audit_form: AuditForm | None = None, status: int = 200):
    context = _queue_context(filters)
    if is_htmx():
        return render_template("manage/quality/_queue.html", **context)
    audits = queries.recent_audits(5)
    return (
        render_template(
            "manage/quality/index.html",
            service_types=_service_types(),
            workers=_known_workers(),
            audit_form=_audit_form(audit_form),
            audits=audits,
            audit_people=contacts(audit.picked_by_id for audit in audits),
            **context,
            **_dashboard_context(filters),
        ),
        status,
    )


@bp.route("/quality")
def quality_queue():
    return _page(parse_filters(request.args))


@bp.route("/quality/items/<int:item_id>/claim", methods=["POST"])
def quality_claim(item_id: int):
    try:
        quality.claim(item_id, current_user.id)
    except quality.ClaimConflict as exc:
        db.session.rollback()
        flash(" ".join(exc.errors.get("item", [])), "error")
        return redirect(url_for("managers.quality_queue"), code=303)
    except ValidationError:
        db.session.rollback()
        abort(404)
    db.session.commit()
    flash("The order is yours to review.", "success")
    return redirect(url_for("managers.quality_item", item_id=item_id), code=303)


@bp.route("/quality/items/<int:item_id>/release", methods=["POST"])
def quality_release(item_id: int):
    try:
        quality.release(item_id, current_user.id)
    except (quality.ClaimConflict, quality.AlreadyReviewed) as exc:
        db.session.rollback()
        flash(" ".join(exc.errors.get("item", [])), "error")
        return redirect(url_for("managers.quality_item", item_id=item_id), code=303)
    except ValidationError:
        db.session.rollback()
        abort(404)
    db.session.commit()
    flash("Released: another manager may take it.", "success")
    return redirect(url_for("managers.quality_queue"), code=303)


@bp.route("/quality/audit", methods=["POST"])
def quality_audit():
    """US-190: review a random completed order (recorded with who, when and the filters)."""
    form = _audit_form(AuditForm())
    if not form.validate_on_submit():
        return _page(parse_filters(MultiDict()), form, 422)
    if form.date_from.data and form.date_to.data and form.date_from.data > form.date_to.data:
        form.date_to.errors = ["The end comes before the start."]
        return _page(parse_filters(MultiDict()), form, 422)
    filters = quality.AuditFilters(
        date_from=form.date_from.data,
        date_to=form.date_to.data,
        service_type_id=form.service_type.data or None,
        worker_id=form.worker.data or None,
    )
    try:
        audit = quality.pick_random(current_user.id, filters)
    except ValidationError as exc:
        db.session.rollback()
        flash(" ".join(message for messages in exc.errors.values() for message in messages), "error")
        return redirect(url_for("managers.quality_queue"), code=303)
    db.session.commit()
    if audit.order_id is None:
        flash("No completed order left to audit with these filters (the audit is recorded).", "info")
        return redirect(url_for("managers.quality_queue"), code=303)
    item = queries.item_for_order(audit.order_id)
    flash(f"Picked order #{audit.order_id} at random among {audit.candidates}; it is yours to review.", "success")
    return redirect(url_for("managers.quality_item", item_id=item.id), code=303)


@bp.route("/quality/export.csv")
def quality_export():
    """Reviews created in a period (all of them without one), as CSV."""
    problems: dict[str, str] = {}
    date_from, date_to = _day(request.args, "from", problems), _day(request.args, "to", problems)
    if problems:
        return ("; ".join(problems.values()), 422, {"Content-Type": "text/plain; charset=utf-8"})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=queries.EXPORT_COLUMNS)
    writer.writeheader()
    for row in queries.export_rows(date_from, date_to):
        writer.writerow({key: _cell(value) for key, value in row.items()})
    name = f"quality-reviews-{date_from or 'start'}-{date_to or 'now'}.csv"
    return (
        buffer.getvalue(),
        200,
        {"Content-Type": "text/csv; charset=utf-8", "Content-Disposition": f'attachment; filename="{name}"'},
    )


def _cell(value):
    """Spreadsheets run cells that start with = + - @: such text is quoted with a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
