"""The managers' billing dashboard (/manage/billing): revenue and payouts per week as a server-rendered
SVG chart, outstanding and failed invoices (manual "mark paid"), billing runs started by hand with a
progress bar that polls in place, the sandbox provider's settings, and the ledger of any party.

Thin views: the numbers come from app.billing.queries, the changes from the billing services.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import StringField

from app.billing import overview, queries
from app.billing.models import AccountKind, BillingRun, Invoice, ParkedParty
from app.billing.settings import automatic_runs, set_automatic_runs
from app.extensions import db
from app.platform.money import format_money
from app.platform.validation import ValidationError
from app.web.core.converters import db_int
from app.web.core.forms import CheckedForm, apply_errors
from app.web.core.htmx import htmx_target, is_htmx
from app.web.core.navigation import local_path
from app.web.core.pagination import page_args, page_number
from app.web.manage.blueprint import bp

CHART_WEEKS = 12


# ---------------------------------------------------------------- the chart (server-rendered SVG)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    plot_height: int
    bars: list[Bar]
    ticks: list[tuple[float, int]]  # (y, cents)
    labels: list[tuple[float, str]]  # (x centre, week label)


def _nice_ceiling(cents: int) -> int:
    """A round top for the axis (1, 2 or 5 times a power of ten units), at least 1 unit."""
    value = max(cents, 100)
    step = 100
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def build_chart(weeks: list[overview.WeekTotals], width: int = 720, height: int = 260) -> Chart:
    """Bars for revenue and payouts per week; heights scale to a round maximum (negatives drawn as 0)."""
    left, right, top, bottom = 72, 8, 12, 28
    plot_width, plot_height = width - left - right, height - top - bottom
    ceiling = _nice_ceiling(max([max(w.revenue_cents, w.payouts_cents) for w in weeks] or [0]))
    slot = plot_width / max(len(weeks), 1)
    bar_width = slot * 0.36
    bars, labels = [], []
    for index, week in enumerate(weeks):
        x0 = left + index * slot + slot * 0.1
        label = week.start.strftime("%d %b")
        labels.append((round(left + index * slot + slot / 2, 1), label))
        for offset, series, cents, name in (
            (0, "revenue", week.revenue_cents, "revenue"),
            (1, "payouts", week.payouts_cents, "payouts"),
        ):
            bar_height = plot_height * max(cents, 0) / ceiling
            bars.append(
                Bar(
                    x=round(x0 + offset * bar_width, 1),
                    y=round(top + plot_height - bar_height, 1),
                    width=round(bar_width, 1),
                    height=round(bar_height, 1),
                    series=series,
                    title=f"Week of {label}: {name} {format_money(cents)}",
                )
            )
    ticks = [(round(top + plot_height - plot_height * part / 4, 1), ceiling * part // 4) for part in range(5)]
    return Chart(width, height, left, top, plot_height, bars, ticks, labels)


# ---------------------------------------------------------------- the dashboard


class SandboxForm(CheckedForm):
    fail_user_ids = StringField("Fail for these user ids", description="Comma separated, e.g. 12, 40")
    fail_rate = StringField("Fail this percent of calls", description="0 to 100")
    delay_ms = StringField("Answer after (milliseconds)", description="0 to 10000; each answer takes 50% to 150% of it")


def _sandbox_form(setting=None) -> SandboxForm:
    form = SandboxForm()
    if request.method == "GET" or not form.is_submitted():
        setting = setting if setting is not None else overview.sandbox_setting()
        form.fail_user_ids.data = ", ".join(str(i) for i in (setting.fail_user_ids if setting else []))
        form.fail_rate.data = str(setting.fail_rate if setting else 0)
        form.delay_ms.data = str(setting.delay_ms if setting else 0)
    return form


def _invoices_part() -> dict:
    page = page_number("invoices_page")
    rows, has_next = overview.invoices(page=page)
    return {"invoices": rows, "invoices_page": page, "invoices_has_next": has_next}


def _runs_part(error: str | None = None) -> dict:
    return {
        "runs": overview.recent_runs(),
        "run_kinds": overview.RUN_KINDS,
        "run_error": error,
        "is_stale": overview.run_is_stale,
    }


def _render_dashboard(sandbox_form: SandboxForm | None = None, status: int = 200):
    weeks = overview.weekly_totals(CHART_WEEKS)
    return (
        render_template(
            "manage/billing.html",
            weeks=weeks,
            chart=build_chart(weeks),
            counts=overview.invoice_counts(),
            sandbox_form=sandbox_form or _sandbox_form(),
            parked=overview.parked_parties(),
            automatic_runs=automatic_runs(),
            **_invoices_part(),
            **_runs_part(),
        ),
        status,
    )


@bp.route("/billing")
def billing():
    target = htmx_target()
    if target == "invoice-list":
        return render_template("manage/_billing_invoices.html", **_invoices_part())
    if target == "billing-runs":
        return render_template("manage/_billing_runs.html", **_runs_part())
    return _render_dashboard()


# ---------------------------------------------------------------- runs (started by hand, progress polled)


@bp.route("/billing/runs", methods=["POST"])
def start_billing_run():
    from app.billing.processes.runs import start_run

    kind = request.form.get("kind", "")
    htmx = is_htmx()
    if kind not in overview.RUN_KINDS:
        message = "Choose a kind of run."
        if htmx:
            return render_template("manage/_billing_runs.html", **_runs_part(message)), 422
        flash(message, "warning")
        return redirect(url_for("managers.billing", _anchor="runs"), code=303)
    try:
        run = start_run(kind, current_user._get_current_object())
    except ValidationError as exc:
        db.session.rollback()
        message = " ".join(m for messages in exc.errors.values() for m in messages) or "The run cannot start now."
        if htmx:
            return render_template("manage/_billing_runs.html", **_runs_part(message)), 409
        flash(message, "warning")
        return redirect(url_for("managers.billing", _anchor="runs"), code=303)
    db.session.commit()
    if htmx:
        return render_template("manage/_billing_runs.html", **_runs_part())
    flash(f"{overview.RUN_KINDS[kind]} started (run {run.id}).", "success")
    return redirect(url_for("managers.billing", _anchor="runs"), code=303)


@bp.route("/billing/runs/<int:run_id>/resume", methods=["POST"])
def resume_billing_run(run_id: int):
    """Continue a stalled run (its worker died): a new job picks it up after the commit."""
    from app.billing.processes.runs import resume_run

    db.get_or_404(BillingRun, run_id)
    htmx = is_htmx()
    try:
        run = resume_run(run_id, current_user._get_current_object())
    except ValidationError as exc:
        db.session.rollback()
        message = " ".join(m for messages in exc.errors.values() for m in messages) or "The run cannot be resumed."
        if htmx:
            run = db.session.get(BillingRun, run_id)
            return render_template(
                "manage/_billing_run_progress.html", run=run, is_stale=overview.run_is_stale, resume_error=message
            ), 409
        flash(message, "warning")
        return redirect(url_for("managers.billing", _anchor="runs"), code=303)
    db.session.commit()
    if htmx:
        return render_template("manage/_billing_run_progress.html", run=run, is_stale=overview.run_is_stale)
    flash(f"Run {run_id} resumed: a worker continues it where it stopped.", "success")
    return redirect(url_for("managers.billing", _anchor="runs"), code=303)


@bp.route("/billing/runs/<int:run_id>/progress")
def billing_run_progress(run_id: int):
    """The run's progress bar; it polls itself while the run is running and stops when it is not."""
    run = db.get_or_404(BillingRun, run_id)
    return render_template("manage/_billing_run_progress.html", run=run, is_stale=overview.run_is_stale)


