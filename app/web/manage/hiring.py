"""The managers' hiring board and an application's page (US-090, 110, 120): the contact log, the
applicant's test set with results and percentiles, and the actions. Each action is idempotent in
its service (row lock and stage check): a double click hires once."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import db
from app.hiring import queries, services
from app.hiring.models import BOARD_STAGES, STAGE_LABELS, Application, Stage
from app.platform.clock import company_zone
from app.platform.uploads import send_photo
from app.platform.validation import ValidationError
from app.web.core.forms import apply_errors
from app.web.core.htmx import is_htmx
from app.web.core.pagination import page_args
from app.web.manage.blueprint import bp
from app.web.manage.hiring_forms import ActionForm, ContactForm, RejectForm

PER_PAGE = 25
REFRESH_SECONDS = 15


@bp.route("/hiring")
def hiring():
    stage = request.args.get("stage", "")
    stage = stage if stage in {s.value for s in BOARD_STAGES} else ""
    vacancy_id = request.args.get("vacancy", type=int)
    search = (request.args.get("q") or "").strip()[:120]
    page, _ = page_args(PER_PAGE)
    rows, has_next = queries.board_page(stage, vacancy_id, search, page, PER_PAGE)
    args = {key: value for key, value in {"stage": stage, "vacancy": vacancy_id, "q": search}.items() if value}
    context = {
        "applications": rows,
        "has_next": has_next,
        "page": page,
        "counts": queries.stage_counts(vacancy_id, search),
        "stages": [(s.value, STAGE_LABELS[s]) for s in BOARD_STAGES],
        "stage": stage,
        "vacancy_id": vacancy_id,
        "search": search,
        "args": args,
        "refresh_seconds": REFRESH_SECONDS,
    }
    if is_htmx():
        return render_template("manage/hiring/_board.html", **context)
    return render_template("manage/hiring/board.html", vacancies=queries.all_vacancies(), **context)


def _application(application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if application is None or application.stage == Stage.UNCONFIRMED:
        abort(404)
    return application


def _page(application: Application, status: int = 200, **forms):
    test_ids = services.applicant_test_ids(application)
    tests = {test.id: test for test in queries.all_tests()}
    strengths, weaknesses = services.traits_of(application)
    return (
        render_template(
            "manage/hiring/application.html",
            application=application,
            contact_form=forms.get("contact_form") or ContactForm(formdata=None, form_key=uuid.uuid4().hex),
            reject_form=forms.get("reject_form") or RejectForm(formdata=None),
            action_form=ActionForm(formdata=None),
            set_tests=[tests[test_id] for test_id in test_ids if test_id in tests],
            own_set=bool(application.assignments),
            other_tests=[test for test in tests.values() if test.id not in test_ids],
            assignments={a.test_id: a for a in application.assignments},
            strengths=strengths,
            weaknesses=weaknesses,
        ),
        status,
    )


@bp.route("/hiring/applications/<int:application_id>")
def hiring_application(application_id: int):
    return _page(_application(application_id))


def _act(application_id: int, action, done: str, form=None, form_name: str = ""):
    application = _application(application_id)
    form = form or ActionForm()
    if not form.validate_on_submit():
        return _page(application, 422, **({form_name: form} if form_name else {}))
    try:
        message = action(application)
    except ValidationError as exc:
        db.session.rollback()
        application = _application(application_id)
        if form_name:
            form.form_errors.extend(apply_errors(form, exc.errors))
            return _page(application, 409 if isinstance(exc, services.DecisionError) else 422, **{form_name: form})
        for messages in exc.errors.values():
            for text in messages:
                flash(text, "error")
        return _page(application, 409)
    db.session.commit()
    flash(message or done, "success")
    return redirect(url_for("managers.hiring_application", application_id=application_id), code=303)


def _manager():
    return current_user._get_current_object()


@bp.route("/hiring/applications/<int:application_id>/contacts", methods=["POST"])
def hiring_contact(application_id: int):
    form = ContactForm()

    def action(application):
        when = form.contacted_at.data
        if when is not None:
            when = when.replace(tzinfo=company_zone())
        services.record_contact(
            application,
            _manager(),
            contacted_at=when,
            channel=form.channel.data,
            outcome=form.outcome.data,
            notes=form.notes.data,
            message_to_applicant=form.message.data,
            form_key=(form.form_key.data or "")[:64] or None,
        )

    return _act(application_id, action, "The contact is in the log.", form, "contact_form")


@bp.route("/hiring/applications/<int:application_id>/assign", methods=["POST"])
def hiring_assign(application_id: int):
    def action(application):
        if not services.assign_tests(application, _manager()):
            return "The tests were assigned already."
        return None

    return _act(application_id, action, "The tests are assigned and the applicant has the link.")


@bp.route("/hiring/applications/<int:application_id>/tests", methods=["POST"])
def hiring_applicant_tests(application_id: int):
    """US-110: add, remove or move one test of this applicant's set (the vacancy's stays as it is)."""
    operation = request.form.get("op", "")
    test_id = request.form.get("test_id", type=int)

    def action(application):
        ids = services.applicant_test_ids(application)
        if operation == "add" and test_id and test_id not in ids:
            ids.append(test_id)
        elif operation == "remove" and test_id in ids:
            ids.remove(test_id)
        elif operation in ("up", "down") and test_id in ids:
            index = ids.index(test_id)
            other = index - 1 if operation == "up" else index + 1
            if 0 <= other < len(ids):
                ids[index], ids[other] = ids[other], ids[index]
        else:
            raise ValidationError(tests="Choose a test.")
        services.set_applicant_tests(application, ids, _manager())

    return _act(application_id, action, "This applicant's test set was changed.")


@bp.route("/hiring/applications/<int:application_id>/remind", methods=["POST"])
def hiring_remind(application_id: int):
    return _act(
        application_id, lambda application: services.remind(application, _manager()), "A reminder is on its way."
    )


@bp.route("/hiring/applications/<int:application_id>/reject", methods=["POST"])
def hiring_reject(application_id: int):
    form = RejectForm()

    def action(application):
        if not services.reject(
            application, _manager(), reason=form.reason.data, message_to_applicant=form.message.data
        ):
            return "This application was rejected already."
        return None

    return _act(application_id, action, "The application is rejected and the applicant is told.", form, "reject_form")


@bp.route("/hiring/applications/<int:application_id>/hire", methods=["POST"])
def hiring_hire(application_id: int):
    def action(application):
        worker = services.hire(application, _manager())
        return f"{worker.name} is a worker now; the invitation to set a password is on its way."

    return _act(application_id, action, "")


@bp.route("/hiring/applications/<int:application_id>/photo")
def hiring_photo(application_id: int):
    application = _application(application_id)
    if not application.photo_path:
        abort(404)
    try:
        return send_photo(application.photo_path)
    except FileNotFoundError:
        abort(404)
