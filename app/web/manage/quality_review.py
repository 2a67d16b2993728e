"""The review page of one queued order (US-190, US-210, US-305): everything about the order on one
page (timeline, photos, why matching chose the worker, kit and cookie, price, charges, earnings and
fines, the mails sent about it, the people's contact details), the call log, and the review form,
or the submitted review with its amendment form and history.
"""

from __future__ import annotations

import secrets

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from app.accounts.models import User
from app.billing.queries import order_postings
from app.extensions import db
from app.matching.services import latest_run, worker_names
from app.notifications.queries import mails_about
from app.orders.models import Order
from app.orders.timeline import order_timeline, user_names
from app.platform.validation import ValidationError
from app.quality import queries
from app.quality import services as quality
from app.quality.models import CRITERIA, CallLog
from app.supplies.models import CookieRequest, Kit
from app.web.core.forms import apply_errors
from app.web.manage.blueprint import bp
from app.web.manage.quality_forms import NEW_CAUSE, AmendForm, CallForm, ReviewForm


def _root_cause_choices(current: str | None = None) -> list[tuple[str, str]]:
    names = quality.root_cause_names()
    if current and current.lower() not in {name.lower() for name in names}:
        names.append(current)
    return [
        SelectChoice("", "Choose"),
        *(SelectChoice(name, name) for name in names),
        SelectChoice(NEW_CAUSE, "Another one (type it below)"),
    ]


def _fill_choices(form: ReviewForm, current_cause: str | None = None) -> ReviewForm:
    form.root_cause.choices = _root_cause_choices(current_cause)
    form.hypotheses.choices = [SelectChoice(h.id, h.sentence) for h in queries.hypothesis_choices()]
    return form


def _review_form(item) -> ReviewForm:
    form = _fill_choices(ReviewForm(formdata=None))
    form.token.data = secrets.token_urlsafe(24)
    return form


def _amend_form(review) -> AmendForm:
    form = _fill_choices(AmendForm(formdata=None), review.root_cause.name)
    for name, _ in CRITERIA:
        getattr(form, name).data = getattr(review, name)
    form.fault.data = review.fault
    form.root_cause.data = review.root_cause.name
    form.findings.data = review.findings
    form.client_message.data = review.client_message
    form.worker_message.data = review.worker_message
    form.hypotheses.data = [h.id for h in review.hypotheses]
    return form


def _input(form: ReviewForm) -> quality.ReviewInput:
    cause = form.root_cause.data or ""
    if cause == NEW_CAUSE or (form.new_root_cause.data or "").strip():
        cause = form.new_root_cause.data or ""
    new = []
    parts = [form.new_if_we.data, form.new_then.data, form.new_because.data]
    if any((part or "").strip() for part in parts):
        new.append(quality.NewHypothesis(*(part or "" for part in parts)))
    return quality.ReviewInput(
        scores={name: getattr(form, name).data for name, _ in CRITERIA},
        fault=form.fault.data or "",
        root_cause=cause,
        findings=form.findings.data or "",
        client_message=form.client_message.data or "",
        worker_message=form.worker_message.data or "",
        hypothesis_ids=[int(value) for value in form.hypotheses.data or []],
        new_hypotheses=new,
    )


def _show(form: ReviewForm, exc: ValidationError) -> None:
    form.form_errors.extend(apply_errors(form, exc.errors, {"item": None, "token": None, "review": None}))


def _item_or_404(item_id: int):
    item = queries.item(item_id)
    if item is None:
        abort(404)
    return item


