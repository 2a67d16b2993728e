"""The development mailbox: mail caught by the local SMTP sink of `make run`."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from flask import abort, current_app, render_template

from app.web.manage.blueprint import bp


def _mailbox_dir() -> Path:
    directory = current_app.config.get("DEV_MAILBOX_DIR")
    if not directory:
        abort(404)
    return Path(directory)


def _read(path: Path):
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("plain", "html"))
    return {
        "id": path.stem,
        "from": message["From"],
        "to": message["To"],
        "subject": message["Subject"],
        "date": message["Date"],
        "message_id": message["Message-ID"],
        "body": body.get_content() if body is not None else "",
    }


@bp.route("/mailbox")
def mailbox():
    directory = _mailbox_dir()
    files = sorted(directory.glob("*.eml"), reverse=True)[:200] if directory.is_dir() else []
    return render_template("manage/mailbox.html", messages=[_read(path) for path in files])


@bp.route("/mailbox/<message_name>")
def mailbox_message(message_name: str):
    directory = _mailbox_dir()
    if not message_name.replace("-", "").replace("_", "").isalnum():
        abort(404)
    path = directory / f"{message_name}.eml"
    if not path.is_file():
        abort(404)
    return render_template("manage/mailbox_message.html", message=_read(path))
