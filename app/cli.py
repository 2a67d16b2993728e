"""`flask ...` commands: API tokens, client import, demo data, the embedded dev servers, matching's figures."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from app.extensions import db

api_token_cli = AppGroup("api-token", help="API tokens for /api/v1.")
clients_cli = AppGroup("clients", help="Client accounts.")
demo_cli = AppGroup("demo", help="Demo data.")
events_cli = AppGroup("events", help="The event and email pipeline.")
matching_cli = AppGroup("matching", help="Matching's kept per-worker figures.")


@api_token_cli.command("create")
@click.argument("email")
@click.option("--name", default="", help="What the token is for.")
def create_api_token(email: str, name: str) -> None:
    """Print a new API token for the manager with EMAIL (shown once; only its hash is kept)."""
    from app.accounts.services import RoleNotAllowed, create_api_token, find_user_by_email

    user = find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No account with the email {email}.")
    try:
        token = create_api_token(user, name)
    except RoleNotAllowed as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(token)


@clients_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_clients_command(file: Path) -> None:
    """Import clients from a CSV (email,name,address,payment_method[,phone]) or JSON file."""
    from app.accounts.imports import import_clients, read_rows

    try:
        rows = read_rows(file)
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"Cannot read {file}: {exc}") from None
    report = import_clients(rows)
    db.session.commit()
    click.echo(f"created: {len(report.created)}")
    click.echo(f"skipped (already there): {len(report.skipped)}")
    click.echo(f"invalid: {len(report.invalid)}")
    for number, reason in report.invalid:
        click.echo(f"  row {number}: {reason}")


@demo_cli.command("load")
def load_demo_command() -> None:
    """Load the demo accounts once (password: demo-password)."""
    from app.demo import load_demo

    created = load_demo()
    db.session.commit()
    click.echo("demo data loaded" if created else "demo data already present")


@events_cli.command("sweep")
def sweep_command() -> None:
    """Re-enqueue every pending event delivery and due email now."""
    from app.platform.sweep import sweep

    click.echo(sweep())


@matching_cli.command("rebuild-figures")
def rebuild_figures_command() -> None:
    """Recount every worker's past results and booked orders from the orders (order writes wait meanwhile)."""
    from app.matching import figures

    workers, days = figures.rebuild()
    db.session.commit()
    click.echo(f"figures rebuilt: {workers} workers with past results, {days} worker-days with booked orders")


def install(app: Flask) -> None:
    for group in (api_token_cli, clients_cli, demo_cli, events_cli, matching_cli):
        app.cli.add_command(group)
