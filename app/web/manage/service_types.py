"""Managers define what clients can order (US-021): service types with a base price (US-050),
duration, the skills matching looks for and the consumables the kit needs.

Retiring a type hides it from the request form; orders that have it keep it.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import case, func, select

from app.extensions import db
from app.orders import service_types as catalogue
from app.orders.models import ACTIVE_STATUSES, Order, ServiceType
from app.platform.validation import DuplicateError, ValidationError
from app.web.core.forms import apply_errors
from app.web.manage.blueprint import bp
from app.web.manage.forms import ServiceTypeForm


def _save(form: ServiceTypeForm, service_type: ServiceType | None):
    """(saved service type, None) or (None, HTTP status) with the messages on the form."""
    if not form.validate_on_submit():
        return None, 422
    try:
        saved = catalogue.save_service_type(
            service_type,
            name=form.name.data,
            description=form.description.data or "",
            base_price_cents=form.price_cents(),
            duration_minutes=form.duration_minutes.data,
            skills=form.skills.data,
            consumables=form.consumables.data,
        )
    except ValidationError as exc:
        db.session.rollback()
        form.form_errors.extend(apply_errors(form, exc.errors))
        return None, 409 if isinstance(exc, DuplicateError) else 422
    db.session.commit()
    return saved, 200


@bp.route("/service-types", methods=["GET", "POST"])
def service_types():
    form = ServiceTypeForm()
    status = 200
    if request.method == "POST":
        saved, status = _save(form, None)
        if saved is not None:
            flash(f"Service type “{saved.name}” was created.", "success")
            return redirect(url_for("managers.service_types"), code=303)
    types = list(
        db.session.scalars(
            select(ServiceType).order_by(case((ServiceType.retired_at.is_(None), 0), else_=1), ServiceType.name)
        )
    )
    order_counts = dict(
        db.session.execute(select(Order.service_type_id, func.count()).group_by(Order.service_type_id)).all()
    )
    return (
        render_template("manage/service_types.html", form=form, types=types, order_counts=order_counts),
        status,
    )


@bp.route("/service-types/<int:type_id>", methods=["GET", "POST"])
def edit_service_type(type_id: int):
    service_type = db.get_or_404(ServiceType, type_id)
    form = ServiceTypeForm(obj=None if request.method == "POST" else service_type)
    if request.method == "GET":
        form.base_price.process_data(service_type.base_price_cents)
        form.skills.data = ", ".join(service_type.skills or [])
        form.consumables.data = "\n".join(service_type.consumables or [])
    status = 200
    if request.method == "POST":
        saved, status = _save(form, service_type)
        if saved is not None:
            flash(f"Service type “{saved.name}” was saved.", "success")
            return redirect(url_for("managers.service_types"), code=303)
    orders_count = db.session.scalar(select(func.count()).where(Order.service_type_id == service_type.id))
    return (
        render_template(
            "manage/service_types_edit.html", form=form, service_type=service_type, orders_count=orders_count
        ),
        status,
    )


@bp.route("/service-types/<int:type_id>/retire", methods=["POST"])
def retire_service_type(type_id: int):
    service_type = db.get_or_404(ServiceType, type_id)
    if request.form.get("confirmed") != "yes":
        active = db.session.scalar(
            select(func.count()).where(Order.service_type_id == type_id, Order.status.in_(ACTIVE_STATUSES))
        )
        return render_template("manage/service_type_retire.html", service_type=service_type, active=active)
    catalogue.retire_service_type(service_type, retired=True)
    db.session.commit()
    flash(f"“{service_type.name}” is retired: clients can no longer order it; its orders keep it.", "success")
    return redirect(url_for("managers.service_types"), code=303)


@bp.route("/service-types/<int:type_id>/restore", methods=["POST"])
def restore_service_type(type_id: int):
    service_type = db.get_or_404(ServiceType, type_id)
    catalogue.retire_service_type(service_type, retired=False)
    db.session.commit()
    flash(f"“{service_type.name}” can be ordered again.", "success")
    return redirect(url_for("managers.service_types"), code=303)
