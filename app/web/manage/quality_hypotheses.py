"""The hypotheses board (US-210): every hypothesis with its status, owner and evidence (supporting
reviews, the share of reviewed failed or cancelled orders it covers, first and last seen), sortable
by evidence; a hypothesis page with its history, supporting reviews and notes. Status changes are
recorded with who and when.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app.accounts.queries import active_with_role, contacts
from app.extensions import db
from app.platform.validation import ValidationError
from app.quality import queries
from app.quality import services as quality
from app.quality.models import Hypothesis, HypothesisStatus
from app.web.core.forms import apply_errors
from app.web.manage.blueprint import bp
from app.web.manage.quality_forms import HypothesisForm, NoteForm, OwnerForm, StatusForm

STATUSES = [status.value for status in HypothesisStatus]


def _board(form: HypothesisForm | None = None, status: int = 200):
    sort = request.args.get("sort", "evidence")
    shown = request.args.get("status", "")
    rows = queries.hypotheses_board(sort, shown)
    people = contacts(row.hypothesis.owner_id for row in rows)
    return (
        render_template(
            "manage/quality/hypotheses.html",
            rows=rows,
            people=people,
            sort=sort if sort in queries.BOARD_SORTS else "evidence",
            shown=shown if shown in STATUSES else "",
            statuses=STATUSES,
            form=form or HypothesisForm(formdata=None),
        ),
        status,
    )


@bp.route("/quality/hypotheses")
def quality_hypotheses():
    return _board()


@bp.route("/quality/hypotheses", methods=["POST"])
def quality_new_hypothesis():
    form = HypothesisForm()
    if not form.validate_on_submit():
        return _board(form, 422)
    try:
        hypothesis = quality.create_hypothesis(current_user.id, form.if_we.data, form.then.data, form.because.data)
    except ValidationError as exc:
        db.session.rollback()
        form.form_errors.extend(apply_errors(form, exc.errors))
        return _board(form, 422)
    db.session.commit()
    flash("Hypothesis added.", "success")
    return redirect(url_for("managers.quality_hypothesis", hypothesis_id=hypothesis.id), code=303)


def _page(hypothesis_id: int, status: int = 200, **forms):
    row = queries.hypothesis_row(hypothesis_id)
    if row is None:
        abort(404)
    hypothesis = row.hypothesis
    reviews = queries.supporting_reviews(hypothesis_id)
    entries = list(hypothesis.entries)
    people = contacts(
        {hypothesis.owner_id, hypothesis.created_by_id}
        | {entry.by_id for entry in entries}
        | {review.reviewer_id for review in reviews}
        | {int(entry.text) for entry in entries if entry.kind == "owner" and entry.text.isdigit()}
    )
    status_form = forms.get("status_form") or StatusForm(formdata=None)
    if status_form.status.data is None:
        status_form.status.data = hypothesis.status
    owner_form = forms.get("owner_form") or OwnerForm(formdata=None)
    _owner_choices(owner_form)
    if owner_form.owner.data is None:
        owner_form.owner.data = hypothesis.owner_id or 0
    return (
        render_template(
            "manage/quality/hypothesis.html",
            owner_form=owner_form,
            row=row,
            hypothesis=hypothesis,
            reviews=reviews,
            entries=entries,
            people=people,
            status_form=status_form,
            note_form=forms.get("note_form") or NoteForm(formdata=None),
        ),
        status,
    )


def _owner_choices(form: OwnerForm) -> OwnerForm:
    form.owner.choices = [
        SelectChoice(0, "Nobody"),
        *(SelectChoice(person.id, person.name) for person in active_with_role("manager")),
    ]
    return form


@bp.route("/quality/hypotheses/<int:hypothesis_id>")
def quality_hypothesis(hypothesis_id: int):
    return _page(hypothesis_id)


def _act(hypothesis_id: int, form, form_name: str, action, done: str):
    if db.session.get(Hypothesis, hypothesis_id) is None:
        abort(404)
    if not form.validate_on_submit():
        return _page(hypothesis_id, 422, **{form_name: form})
    try:
        action()
    except ValidationError as exc:
        db.session.rollback()
        form.form_errors.extend(apply_errors(form, exc.errors, {"hypothesis": None}))
        return _page(hypothesis_id, 422, **{form_name: form})
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("managers.quality_hypothesis", hypothesis_id=hypothesis_id), code=303)


@bp.route("/quality/hypotheses/<int:hypothesis_id>/status", methods=["POST"])
def quality_hypothesis_status(hypothesis_id: int):
    form = StatusForm()
    return _act(
        hypothesis_id,
        form,
        "status_form",
        lambda: quality.change_status(hypothesis_id, current_user.id, form.status.data or "", form.note.data or ""),
        "Status recorded.",
    )


@bp.route("/quality/hypotheses/<int:hypothesis_id>/notes", methods=["POST"])
def quality_hypothesis_note(hypothesis_id: int):
    form = NoteForm()
    return _act(
        hypothesis_id,
        form,
        "note_form",
        lambda: quality.add_note(hypothesis_id, current_user.id, form.text.data or ""),
        "Note added.",
    )


@bp.route("/quality/hypotheses/<int:hypothesis_id>/owner", methods=["POST"])
def quality_hypothesis_owner(hypothesis_id: int):
    form = _owner_choices(OwnerForm())
    return _act(
        hypothesis_id,
        form,
        "owner_form",
        lambda: quality.set_owner(hypothesis_id, current_user.id, form.owner.data or None),
        "Owner recorded.",
    )
