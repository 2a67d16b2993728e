"""The applicant's pages, reached by the signed, expiring links of their mail (no account):
confirming the email (double opt-in), the application's stage and results, and taking tests one
at a time. The token names one application; every assignment id is checked against it (404)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for

from app.extensions import db
from app.hiring import links, services
from app.hiring.models import AssignmentStatus, Stage, TestAssignment
from app.platform.clock import utcnow
from app.platform.validation import ValidationError
from app.web.careers.blueprint import bp


def _application(token: str, purpose: str = links.PAGE):
    try:
        return links.application_for(token, purpose)
    except links.LinkInvalid as exc:
        abort(current_app.make_response((render_template("public/careers/link_invalid.html", message=str(exc)), 404)))


def _assignment(token: str, assignment_id: int) -> TestAssignment:
    application = _application(token)
    assignment = db.session.get(TestAssignment, assignment_id)
    if assignment is None or assignment.application_id != application.id:
        abort(404)
    return assignment


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """A GET only shows the button: mail scanners that follow links must not confirm for people."""
    application = _application(token, links.CONFIRM)
    if request.method == "POST":
        try:
            services.confirm(application)
        except ValidationError as exc:
            db.session.rollback()
            message = next(iter(exc.errors.values()))[0]
            return render_template("public/careers/link_invalid.html", message=message), 410
        db.session.commit()
        return redirect(url_for("careers.applicant", token=links.make_token(application, links.PAGE)), code=303)
    if application.stage != Stage.UNCONFIRMED:
        return redirect(url_for("careers.applicant", token=links.make_token(application, links.PAGE)))
    return render_template("public/careers/confirm.html", application=application, token=token)


def _finish_overdue(application) -> None:
    """A test whose time ran out while the applicant was away is scored now (the job does it too)."""
    now = utcnow()
    changed = False
    for assignment in application.assignments:
        if assignment.status == AssignmentStatus.IN_PROGRESS and assignment.deadline_at < now:
            changed = services.submit_test(assignment, now) or changed
    if changed:
        db.session.commit()


@bp.route("/application/<token>")
def applicant(token: str):
    application = _application(token)
    _finish_overdue(application)
    return render_template(
        "public/careers/applicant.html",
        application=application,
        token=token,
        current=services.next_assignment(application) if application.stage == Stage.TESTS_ASSIGNED else None,
    )


def _test_page(token: str, assignment: TestAssignment, status: int = 200, problem: str = ""):
    answers = {answer.question_id: answer.value for answer in assignment.answers}
    remaining = max(0, int((assignment.deadline_at - utcnow()).total_seconds())) if assignment.deadline_at else None
    return (
        render_template(
            "public/careers/test.html",
            assignment=assignment,
            test=assignment.test,
            token=token,
            answers=answers,
            remaining=remaining,
            problem=problem,
        ),
        status,
    )


@bp.route("/application/<token>/tests/<int:assignment_id>")
def take_test(token: str, assignment_id: int):
    assignment = _assignment(token, assignment_id)
    _finish_overdue(assignment.application)
    if assignment.status != AssignmentStatus.IN_PROGRESS:
        return redirect(url_for("careers.applicant", token=token))
    return _test_page(token, assignment)


@bp.route("/application/<token>/tests/<int:assignment_id>/start", methods=["POST"])
def start_test(token: str, assignment_id: int):
    assignment = _assignment(token, assignment_id)
    try:
        services.start_test(assignment)
    except ValidationError as exc:
        db.session.rollback()
        flash(next(iter(exc.errors.values()))[0], "warning")
        return redirect(url_for("careers.applicant", token=token), code=303)
    db.session.commit()
    return redirect(url_for("careers.take_test", token=token, assignment_id=assignment_id), code=303)


def _given(question, form) -> object:
    """The answer as the form sent it: choice indexes, or the number as typed."""
    name = f"q{question.id}"
    if question.kind == "multiple":
        return [int(value) for value in form.getlist(name) if value.isdigit()]
    raw = (form.get(name) or "").strip()
    if question.kind == "single":
        return [int(raw)] if raw.isdigit() else None
    return raw or None


@bp.route("/application/<token>/tests/<int:assignment_id>/answers/<int:question_id>", methods=["POST"])
def save_answer(token: str, assignment_id: int, question_id: int):
    """htmx: one answer, saved as it is given; the answer after the time limit does not count."""
    assignment = _assignment(token, assignment_id)
    question = next((q for q in assignment.test.questions if q.id == question_id), None)
    if question is None:
        abort(404)
    try:
        services.save_answer(assignment, question_id, _given(question, request.form))
    except services.TimeUp as exc:
        db.session.commit()  # the test was scored with what came in time
        response = current_app.make_response((str(next(iter(exc.errors.values()))[0]), 409))
        response.headers["HX-Redirect"] = url_for("careers.applicant", token=token)
        return response
    db.session.commit()
    return render_template("public/careers/_saved.html", question=question, at=utcnow())


@bp.route("/application/<token>/tests/<int:assignment_id>/submit", methods=["POST"])
def submit_test(token: str, assignment_id: int):
    """Hand in: without JavaScript the answers come with this POST; in time they are saved first."""
    assignment = _assignment(token, assignment_id)
    if assignment.status == AssignmentStatus.IN_PROGRESS:
        for question in assignment.test.questions:
            if f"q{question.id}" in request.form:
                try:
                    services.save_answer(assignment, question.id, _given(question, request.form))
                except services.TimeUp:
                    break
        if assignment.status == AssignmentStatus.IN_PROGRESS:
            services.submit_test(assignment)
    db.session.commit()
    return redirect(url_for("careers.applicant", token=token), code=303)
