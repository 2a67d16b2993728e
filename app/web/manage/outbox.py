"""The email outbox for managers (US-300): status, attempts, last error, retry."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from app.extensions import db
from app.notifications.models import EmailStatus, OutboxEmail
from app.notifications.services import retry_email
from app.platform.paging import fetch_page
from app.web.core.htmx import is_htmx, page_or_fragment
from app.web.core.pagination import page_args
from app.web.manage.blueprint import bp

STATUSES = [status.value for status in EmailStatus]


@bp.route("/outbox")
def outbox():
    status = request.args.get("status", "")
    if status and status not in STATUSES:
        abort(400)
    page, per_page = page_args(50)
    search = request.args.get("q", "").strip().lower()[:254]
    query = select(OutboxEmail).order_by(OutboxEmail.id.desc())
    if status:
        query = query.where(OutboxEmail.status == status)
    if search:  # recipients are stored lower-cased: a prefix search uses the (recipient, sequence) index
        query = query.where(OutboxEmail.recipient.startswith(search, autoescape=True))
    emails, has_next = fetch_page(query, page, per_page)
    counts = dict(db.session.execute(select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status)).all())
    return page_or_fragment(
        "manage/outbox.html",
        "manage/_outbox_table.html",
        emails=emails,
        has_next=has_next,
        page=page,
        status=status,
        q=search,
        statuses=STATUSES,
        counts=counts,
    )


@bp.route("/outbox/<int:email_id>/retry", methods=["POST"])
def retry_outbox_email(email_id: int):
    email = db.get_or_404(OutboxEmail, email_id)
    try:
        retry_email(email)
    except ValueError as exc:
        if is_htmx():
            return render_template("manage/_outbox_row.html", email=email, error=str(exc)), 409
        flash(str(exc), "warning")
        return redirect(url_for("managers.outbox"), code=303)
    db.session.commit()
    if is_htmx():
        return render_template("manage/_outbox_row.html", email=email)
    flash(f"Message {email.id} to {email.recipient} will be sent again.", "success")
    return redirect(url_for("managers.outbox"), code=303)
