"""Managers' matching pages (US-060..073): the pipeline's steps at /manage/matching, a "try it"
preview that ranks the workers for an order without assigning, and re-running matching for an
order that is still requested.

"Try it" and a re-run are POSTs whose work the background worker does (external steps never run
in a web process). Every change is a POST answered with 303 (or, for htmx, the refreshed list of
steps); a bad parameter answers 422 with the message next to the field and changes nothing.
"""

from __future__ import annotations

import json

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from app.extensions import db
from app.matching import services as match_svc
from app.matching.commands import registered_commands
from app.matching.models import MatchingStep
from app.matching.params import KINDS, default_params, kind_choices, parse_params_text
from app.orders.models import Order, OrderStatus
from app.platform.validation import ValidationError
from app.web.core.forms import CheckedForm, apply_errors
from app.web.core.htmx import is_htmx
from app.web.manage.blueprint import bp

PARAMS_HINT = "A JSON object; see the parameters of each kind below."


class StepForm(CheckedForm):
    name = StringField("Name", validators=[Length(max=120)])
    params = TextAreaField("Parameters (JSON)", description=PARAMS_HINT)


class NewStepForm(StepForm):
    kind = SelectField(
        "Kind", choices=[SelectChoice(kind, label) for kind, label in kind_choices()], default="external"
    )
    params = TextAreaField(
        "Parameters (JSON)", description="Leave empty for the kind's defaults (an external step needs its command)."
    )


def _step_form(step: MatchingStep, formdata=None) -> StepForm:
    form = StepForm(formdata=formdata, prefix=f"step{step.id}")
    if formdata is None:
        form.name.data = step.name
        form.params.data = json.dumps(step.params or {}, indent=2)
    return form


def _page_context(forms: dict[int, StepForm] | None = None, new_form: NewStepForm | None = None) -> dict:
    steps = match_svc.list_steps()
    forms = forms or {}
    return {
        "steps": steps,
        "forms": {step.id: forms.get(step.id) or _step_form(step) for step in steps},
        "new_form": new_form or NewStepForm(formdata=None),
        "kinds": {kind: (label, json.dumps(default)) for kind, (label, _schema, default) in KINDS.items()},
        "commands": registered_commands(),
        "open_step": next(iter(forms), None),
    }


def _steps_response(status: int = 200, **context):
    """htmx gets the list of steps (swapped in place); a browser without it gets the whole page."""
    values = _page_context(**context)
    if is_htmx():
        return render_template("manage/_matching_steps.html", **values), status
    return render_template("manage/matching.html", **values, **_try_context(None)), status


def _done(message: str):
    if is_htmx():
        return _steps_response()
    flash(message, "success")
    return redirect(url_for("managers.matching"), code=303)


def _try_context(order: Order | None, ranking_run=None, error: str = "") -> dict:
    requested = list(
        db.session.scalars(
            select(Order).where(Order.status == OrderStatus.REQUESTED).order_by(Order.slot_start).limit(50)
        )
    )
    return {
        "requested_orders": requested,
        "try_order": order,
        "try_run": ranking_run,
        "try_names": match_svc.worker_names(ranking_run, limit=20) if ranking_run is not None else {},
        "try_error": error,
    }


@bp.route("/matching")
def matching():
    return render_template("manage/matching.html", **_page_context(), **_try_context(None))


@bp.route("/matching/steps", methods=["POST"])
def matching_add_step():
    form = NewStepForm()
    if form.validate_on_submit():
        try:
            kind = form.kind.data
            if (form.params.data or "").strip() or kind == "external":
                params = parse_params_text(form.params.data)
            else:
                params = default_params(kind)
            step = match_svc.add_step(kind, form.name.data, params)
        except ValidationError as exc:
            db.session.rollback()
            form.form_errors.extend(apply_errors(form, exc.errors))
        else:
            db.session.commit()
            return _done(f"Step “{step.name}” was added at the end of the pipeline.")
    return _steps_response(422, new_form=form)


def _step_or_404(step_id: int) -> MatchingStep:
    return db.get_or_404(MatchingStep, step_id)


@bp.route("/matching/steps/<int:step_id>", methods=["POST"])
def matching_edit_step(step_id: int):
    step = _step_or_404(step_id)
    form = _step_form(step, formdata=request.form)
    if form.validate_on_submit():
        try:
            match_svc.update_step(step, form.name.data, parse_params_text(form.params.data))
        except ValidationError as exc:
            db.session.rollback()
            form.form_errors.extend(apply_errors(form, exc.errors))
        else:
            db.session.commit()
            return _done(f"Step “{step.name}” was saved.")
    return _steps_response(422, forms={step.id: form})


