"""The test bank (tests, questions, correct answers, points, time limit, trait) and the vacancies
with their default test sets (US-110), under /manage/hiring."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from app.extensions import db
from app.hiring import queries, services
from app.hiring.models import HiringTest, Question, Vacancy
from app.platform.validation import ValidationError
from app.web.core.forms import apply_errors
from app.web.manage.blueprint import bp
from app.web.manage.hiring_forms import ActionForm, QuestionForm, TestForm, VacancyForm


def _save(form, save, status_page, done: str, target):
    """Validate, call the service, commit and 303 to `target(result)`; else the page with messages (422)."""
    if not form.validate_on_submit():
        return status_page(422)
    try:
        result = save()
    except ValidationError as exc:
        db.session.rollback()
        form.form_errors.extend(apply_errors(form, exc.errors))
        return status_page(422)
    db.session.commit()
    flash(done, "success")
    return redirect(target(result), code=303)


# ---------------------------------------------------------------- tests


def _save_test_from(form: TestForm, test: HiringTest | None) -> HiringTest:
    """Create (test None) or edit a test from the test form's fields."""
    return services.save_test(
        test,
        name=form.name.data,
        description=form.description.data,
        trait=form.trait.data,
        time_limit_minutes=form.time_limit_minutes.data,
        pass_mark_percent=form.pass_mark_percent.data,
    )


@bp.route("/hiring/tests", methods=["GET", "POST"])
def hiring_tests():
    form = TestForm()

    def page(status=200):
        return render_template(
            "manage/hiring/tests.html", tests=queries.all_tests(), form=form, traits=queries.known_traits()
        ), status

    if request.method == "GET":
        return page()
    return _save(
        form,
        lambda: _save_test_from(form, None),
        page,
        "The test was added; now give it questions.",
        lambda test: url_for("managers.hiring_test", test_id=test.id),
    )


