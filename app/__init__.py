"""MCF: the operations platform. `create_app()` builds the Flask app in named steps."""

from __future__ import annotations

import importlib
import logging
import os

from flask import Flask

from app.config import BaseConfig, DevelopmentConfig, ProductionConfig, config_from_env, instance_secret_key
from app.platform import jobs

# The domain packages, each with its own tables in `models.py`.
DOMAINS = (
    "accounts",
    "events",
    "notifications",
    "orders",
    "matching",
    "supplies",
    "billing",
    "quality",
    "tote",
    "hiring",
)


# Modules that register event consumers, and those that register periodic jobs and sweepers.
EVENT_CONSUMERS = (
    "app.billing.postings",
    "app.hiring.mail",
    "app.matching.consumers",
    "app.notifications.consumers",
    "app.notifications.order_mail",
    "app.supplies.consumers",
    "app.quality.consumers",
    "app.tote.consumers",
)
# Modules that provide a query to a domain that may not import them (billing's paid total to pricing).
PROVIDER_MODULES = ("app.billing.statements",)
JOB_MODULES = (
    "app.platform.sweep",
    "app.events.jobs",
    "app.notifications.jobs",
    "app.supplies.jobs",
    "app.orders.jobs",
    "app.billing.jobs",
    "app.hiring.jobs",
)


def create_app(config: type[BaseConfig] | None = None, **overrides) -> Flask:
    """Build the app from a config class (MCF_ENV's when not given) and optional overrides."""
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_relative_config=False,
    )
    load_config(app, config or config_from_env(), overrides)
    register_extensions(app)
    register_models(app)
    register_event_consumers(app)
    register_blueprints(app)
    register_request_hooks(app)
    register_error_handlers(app)
    register_template_helpers(app)
    register_cli(app)
    jobs.set_app_factory(create_app)
    return app


def load_config(app: Flask, config: type[BaseConfig], overrides: dict) -> None:
    if config is ProductionConfig:
        ProductionConfig.check()
    app.config.from_object(config)
    app.config.update(overrides)
    if not app.config.get("SECRET_KEY") and issubclass(config, DevelopmentConfig):
        app.config["SECRET_KEY"] = instance_secret_key()
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY is not set: the app will not sign sessions with a known key")
    app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"]
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def register_extensions(app: Flask) -> None:
    from app.extensions import csrf, db, htmx, limiter, login_manager, mail, migrate

    db.init_app(app)
    migrations = os.path.normpath(os.path.join(app.root_path, "..", "migrations"))
    # PostgreSQL alters tables in place: no SQLite batch mode (Flask-Migrate's default) in new revisions.
    migrate.init_app(app, db, directory=migrations, compare_type=True, render_as_batch=False)
    csrf.init_app(app)
    mail.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"


def register_models(app: Flask) -> None:
    """Import every domain's models so SQLAlchemy and Alembic see all tables."""
    for domain in DOMAINS:
        importlib.import_module(f"app.{domain}.models")


def register_event_consumers(app: Flask) -> None:
    """Consumers, periodic jobs, sweepers and providers register themselves when their modules are imported."""
    importlib.import_module("app.platform.unit_of_work")  # the after-commit hook, a session listener
    for module in EVENT_CONSUMERS + JOB_MODULES + PROVIDER_MODULES:
        importlib.import_module(module)


def register_blueprints(app: Flask) -> None:
    from app.web.core import converters

    converters.install(app)  # before the blueprints: their rules pick converters when added
    from app.web.api import bp as api_bp
    from app.web.auth import bp as auth_bp
    from app.web.careers import bp as careers_bp
    from app.web.client import bp as clients_bp
    from app.web.manage import bp as managers_bp
    from app.web.public import bp as public_bp
    from app.web.supply import bp as supply_bp
    from app.web.tote import bp as bettors_bp
    from app.web.work import bp as workers_bp

    blueprints = (public_bp, auth_bp, managers_bp, workers_bp, clients_bp, bettors_bp, supply_bp, api_bp, careers_bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)


def register_request_hooks(app: Flask) -> None:
    from app.web.core import security

    security.install(app)


def register_error_handlers(app: Flask) -> None:
    from app.web.core import errors

    errors.install(app)


def register_template_helpers(app: Flask) -> None:
    from app.web.core import templating

    templating.install(app)


def register_cli(app: Flask) -> None:
    from app import cli

    cli.install(app)
