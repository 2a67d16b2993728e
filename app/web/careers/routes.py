"""The careers pages: open vacancies, one vacancy with the application form, and the flood-proof
intake (US-081): rate limits per address and per /24 first, then the honeypot, the minimum fill
time and the single-use proof of work, then the global cap; only then is one row written. Photo
re-encoding and mail happen in the intake job, after the commit."""

from __future__ import annotations

import ipaddress

from flask import abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from app.extensions import client_ip, db, limiter
from app.hiring import intake, services
from app.hiring.jobs import enqueue_intake
from app.hiring.models import Vacancy
from app.platform.uploads import discard_photo, stash_photo
from app.platform.validation import ValidationError
from app.web.careers.blueprint import bp
from app.web.careers.forms import ApplicationForm
from app.web.core.forms import apply_errors


def client_network() -> str:
    """The client's /24 (IPv6: /56): one limit for a whole neighbourhood of addresses."""
    address = client_ip()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    prefix = 24 if ip.version == 4 else 56
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _vacancy(slug: str) -> Vacancy:
    vacancy = db.session.query(Vacancy).filter_by(slug=slug).one_or_none()
    if vacancy is None or not vacancy.is_open:
        abort(404)
    return vacancy


def _limit(setting: str):
    return lambda: current_app.config[setting]


@bp.errorhandler(CSRFError)
def form_expired(error):
    return refused(
        intake.Refused(
            400, "Your form expired or was not sent from our careers page. Reload the page and send it again."
        )
    )


@bp.errorhandler(429)
def too_many(error):
    """flask-limiter's refusal, as a page saying what to do (the POST's and the form's limits)."""
    posting = request.method == "POST"
    return refused(
        intake.Refused(
            429,
            "Too many applications from your network right now. Please try again in ten minutes; nothing you "
            "sent was kept."
            if posting
            else "Too many visits from your network right now. Please try again in a minute.",
            600 if posting else 60,
        )
    )


def refused(problem: intake.Refused):
    response = current_app.make_response(
        (render_template("public/careers/refused.html", status=problem.status, message=problem.message), problem.status)
    )
    if problem.retry_after:
        response.headers["Retry-After"] = str(problem.retry_after)
    return response


@bp.route("/")
def vacancies():
    return render_template("public/careers/list.html", vacancies=services.open_vacancies())


@bp.route("/challenge")
@limiter.limit("30 per minute", key_func=client_ip)
def challenge():
    """A fresh proof-of-work challenge for the widget; stateless until a solution comes back."""
    response = jsonify(intake.new_challenge())
    response.headers["Cache-Control"] = "no-store"
    return response


def _form_page(vacancy: Vacancy, form: ApplicationForm, status: int = 200):
    form.form_token.data = form.form_token.data or intake.form_token(vacancy.id)
    return render_template("public/careers/vacancy.html", vacancy=vacancy, form=form), status


@bp.route("/<slug>")
@limiter.limit(_limit("HIRING_FORM_VIEWS_PER_NETWORK"), key_func=client_network, scope="hiring-form-network")
def vacancy(slug: str):
    return _form_page(_vacancy(slug), ApplicationForm(formdata=None))


@bp.route("/<slug>", methods=["POST"])
@limiter.limit(_limit("HIRING_LIMIT_PER_ADDRESS"), key_func=client_ip, scope="hiring-apply-address")
@limiter.limit(_limit("HIRING_LIMIT_PER_NETWORK"), key_func=client_network, scope="hiring-apply-network")
def apply(slug: str):
    vacancy = _vacancy(slug)
    intake.count_post()
    form = ApplicationForm()
    try:
        if form.website.data:
            raise intake.Refused(400, "This application could not be accepted.")
        intake.check_form_token(form.form_token.data, vacancy.id)
        intake.verify_solution(request.form.get("altcha"))
        if services.unconfirmed_last_hour() >= current_app.config["HIRING_UNCONFIRMED_PER_HOUR"]:
            raise intake.Refused(
                429,
                "We are receiving an unusual number of applications. Please try again in an "
                "hour; nothing you sent was kept.",
                3600,
            )
    except intake.Refused as problem:
        return refused(problem)
    if not form.validate():
        return _form_page(vacancy, form, 422)
    raw_photo = None
    try:
        raw_photo = stash_photo(form.photo.data, "applicants-incoming")
        application_id = services.submit_application(
            vacancy,
            {
                field: getattr(form, field).data
                for field in ("name", "email", "phone", "age", "breed", "coat_colour", "about")
            },
            raw_photo,
        )
    except ValidationError as exc:
        db.session.rollback()
        discard_photo(raw_photo)
        form.form_errors.extend(apply_errors(form, exc.errors))
        return _form_page(vacancy, form, 422)
    if application_id is None:  # the earlier application stands; the answer does not say so
        discard_photo(raw_photo)
    else:
        enqueue_intake(application_id)
    db.session.commit()
    return redirect(url_for("careers.sent", slug=vacancy.slug), code=303)


@bp.route("/<slug>/sent")
def sent(slug: str):
    vacancy = db.session.query(Vacancy).filter_by(slug=slug).one_or_none() or abort(404)
    return render_template(
        "public/careers/sent.html", vacancy=vacancy, hours=current_app.config["HIRING_CONFIRM_HOURS"]
    )
