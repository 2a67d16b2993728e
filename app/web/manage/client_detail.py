"""A client's page for managers (issue 12, point 10): contact, orders and money in one place, and
the form that edits the client's details (name, address, phone, payment method).

A fixed number of statements whatever the number of orders or invoices: one page of each is read
with its service types and workers joined in (tests/web/manage/test_client_detail.py counts them).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.accounts import services as accounts
from app.accounts.models import PAYMENT_METHODS, User, UserRole
from app.billing import queries as billing_queries
from app.billing import statements
from app.billing.models import AccountKind
from app.extensions import db
from app.orders.models import Order
from app.platform.paging import fetch_page
from app.platform.validation import ValidationError
from app.web.core.forms import apply_errors
from app.web.core.pagination import page_args, page_number
from app.web.manage.blueprint import bp
from app.web.manage.forms import ClientEditForm

ORDERS_PER_PAGE = 20
INVOICES_PER_PAGE = 12


def _client(user_id: int) -> User:
    """The client with their profile, or 404 (a worker's or manager's id is not a client page)."""
    client = db.session.scalar(
        select(User)
        .join(UserRole, (UserRole.user_id == User.id) & (UserRole.role == "client"))
        .where(User.id == user_id)
        .options(joinedload(User.client_profile))
    )
    if client is None:
        abort(404)
    return client


@bp.route("/clients/<int:user_id>")
def client_detail(user_id: int):
    client = _client(user_id)
    page, per_page = page_args(ORDERS_PER_PAGE)
    orders, has_next = fetch_page(
        select(Order)
        .where(Order.client_id == client.id)
        .options(joinedload(Order.service_type), joinedload(Order.worker))
        .order_by(Order.created_at.desc(), Order.id.desc()),
        page,
        per_page,
    )
    orders_total = db.session.scalar(select(func.count()).where(Order.client_id == client.id))
    invoices_page = page_number("invoices_page")
    invoices, invoices_has_next = billing_queries.party_invoices(
        AccountKind.CLIENT, client.id, invoices_page, INVOICES_PER_PAGE
    )
    return render_template(
        "manage/client_detail.html",
        client=client,
        profile=client.client_profile,
        orders=orders,
        orders_total=orders_total,
        page=page,
        has_next=has_next,
        money=statements.client_money(client.id),
        account_id=billing_queries.party_account_id(AccountKind.CLIENT, client.id),
        invoices=invoices,
        invoices_page=invoices_page,
        invoices_has_next=invoices_has_next,
        payment_methods=PAYMENT_METHODS,
    )


@bp.route("/clients/<int:user_id>/edit", methods=["GET", "POST"])
def edit_client(user_id: int):
    client = _client(user_id)
    profile = client.client_profile
    form = ClientEditForm(obj=None if request.method == "POST" else profile)
    if request.method == "GET":
        form.name.data = client.name
    status = 200
    if form.validate_on_submit():
        try:
            accounts.update_client(
                client,
                name=form.name.data,
                address=form.address.data,
                phone=form.phone.data,
                payment_method=form.payment_method.data,
            )
        except ValidationError as exc:
            db.session.rollback()
            form.form_errors.extend(apply_errors(form, exc.errors))
            status = 422
        else:
            db.session.commit()
            flash(f"{client.name}'s details were saved.", "success")
            return redirect(url_for("managers.client_detail", user_id=client.id), code=303)
    elif request.method == "POST":
        status = 422
    return render_template("manage/client_edit.html", client=client, form=form), status