def _page(item_id: int, status: int = 200, **forms):
    item = _item_or_404(item_id)
    order = db.session.scalar(
        select(Order)
        .where(Order.id == item.order_id)
        .options(
            joinedload(Order.client).joinedload(User.client_profile),
            joinedload(Order.worker).joinedload(User.worker_profile),
            joinedload(Order.service_type),
        )
    )
    entries = order_timeline(item.order_id, "manager")
    run = latest_run(item.order_id)
    ids = {item.order.client_id, item.order.worker_id, item.claimed_by_id}
    review = item.review
    if review is not None:
        ids.add(review.reviewer_id)
        ids.update(revision.changed_by_id for revision in review.revisions)
    calls = list(db.session.scalars(select(CallLog).where(CallLog.item_id == item.id).order_by(CallLog.at.desc())))
    ids.update(call.by_id for call in calls)
    names = user_names(ids)
    review_key = [f"quality:review:{review.id}:"] if review is not None else []
    return (
        render_template(
            "manage/quality/item.html",
            item=item,
            facts=item.order,
            order=order,
            timeline=entries,
            run=run,
            worker_names=worker_names(run) if run else {},
            names=names,
            kit=db.session.get(Kit, item.order_id),
            cookie=db.session.get(CookieRequest, item.order_id),
            postings=order_postings(item.order_id),
            mails=mails_about([entry.event_id for entry in entries], [f"cookie:order:{item.order_id}", *review_key]),
            calls=calls,
            review=review,
            criteria=CRITERIA,
            mine=item.claimed_by_id == current_user.id,
            call_form=forms.get("call_form") or CallForm(formdata=None),
            review_form=forms.get("review_form") or (_review_form(item) if review is None else None),
            amend_form=forms.get("amend_form") or (_amend_form(review) if review is not None else None),
        ),
        status,
    )


@bp.route("/quality/items/<int:item_id>")
def quality_item(item_id: int):
    return _page(item_id)


@bp.route("/quality/items/<int:item_id>/calls", methods=["POST"])
def quality_log_call(item_id: int):
    _item_or_404(item_id)
    form = CallForm()
    if not form.validate_on_submit():
        return _page(item_id, 422, call_form=form)
    try:
        quality.log_call(item_id, current_user.id, form.party.data, form.outcome.data, form.notes.data or "")
    except ValidationError as exc:
        db.session.rollback()
        _show(form, exc)
        return _page(item_id, 422, call_form=form)
    db.session.commit()
    flash("The call is logged.", "success")
    return redirect(url_for("managers.quality_item", item_id=item_id, _anchor="calls"), code=303)


@bp.route("/quality/items/<int:item_id>/review", methods=["POST"])
def quality_submit_review(item_id: int):
    """US-210: store the review once (the form's token), mail both parties (US-305)."""
    _item_or_404(item_id)
    form = _fill_choices(ReviewForm())
    if not form.validate_on_submit():
        return _page(item_id, 422, review_form=form)
    try:
        review, created = quality.submit_review(item_id, current_user.id, form.token.data or "", _input(form))
    except quality.ClaimConflict as exc:
        db.session.rollback()
        _show(form, exc)
        return _page(item_id, 409, review_form=form)
    except quality.AlreadyReviewed as exc:
        db.session.rollback()
        flash(" ".join(exc.errors.get("item", [])), "error")
        return redirect(url_for("managers.quality_item", item_id=item_id), code=303)
    except ValidationError as exc:
        db.session.rollback()
        _show(form, exc)
        return _page(item_id, 422, review_form=form)
    db.session.commit()
    if created:
        flash("Review saved; the client and the worker are mailed the result.", "success")
    return redirect(url_for("managers.quality_item", item_id=review.item_id), code=303)


@bp.route("/quality/items/<int:item_id>/amend", methods=["POST"])
def quality_amend_review(item_id: int):
    item = _item_or_404(item_id)
    if item.review is None:
        abort(404)
    form = _fill_choices(AmendForm(), item.review.root_cause.name)
    if not form.validate_on_submit():
        return _page(item_id, 422, amend_form=form)
    try:
        revision = quality.amend_review(item.review.id, current_user.id, _input(form), form.note.data or "")
    except ValidationError as exc:
        db.session.rollback()
        _show(form, exc)
        return _page(item_id, 422, amend_form=form)
    db.session.commit()
    flash("The review is amended; the previous version is kept." if revision else "Nothing changed.", "success")
    return redirect(url_for("managers.quality_item", item_id=item_id, _anchor="review"), code=303)