@bp.route("/billing/automatic-runs", methods=["POST"])
def billing_automatic_runs():
    """Pause or resume the schedule's weekly, monthly and retry runs (the daily close goes on)."""
    choice = request.form.get("automatic_runs", "")
    if choice not in ("on", "off"):
        flash("Choose on or off.", "warning")
        return redirect(url_for("managers.billing", _anchor="runs"), code=303)
    set_automatic_runs(choice == "on", current_user._get_current_object())
    db.session.commit()
    flash(f"Automatic runs are {'on' if choice == 'on' else 'paused'}.", "success")
    return redirect(url_for("managers.billing", _anchor="runs"), code=303)


# ---------------------------------------------------------------- parked parties


@bp.route("/billing/parked/<int:park_id>/retry", methods=["POST"])
def retry_parked_party(park_id: int):
    """Post a parked party's failing billing event again (a job, after the commit) and bill it."""
    from app.billing.processes.parked import request_retry

    db.get_or_404(ParkedParty, park_id)
    try:
        park = request_retry(park_id, current_user._get_current_object())
    except ValidationError as exc:
        db.session.rollback()
        message = " ".join(m for messages in exc.errors.values() for m in messages) or "It cannot be retried."
        flash(message, "warning")
        return redirect(url_for("managers.billing", _anchor="parked"), code=303)
    name = park.user.name
    db.session.commit()
    flash(f"Retrying the billing of {name}: the page shows it billed once the event is posted.", "success")
    return redirect(url_for("managers.billing", _anchor="parked"), code=303)


