"""The application form's defences against a flood (US-081), cheapest first. No request here: the
careers view passes what it read.

- a signed form token carries the moment the form was rendered: a submit sooner than
  HIRING_MIN_FILL_SECONDS, or from a form older than HIRING_FORM_MAX_AGE_HOURS, is refused;
- an ALTCHA proof of work (the `altcha` package, challenges signed with a key derived from
  SECRET_KEY, so no state until a solution comes back), single-use: the challenge's signature is
  claimed with SET NX in Redis until the challenge expires, so a replayed solution is refused;
- the difficulty rises with the rate of form POSTs over the last ten minutes (a Redis counter per
  minute): each doubling above the normal rate doubles the work, up to 2**ALTCHA_MAX_LEVEL;
- a global cap on unconfirmed applications per hour (one indexed count).
"""

from __future__ import annotations

import hashlib
import math
import time

import altcha
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from redis.exceptions import RedisError

from app.platform.queues import redis_connection

ALGORITHM = "SHA-256"
COUNTER_PREFIX = "hiring:posts:"
USED_PREFIX = "hiring:altcha-used:"


class Refused(Exception):
    """A submit the form refuses before anything is written: an HTTP status and what to do."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


def _secret() -> str:
    return hashlib.sha256(("altcha:" + current_app.config["SECRET_KEY"]).encode()).hexdigest()


def _forms() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="mcf-hiring-form")


# ---------------------------------------------------------------- the form token (minimum fill time)


def form_token(vacancy_id: int) -> str:
    return _forms().dumps({"v": vacancy_id, "t": time.time()})


def check_form_token(token: str | None, vacancy_id: int) -> None:
    config = current_app.config
    try:
        data = _forms().loads(token or "", max_age=config["HIRING_FORM_MAX_AGE_HOURS"] * 3600)
    except SignatureExpired:
        raise Refused(400, "This form is too old. Reload the page and send it again.") from None
    except BadSignature:
        raise Refused(400, "This form was not sent from our careers page. Reload the page and try again.") from None
    if not isinstance(data, dict) or data.get("v") != vacancy_id:
        raise Refused(400, "This form belongs to another vacancy. Reload the page and try again.")
    waited = time.time() - float(data.get("t", 0))
    if waited < config["HIRING_MIN_FILL_SECONDS"]:
        raise Refused(429, "That was quicker than anyone can fill the form. Wait a few seconds and send it again.", 5)


# ---------------------------------------------------------------- difficulty from the intake rate


def count_post() -> None:
    """Count one form POST in this minute's bucket (kept eleven minutes)."""
    key = f"{COUNTER_PREFIX}{int(time.time() // 60)}"
    try:
        pipe = redis_connection().pipeline()
        pipe.incr(key)
        pipe.expire(key, 660)
        pipe.execute()
    except RedisError:
        pass  # the difficulty then stays where it is; nothing else depends on the counter


def posts_last_10_minutes() -> int:
    minute = int(time.time() // 60)
    try:
        values = redis_connection().mget([f"{COUNTER_PREFIX}{minute - offset}" for offset in range(10)])
    except RedisError:
        return 0
    return sum(int(value) for value in values if value)


def level_for(posts: int, normal: int, max_level: int) -> int:
    """0 at or below the normal rate, then one level per doubling above it, capped."""
    if posts <= normal or normal <= 0:
        return 0
    return min(max_level, math.ceil(math.log2(posts / normal)))


def difficulty() -> tuple[int, int]:
    """(level, cost) the next challenge gets."""
    config = current_app.config
    level = level_for(posts_last_10_minutes(), config["ALTCHA_NORMAL_POSTS_PER_10_MIN"], config["ALTCHA_MAX_LEVEL"])
    return level, config["ALTCHA_COST"] * 2**level


# ---------------------------------------------------------------- challenges


def new_challenge() -> dict:
    """A signed challenge for the widget (JSON)."""
    config = current_app.config
    _level, cost = difficulty()
    challenge = altcha.create_challenge(
        ALGORITHM,
        cost,
        key_prefix=config["ALTCHA_KEY_PREFIX"],
        expires_at=int(time.time()) + config["ALTCHA_EXPIRES_SECONDS"],
        hmac_secret=_secret(),
    )
    return challenge.to_dict()


def verify_solution(payload: str | None) -> None:
    """Check the proof of work and claim it (single use); raises Refused."""
    if not payload:
        raise Refused(
            400,
            "The anti-robot check did not run. Allow JavaScript for this page, wait for the check "
            "to finish, and send the form again.",
        )
    result = altcha.verify_solution(payload, _secret())
    if result.expired:
        raise Refused(400, "The anti-robot check expired. Send the form again: a new check will run.")
    if not result.verified:
        raise Refused(400, "The anti-robot check failed. Reload the page and send the form again.")
    try:
        signature = altcha.Payload.from_base64(payload).challenge.signature
        claimed = redis_connection().set(
            USED_PREFIX + signature, "1", nx=True, ex=current_app.config["ALTCHA_EXPIRES_SECONDS"] + 60
        )
    except RedisError:
        raise Refused(503, "We cannot check applications right now. Try again in a minute.", 60) from None
    if not claimed:
        raise Refused(409, "This anti-robot check was used already. Reload the page and send the form again.")


def solve(challenge: dict) -> str:
    """The payload a browser would send for `challenge` (tests and the benchmark use it)."""
    parsed = altcha.Challenge.from_dict(challenge)
    solution = altcha.solve_challenge(parsed)
    if solution is None:
        raise RuntimeError("the challenge could not be solved in time")
    return altcha.Payload(parsed, solution).to_base64()