@bp.route("/hiring/tests/<int:test_id>", methods=["GET", "POST"])
def hiring_test(test_id: int):
    test = db.session.get(HiringTest, test_id) or abort(404)
    form = (
        TestForm(obj=test)
        if request.method == "POST"
        else TestForm(formdata=None, obj=test, time_limit_minutes=test.time_limit_seconds // 60)
    )
    question_form = QuestionForm(formdata=None)

    def page(status=200, question_form=question_form):
        return render_template(
            "manage/hiring/test.html",
            test=test,
            form=form,
            question_form=question_form,
            action_form=ActionForm(formdata=None),
            traits=queries.known_traits(),
        ), status

    if request.method == "GET":
        return page()
    return _save(
        form,
        lambda: _save_test_from(form, test),
        page,
        "The test was saved.",
        lambda saved: url_for("managers.hiring_test", test_id=saved.id),
    )


@bp.route("/hiring/tests/<int:test_id>/questions", methods=["POST"])
def hiring_question_add(test_id: int):
    test = db.session.get(HiringTest, test_id) or abort(404)
    form = QuestionForm()

    def page(status):
        return render_template(
            "manage/hiring/test.html",
            test=test,
            form=TestForm(formdata=None, obj=test, time_limit_minutes=test.time_limit_seconds // 60),
            question_form=form,
            action_form=ActionForm(formdata=None),
            traits=queries.known_traits(),
        ), status

    return _save(
        form,
        lambda: services.save_question(
            test,
            None,
            kind=form.kind.data,
            text=form.text.data,
            choices=form.choices.data,
            correct=form.correct.data,
            points=form.points.data,
        ),
        page,
        "The question was added.",
        lambda question: url_for("managers.hiring_test", test_id=test.id) + f"#question-{question.id}",
    )


@bp.route("/hiring/tests/<int:test_id>/questions/<int:question_id>/delete", methods=["POST"])
def hiring_question_delete(test_id: int, question_id: int):
    question = db.session.get(Question, question_id)
    if question is None or question.test_id != test_id:
        abort(404)
    if ActionForm().validate_on_submit():
        services.delete_question(question)
        db.session.commit()
        flash("The question was removed.", "success")
    return redirect(url_for("managers.hiring_test", test_id=test_id), code=303)


# ---------------------------------------------------------------- vacancies


def _vacancy_save(vacancy: Vacancy | None, form: VacancyForm) -> Vacancy:
    return services.save_vacancy(
        vacancy,
        title=form.title.data,
        slug=form.slug.data,
        description=form.description.data,
        is_open=form.is_open.data,
    )


@bp.route("/hiring/vacancies", methods=["GET", "POST"])
def hiring_vacancies():
    form = VacancyForm()

    def page(status=200):
        return render_template("manage/hiring/vacancies.html", vacancies=queries.all_vacancies(), form=form), status

    if request.method == "GET":
        return page()
    return _save(
        form,
        lambda: _vacancy_save(None, form),
        page,
        "The vacancy was created; give it its test set.",
        lambda vacancy: url_for("managers.hiring_vacancy", vacancy_id=vacancy.id),
    )


@bp.route("/hiring/vacancies/<int:vacancy_id>", methods=["GET", "POST"])
def hiring_vacancy(vacancy_id: int):
    vacancy = db.session.get(Vacancy, vacancy_id) or abort(404)
    form = VacancyForm() if request.method == "POST" else VacancyForm(formdata=None, obj=vacancy)

    def page(status=200):
        in_set = [link.test_id for link in vacancy.tests]
        return render_template(
            "manage/hiring/vacancy.html",
            vacancy=vacancy,
            form=form,
            action_form=ActionForm(formdata=None),
            other_tests=[test for test in queries.all_tests() if test.id not in in_set],
        ), status

    if request.method == "GET":
        return page()
    return _save(
        form,
        lambda: _vacancy_save(vacancy, form),
        page,
        "The vacancy was saved.",
        lambda saved: url_for("managers.hiring_vacancy", vacancy_id=saved.id),
    )


@bp.route("/hiring/vacancies/<int:vacancy_id>/tests", methods=["POST"])
def hiring_vacancy_tests(vacancy_id: int):
    """US-110: the vacancy's default set: add, remove or move one test."""
    vacancy = db.session.get(Vacancy, vacancy_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    ids = [link.test_id for link in vacancy.tests]
    operation, test_id = request.form.get("op", ""), request.form.get("test_id", type=int)
    if operation == "add" and test_id and test_id not in ids:
        ids.append(test_id)
    elif operation == "remove" and test_id in ids:
        ids.remove(test_id)
    elif operation in ("up", "down") and test_id in ids:
        index = ids.index(test_id)
        other = index - 1 if operation == "up" else index + 1
        if 0 <= other < len(ids):
            ids[index], ids[other] = ids[other], ids[index]
    try:
        services.set_vacancy_tests(vacancy, ids)
    except ValidationError as exc:
        db.session.rollback()
        flash("; ".join(message for messages in exc.errors.values() for message in messages), "error")
        return redirect(url_for("managers.hiring_vacancy", vacancy_id=vacancy_id), code=303)
    db.session.commit()
    flash("The vacancy's test set was saved.", "success")
    return redirect(url_for("managers.hiring_vacancy", vacancy_id=vacancy_id), code=303)


@bp.route("/hiring/vacancies/<int:vacancy_id>/open", methods=["POST"])
def hiring_vacancy_open(vacancy_id: int):
    vacancy = db.session.get(Vacancy, vacancy_id) or abort(404)
    if ActionForm().validate_on_submit():
        services.set_vacancy_open(vacancy, request.form.get("open") == "1")
        db.session.commit()
        flash("The vacancy is open." if vacancy.is_open else "The vacancy is closed.", "success")
    return redirect(url_for("managers.hiring_vacancy", vacancy_id=vacancy_id), code=303)
