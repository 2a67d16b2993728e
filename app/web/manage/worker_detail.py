"""A worker's page for managers (US-270): profile, money (earnings, fines, credits, balance,
invoices, every ledger line) and the credit form: any amount, a required reason, recorded with
the manager who gave it and shown to the worker.
"""

from __future__ import annotations

import secrets

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.accounts.models import User, UserRole
from app.billing import queries, statements
from app.billing.models import AccountKind
from app.extensions import db
from app.platform.money import format_money
from app.platform.validation import ValidationError
from app.web.core.forms import CheckedForm, MoneyField, apply_errors
from app.web.core.htmx import htmx_target
from app.web.core.pagination import page_args
from app.web.manage.blueprint import bp


class CreditForm(CheckedForm):
    amount = MoneyField(
        "Amount (units)",
        validators=[DataRequired("Enter an amount.")],
        allow_negative=True,
        description="Up to two decimals, e.g. 25.00 or 25,00; a negative amount takes money back.",
    )
    reason = TextAreaField("Reason", validators=[DataRequired("Say why."), Length(max=1000)])
    # One token per form shown: a double submit of the same form credits once.
    token = HiddenField()
    # The first submit shows the amount as understood and asks to confirm it.
    confirmed = HiddenField()


def _worker(user_id: int) -> User:
    worker = db.session.scalar(
        select(User)
        .join(UserRole, (UserRole.user_id == User.id) & (UserRole.role == "worker"))
        .where(User.id == user_id)
        .options(joinedload(User.worker_profile))
    )
    if worker is None:
        abort(404)
    return worker


def _render(worker: User, form: CreditForm | None = None, status: int = 200, problems=(), confirming=False):
    if form is None:
        form = CreditForm()
        form.token.data = secrets.token_urlsafe(16)
    page, per_page = page_args(25)
    account_id = queries.party_account_id(AccountKind.WORKER, worker.id)
    lines, has_next = queries.ledger_lines(account_id, page, per_page, sign=queries.natural_sign(AccountKind.WORKER))
    if htmx_target() == "ledger-lines":
        return render_template(
            "manage/_worker_detail_ledger.html", worker=worker, lines=lines, page=page, has_next=has_next
        )
    invoices, invoices_has_next = queries.party_invoices(AccountKind.WORKER, worker.id, 1, 24)
    return (
        render_template(
            "manage/worker_detail.html",
            worker=worker,
            money=statements.worker_money(worker.id),
            credits=statements.worker_credits(worker.id),
            invoices=invoices,
            invoices_has_next=invoices_has_next,
            account_id=account_id,
            lines=lines,
            page=page,
            has_next=has_next,
            form=form,
            problems=problems,
            confirming=confirming,
        ),
        status,
    )


@bp.route("/workers/<int:user_id>")
def worker_detail(user_id: int):
    return _render(_worker(user_id))


@bp.route("/workers/<int:user_id>/credits", methods=["POST"])
def credit_worker(user_id: int):
    from app.billing.credits import credit_worker as give_credit

    worker = _worker(user_id)
    form = CreditForm()
    if not form.validate_on_submit():
        return _render(worker, form, 422)
    if form.confirmed.data != "yes":
        form.confirmed.data = "yes"
        form.amount.data = format_money(form.amount.cents).replace(",", "")
        return _render(worker, form, confirming=True)
    try:
        give_credit(
            worker,
            form.amount.cents,
            form.reason.data,
            current_user._get_current_object(),
            idempotency_key=f"form:{form.token.data}" if form.token.data else None,
        )
    except ValidationError as exc:
        db.session.rollback()
        problems = apply_errors(form, exc.errors)
        return _render(_worker(user_id), form, 422, problems)
    db.session.commit()
    flash(f"{worker.name} was credited {format_money(form.amount.cents)} units.", "success")
    return redirect(url_for("managers.worker_detail", user_id=user_id, _anchor="credits"), code=303)