# ---------------------------------------------------------------- invoices


@bp.route("/billing/invoices/<int:invoice_id>")
def billing_invoice(invoice_id: int):
    invoice = db.get_or_404(Invoice, invoice_id)
    return render_template(
        "manage/billing_invoice.html",
        invoice=invoice,
        lines=queries.invoice_lines(invoice),
        settlements=queries.invoice_settlements(invoice),
        account_id=queries.party_account_id(invoice.party_kind, invoice.user_id),
    )


@bp.route("/billing/invoices/<int:invoice_id>/mark-paid", methods=["POST"])
def mark_invoice_paid(invoice_id: int):
    from app.billing.processes.payments import mark_paid_manually

    invoice = db.get_or_404(Invoice, invoice_id)
    try:
        mark_paid_manually(invoice, current_user._get_current_object())
    except ValidationError as exc:
        db.session.rollback()
        message = " ".join(m for messages in exc.errors.values() for m in messages) or "It cannot be marked paid."
        flash(f"Invoice {invoice_id}: {message}", "warning")
        return redirect(url_for("managers.billing", _anchor="invoices"), code=303)
    db.session.commit()
    flash(f"Invoice {invoice_id} was marked paid.", "success")
    return redirect(local_path(request.form.get("next")) or url_for("managers.billing", _anchor="invoices"), code=303)


# ---------------------------------------------------------------- the sandbox provider


@bp.route("/billing/sandbox", methods=["POST"])
def billing_sandbox():
    from app.billing.providers import set_sandbox

    form = _sandbox_form()
    if not form.validate_on_submit():
        return _render_dashboard(form, 422)
    try:
        set_sandbox(form.fail_user_ids.data or "", form.fail_rate.data or "0", form.delay_ms.data or "0")
    except ValidationError as exc:
        db.session.rollback()
        apply_errors(form, exc.errors)
        return _render_dashboard(form, 422)
    db.session.commit()
    flash("The sandbox provider's settings were saved.", "success")
    return redirect(url_for("managers.billing", _anchor="sandbox"), code=303)


# ---------------------------------------------------------------- the ledger of any party


@bp.route("/billing/ledger")
def billing_ledger():
    """With ?account=<id> (or ?user=<id>&kind=client|worker) one account's lines with the running
    balance; without, the accounts with their balances (searchable by name or email)."""
    account_id = request.args.get("account", type=db_int)
    user_id = request.args.get("user", type=db_int)
    if account_id is None and user_id is not None:
        kind = request.args.get("kind", AccountKind.CLIENT)
        if kind not in (AccountKind.CLIENT, AccountKind.WORKER):
            abort(404)
        account_id = queries.party_account_id(kind, user_id)
        if account_id is None:
            abort(404)
        return redirect(url_for("managers.billing_ledger", account=account_id), code=302)
    page, per_page = page_args(50)
    if account_id is None:
        search = request.args.get("q", "").strip()
        rows, has_next = queries.accounts(page, per_page, search)
        return render_template("manage/billing_accounts.html", accounts=rows, page=page, has_next=has_next, q=search)
    account = queries.account(account_id)
    if account is None:
        abort(404)
    lines, has_next = queries.ledger_lines(account.id, page, per_page, sign=queries.natural_sign(account.kind))
    context = {"account": account, "lines": lines, "page": page, "has_next": has_next}
    if htmx_target() == "ledger-lines":
        return render_template("manage/_billing_ledger_lines.html", **context)
    return render_template("manage/billing_ledger.html", **context)