def _checked_post() -> None:
    """The small buttons carry only the CSRF token; an invalid one is refused like any form."""
    if not FlaskForm().validate_on_submit():
        abort(400)


@bp.route("/matching/steps/<int:step_id>/toggle", methods=["POST"])
def matching_toggle_step(step_id: int):
    step = _step_or_404(step_id)
    _checked_post()
    match_svc.set_enabled(step, not step.enabled)
    db.session.commit()
    return _done(f"Step “{step.name}” is {'enabled' if step.enabled else 'disabled'}.")


@bp.route("/matching/steps/<int:step_id>/move", methods=["POST"])
def matching_move_step(step_id: int):
    step = _step_or_404(step_id)
    _checked_post()
    direction = request.form.get("direction")
    if direction not in ("up", "down"):
        return _steps_response(422)
    match_svc.move_step(step, -1 if direction == "up" else 1)
    db.session.commit()
    return _done(f"Step “{step.name}” moved {direction}.")


@bp.route("/matching/steps/<int:step_id>/delete", methods=["POST"])
def matching_delete_step(step_id: int):
    step = _step_or_404(step_id)
    _checked_post()
    name = step.name
    match_svc.delete_step(step)
    db.session.commit()
    return _done(f"Step “{name}” was deleted.")


def _order_from(raw: str) -> tuple[Order | None, str]:
    raw = (raw or "").strip().lstrip("#")
    if not raw:
        return None, "Choose an order or type its number."
    order = db.session.get(Order, int(raw)) if raw.isdigit() and int(raw) < 2**31 else None
    return order, "" if order is not None else f"There is no order #{raw[:20]}."


def _try_response(order: Order | None, run=None, error: str = "", state: str = "", preview: str = "", status=200):
    context = {**_try_context(order, run, error), "try_state": state, "try_preview": preview}
    if is_htmx():
        return render_template("manage/_matching_try_result.html", **context), status
    return render_template("manage/matching.html", **_page_context(), **context), status


@bp.route("/matching/try", methods=["GET", "POST"])
def matching_try():
    """The ranking the current pipeline would give an order; nothing is recorded or assigned.

    A POST asks the worker for it (external steps never run in the web process); the page then
    shows it when the worker is done (htmx polls, a browser without it reloads).
    """
    if request.method == "POST":
        _checked_post()
        order, error = _order_from(request.form.get("order_number") or request.form.get("order_id") or "")
        if order is None:
            return _try_response(None, error=error, status=422)
        job_id = match_svc.request_preview(order)
        if job_id is None:
            return _try_response(order, error="The background worker cannot be reached now; try again.", status=503)
        if is_htmx():
            return _try_response(order, state="waiting", preview=job_id, status=202)
        return redirect(url_for("managers.matching_try", order_id=order.id, preview=job_id), code=303)
    order = None
    if request.args.get("order_id"):
        order, error = _order_from(request.args["order_id"])
        if order is None:
            return _try_response(None, error=error, status=404)
    preview = request.args.get("preview", "")
    if order is None or not preview:
        return _try_response(order)
    state, run = match_svc.preview_result(preview)
    if state == "done" and run.order_id != order.id:
        state, run = "unknown", None
    errors = {"failed": "The ranking failed in the worker; see its log.", "unknown": "This preview has expired."}
    return _try_response(order, run, errors.get(state, ""), state, preview)


@bp.route("/matching/orders/<int:order_id>/run", methods=["POST"])
def matching_rerun(order_id: int):
    """Run matching again for a requested order (e.g. after hiring, when it found nobody), in the worker."""
    order = db.get_or_404(Order, order_id)
    _checked_post()
    try:
        queued = match_svc.request_rerun(order)
    except ValidationError as exc:
        flash(" ".join(message for messages in exc.errors.values() for message in messages), "error")
    else:
        if queued:
            flash(
                f"Order #{order_id} is being matched again by the worker; the result shows in its history.", "success"
            )
        else:
            flash("The background worker cannot be reached now; try again.", "error")
    target = request.form.get("next") or ""
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("managers.matching_try", order_id=order_id)
    return redirect(target, code=303)
