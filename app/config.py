"""Configuration classes. Every value comes from the environment, with a development default.

`make run` writes the addresses of the embedded servers it starts to `instance/services.env`;
when `DATABASE_URL`/`REDIS_URL` are not set in the environment, they are read from there, so
`flask ...` commands in the project folder reach the same servers as the running app.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("MCF_INSTANCE_DIR", PROJECT_ROOT / "instance"))
SERVICES_ENV = INSTANCE_DIR / "services.env"


def read_services_env(path: Path = SERVICES_ENV) -> dict[str, str]:
    """Parse the KEY=VALUE file that `make run` leaves for the embedded servers.

    Tests never read it: a running `make run` must not leak its servers into the suite.
    """
    if os.environ.get("MCF_ENV") == "test" or not path.is_file():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def env(name: str, default: str | None = None) -> str | None:
    """A setting from the environment, else from the embedded servers' file, else the default."""
    if name in os.environ:
        return os.environ[name]
    return read_services_env().get(name, default)


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


def env_float(name: str, default: float) -> float:
    return float(env(name, str(default)))


def env_bool(name: str, default: bool) -> bool:
    return (env(name, "1" if default else "0") or "").lower() in {"1", "true", "yes", "on"}


def sqlalchemy_url(url: str) -> str:
    """Use psycopg 3 whatever scheme the operator wrote."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


SECRET_KEY_FILE = "secret_key"


def instance_secret_key(directory: Path | None = None) -> str:
    """The development secret key: random, made once, kept in `instance/secret_key` (mode 0600).

    Several processes may start at once (`make run`): the file is created exclusively, and a
    process that loses the race reads the winner's key.
    """
    directory = Path(directory or INSTANCE_DIR)
    path = directory / SECRET_KEY_FILE
    directory.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = path.read_text().strip()
            if len(key) >= 32:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path} holds no usable secret key: delete it to make a new one") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


class BaseConfig:
    ENV_NAME = "base"
    # No fixed key anywhere: development generates one under instance/ (see `instance_secret_key`),
    # production refuses to start without one.
    SECRET_KEY = env("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = sqlalchemy_url(env("DATABASE_URL", "postgresql://localhost/mcf") or "")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")

    # Sessions: HttpOnly and SameSite=Lax cookies; "strong" protection in flask-login.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = timedelta(hours=env_int("SESSION_HOURS", 12))
    HSTS = True

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    WTF_CSRF_HEADERS = ["X-CSRFToken"]

    # Password hashing: argon2id, OWASP's recommended minimum is m=19 MiB, t=2, p=1;
    # we use argon2-cffi's RFC 9106 low-memory profile (m=64 MiB, t=3, p=4).
    ARGON2_TIME_COST = env_int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_KIB = env_int("ARGON2_MEMORY_KIB", 65536)
    ARGON2_PARALLELISM = env_int("ARGON2_PARALLELISM", 4)

    # Login throttling (flask-limiter on Redis). Failed attempts count: per (account, address), per
    # address, and per account from browsers that never signed in to it (the owner's own browser
    # carries a signed "known device" cookie, so an attacker elsewhere cannot lock the owner out).
    LOGIN_LIMIT_PER_ACCOUNT_ADDRESS = env("LOGIN_LIMIT_PER_ACCOUNT_ADDRESS", "5 per 15 minutes")
    LOGIN_LIMIT_PER_ACCOUNT = env("LOGIN_LIMIT_PER_ACCOUNT", "20 per 15 minutes")
    LOGIN_LIMIT_PER_IP = env("LOGIN_LIMIT_PER_IP", "30 per 15 minutes")
    KNOWN_DEVICE_DAYS = env_int("KNOWN_DEVICE_DAYS", 180)
    # Password checks (argon2, ~64 MiB and tens of ms each) one web process does per second at most;
    # attempts over this budget are answered at once without hashing.
    PASSWORD_CHECKS_PER_SECOND = env_float("PASSWORD_CHECKS_PER_SECOND", 2)
    # After a refused (429) sign-in, the same address's next attempts get a static 429 for this long,
    # answered before the application (app/web/core/login_gate.py); 0 turns it off.
    LOGIN_GATE_SECONDS = env_float("LOGIN_GATE_SECONDS", 5)
    # How many proxies in front of the app set X-Forwarded-For/-Proto (werkzeug's ProxyFix); 0 trusts none.
    TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)
    # Orders a client may send (issue 11): the request form and rebooking share these, per account.
    ORDER_LIMIT_PER_MINUTE = env("ORDER_LIMIT_PER_MINUTE", "5 per minute")
    ORDER_LIMIT_PER_DAY = env("ORDER_LIMIT_PER_DAY", "50 per day")
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    # With Redis down, limits go on in each process's memory (flask-limiter's fallback).
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True

    # Signed links sent by email.
    INVITATION_MAX_AGE = timedelta(days=env_int("INVITATION_DAYS", 7))
    PASSWORD_RESET_MAX_AGE = timedelta(hours=env_int("PASSWORD_RESET_HOURS", 2))
    PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", "http://127.0.0.1:5000")

    # Mail (flask-mail over SMTP).
    MAIL_SERVER = env("MAIL_SERVER", "127.0.0.1")
    MAIL_PORT = env_int("MAIL_PORT", 8025)
    MAIL_USE_TLS = env_bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = env_bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = env("MAIL_USERNAME")
    MAIL_PASSWORD = env("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = env("MAIL_DEFAULT_SENDER", "MCF <noreply@mcf.example>")
    MAIL_TIMEOUT_SECONDS = env_float("MAIL_TIMEOUT_SECONDS", 15)
    # Retry with exponential backoff: base * 2**(attempt-1), capped; dead letter after the last.
    EMAIL_MAX_ATTEMPTS = env_int("EMAIL_MAX_ATTEMPTS", 8)
    EMAIL_RETRY_BASE_SECONDS = env_float("EMAIL_RETRY_BASE_SECONDS", 30)
    EMAIL_RETRY_MAX_SECONDS = env_float("EMAIL_RETRY_MAX_SECONDS", 3600)
    # The local SMTP sink of `make run` stores mail here; the manager's mailbox page reads it.
    DEV_MAILBOX_DIR = env("DEV_MAILBOX_DIR")

    # Events: a failed consumer is retried with backoff; the sweep re-enqueues what is pending.
    EVENT_RETRY_BASE_SECONDS = env_float("EVENT_RETRY_BASE_SECONDS", 10)
    EVENT_RETRY_MAX_SECONDS = env_float("EVENT_RETRY_MAX_SECONDS", 900)
    # How soon an event that waits behind an earlier one for the same people is tried again.
    MAIL_ORDER_WAIT_SECONDS = env_float("MAIL_ORDER_WAIT_SECONDS", 1)
    SWEEP_INTERVAL_SECONDS = env_int("SWEEP_INTERVAL_SECONDS", 30)
    # /readyz: a worker counts as alive when its RQ heartbeat is this recent (RQ beats at most
    # every worker_ttl - 15 = 405 s while idle, and a dead worker's key expires after 420 s).
    READY_WORKER_HEARTBEAT_SECONDS = env_int("READY_WORKER_HEARTBEAT_SECONDS", 450)
    # /metrics answers a bearer METRICS_TOKEN, or these addresses (comma-separated); 403 otherwise.
    METRICS_TOKEN = env("METRICS_TOKEN")
    METRICS_ALLOWED_ADDRESSES = env("METRICS_ALLOWED_ADDRESSES", "127.0.0.1,::1")
    # Work younger than this is left to the enqueue that follows its commit.
    SWEEP_GRACE_SECONDS = env_float("SWEEP_GRACE_SECONDS", 5)

    # Quality: queue items waiting longer than this are highlighted (US-200).
    QUALITY_STALE_DAYS = env_int("QUALITY_STALE_DAYS", 3)

    # Orders: the company's time zone and working hours (slots are offered inside them).
    COMPANY_TIMEZONE = env("COMPANY_TIMEZONE", "UTC")
    WORKING_HOURS = env("WORKING_HOURS", "08:00-20:00")
    WORKING_DAYS = env("WORKING_DAYS", "0,1,2,3,4,5")  # Monday is 0: Monday to Saturday
    SLOT_STEP_MINUTES = env_int("SLOT_STEP_MINUTES", 30)
    BOOKING_HORIZON_DAYS = env_int("BOOKING_HORIZON_DAYS", 60)
    # US-130: a worker not checked in by the slot start plus this grace is a no-show.
    NO_SHOW_GRACE_MINUTES = env_int("NO_SHOW_GRACE_MINUTES", 30)
    NO_SHOW_CHECK_SECONDS = env_int("NO_SHOW_CHECK_SECONDS", 60)
    # How often the counts per status (app.orders.counts) are folded into one row per status.
    ORDER_COUNTS_FOLD_SECONDS = env_int("ORDER_COUNTS_FOLD_SECONDS", 60)
    # Check-in opens this long before the slot start (and stays open until the no-show grace ends).
    CHECKIN_OPENS_MINUTES = env_int("CHECKIN_OPENS_MINUTES", 60)
    # A kit still not issued this long before the slot: the department and the managers are warned.
    KIT_LATE_WARNING_MINUTES = env_int("KIT_LATE_WARNING_MINUTES", 120)

    # Matching: external steps get this long unless their own timeout is shorter.
    MATCHING_EXTERNAL_TIMEOUT_SECONDS = env_float("MATCHING_EXTERNAL_TIMEOUT_SECONDS", 5)
    # The commands external steps may run, registered by operators (app/matching/commands.py).
    MATCHING_COMMANDS_FILE = env("MATCHING_COMMANDS_FILE", str(INSTANCE_DIR / "matching_commands.toml"))

    # US-170: the cookie contractor gets the client's details by email, or by webhook if set.
    COOKIE_CONTRACTOR_EMAIL = env("COOKIE_CONTRACTOR_EMAIL", "orders@fortune-cookies.example")
    COOKIE_CONTRACTOR_WEBHOOK_URL = env("COOKIE_CONTRACTOR_WEBHOOK_URL")
    COOKIE_WEBHOOK_TIMEOUT_SECONDS = env_float("COOKIE_WEBHOOK_TIMEOUT_SECONDS", 10)

    # Billing (US-030..US-270). Periods are computed in COMPANY_TIMEZONE.
    WORKER_SHARE_PERCENT = env_int("WORKER_SHARE_PERCENT", 60)  # US-230
    FAILED_ORDER_FINE_CENTS = env_int("FAILED_ORDER_FINE_CENTS", 40_00)  # US-240: 40 units
    CLIENT_PAYMENT_PROVIDER = env("CLIENT_PAYMENT_PROVIDER", "sandbox")  # sandbox | manual
    WORKER_PAYOUT_PROVIDER = env("WORKER_PAYOUT_PROVIDER", "sandbox")  # sandbox | manual (Golden Hat)
    # A failed client charge is retried this many hours after each failure, then left failed.
    PAYMENT_RETRY_HOURS = env("PAYMENT_RETRY_HOURS", "24,72,168")
    BILLING_CHECK_SECONDS = env_int("BILLING_CHECK_SECONDS", 300)
    # US-220 / US-230: the weekly client run on a day of the week at a local time, the monthly worker
    # run on the month's last day at a local time. Each is also the period's cutoff: what ends after
    # it goes on the next invoice (app/billing/periods.py).
    WEEKLY_RUN_AT = env("WEEKLY_RUN_AT", "Sun 18:00")
    MONTHLY_RUN_AT = env("MONTHLY_RUN_AT", "18:00")
    # A run's job beats every BILLING_HEARTBEAT_SECONDS (a thread of its own, whatever the run is
    # waiting on); a running run with no heartbeat for BILLING_RUN_STALE_SECONDS is shown as
    # stalled (its worker died) and may be resumed or replaced. The margin covers a slow commit.
    BILLING_HEARTBEAT_SECONDS = env_float("BILLING_HEARTBEAT_SECONDS", 2.0)
    BILLING_RUN_STALE_SECONDS = env_int("BILLING_RUN_STALE_SECONDS", 10)
    # The sandbox provider's answer comes back this much later: a real provider's latency (the
    # benchmark) or time to kill a run midway (tests).
    SANDBOX_DELAY_SECONDS = env_float("SANDBOX_DELAY_SECONDS", 0.0)
    # Payments of a run: this many provider calls at once (threads of the run's job), their
    # attempts begun and their answers recorded this many invoices per transaction.
    BILLING_CONCURRENCY = env_int("BILLING_CONCURRENCY", 64)
    BILLING_BATCH_SIZE = env_int("BILLING_BATCH_SIZE", 200)

    # Hiring (US-080..120, US-301). Mail for managers about new applications goes to HIRING_ADDRESS.
    HIRING_ADDRESS = env("HIRING_ADDRESS", "hiring@mcf.example")
    HIRING_CONFIRM_HOURS = env_int("HIRING_CONFIRM_HOURS", 48)  # unconfirmed applications expire then
    HIRING_LINK_DAYS = env_int("HIRING_LINK_DAYS", 60)  # the applicant's page link
    HIRING_PURGE_CHECK_SECONDS = env_int("HIRING_PURGE_CHECK_SECONDS", 600)
    HIRING_TEST_CHECK_SECONDS = env_int("HIRING_TEST_CHECK_SECONDS", 30)  # scores tests whose time ran out
    HIRING_TOP_PERCENT = env_float("HIRING_TOP_PERCENT", 3.0)  # US-080: pass in the top 3%
    HIRING_MIN_ATTEMPTS = env_int("HIRING_MIN_ATTEMPTS", 100)  # fewer earlier attempts: the pass mark decides
    HIRING_STRENGTH_PERCENTILE = env_float("HIRING_STRENGTH_PERCENTILE", 90.0)
    HIRING_WEAKNESS_PERCENTILE = env_float("HIRING_WEAKNESS_PERCENTILE", 25.0)
    # US-081: the application form under a flood.
    HIRING_LIMIT_PER_ADDRESS = env("HIRING_LIMIT_PER_ADDRESS", "5 per 10 minutes")
    HIRING_LIMIT_PER_NETWORK = env("HIRING_LIMIT_PER_NETWORK", "30 per 10 minutes")  # per /24 (IPv6: /56)
    HIRING_FORM_VIEWS_PER_NETWORK = env("HIRING_FORM_VIEWS_PER_NETWORK", "300 per minute")  # GETs of the form
    HIRING_UNCONFIRMED_PER_HOUR = env_int("HIRING_UNCONFIRMED_PER_HOUR", 400)
    HIRING_MIN_FILL_SECONDS = env_float("HIRING_MIN_FILL_SECONDS", 4)
    HIRING_FORM_MAX_AGE_HOURS = env_int("HIRING_FORM_MAX_AGE_HOURS", 6)
    # ALTCHA proof of work: SHA-256 iterated `cost` times until the key starts with the prefix.
    ALTCHA_COST = env_int("ALTCHA_COST", 400)
    ALTCHA_KEY_PREFIX = env("ALTCHA_KEY_PREFIX", "00")
    ALTCHA_EXPIRES_SECONDS = env_int("ALTCHA_EXPIRES_SECONDS", 1200)
    # Form POSTs per 10 minutes counted as normal; each doubling above it doubles the cost (up to 2**max).
    ALTCHA_NORMAL_POSTS_PER_10_MIN = env_int("ALTCHA_NORMAL_POSTS_PER_10_MIN", 60)
    ALTCHA_MAX_LEVEL = env_int("ALTCHA_MAX_LEVEL", 4)

    # Uploaded photos live outside the web root.
    UPLOAD_DIR = env("UPLOAD_DIR", str(INSTANCE_DIR / "uploads"))
    MAX_PHOTO_BYTES = env_int("MAX_PHOTO_MB", 8) * 1024 * 1024
    MAX_CONTENT_LENGTH = MAX_PHOTO_BYTES + 1024 * 1024  # a photo plus the form around it


class DevelopmentConfig(BaseConfig):
    ENV_NAME = "development"
    DEBUG = env_bool("FLASK_DEBUG", False)
    HSTS = False
    # Without SECRET_KEY, the app uses the random key kept under instance/ (`instance_secret_key`).


class TestConfig(BaseConfig):
    ENV_NAME = "test"
    TESTING = True
    HSTS = False
    SECRET_KEY = "test-secret-key"
    # Hashing at full strength in every factory would make the suite crawl; the algorithm is
    # the same, only the cost differs.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_KIB = 1024
    ARGON2_PARALLELISM = 1
    EMAIL_RETRY_BASE_SECONDS = 0.2
    EMAIL_RETRY_MAX_SECONDS = 1
    EMAIL_MAX_ATTEMPTS = 4
    EVENT_RETRY_BASE_SECONDS = 0.2
    EVENT_RETRY_MAX_SECONDS = 1
    MAIL_ORDER_WAIT_SECONDS = 0.1
    SWEEP_GRACE_SECONDS = 0
    PASSWORD_CHECKS_PER_SECOND = 1000  # tests sign in many times a second
    LOGIN_GATE_SECONDS = 0  # the throttling tests share one address; the gate's own tests turn it on
    MAIL_TIMEOUT_SECONDS = 5
    SERVER_NAME = None
    # The suite's order walkers (tests/support) check in at any time; the window's own tests set it.
    CHECKIN_OPENS_MINUTES = None
    ALTCHA_COST = 1  # the tests solve challenges with the same package: keep them cheap
    ALTCHA_KEY_PREFIX = "0"
    HIRING_MIN_FILL_SECONDS = 0


class ProductionConfig(BaseConfig):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = True

    @classmethod
    def check(cls) -> None:
        """Refuse to start with the development secret or a short one."""
        key = env("SECRET_KEY")
        if not key or len(key) < 32:
            raise RuntimeError(
                "ProductionConfig needs SECRET_KEY set to a random string of at least 32 characters "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        cls.SECRET_KEY = key


CONFIGS = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[BaseConfig]:
    """The config class named by MCF_ENV (development unless told otherwise)."""
    name = env("MCF_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"MCF_ENV must be one of {sorted(CONFIGS)}, not {name!r}") from None
