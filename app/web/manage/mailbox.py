"""The development mailbox: mail caught by the local SMTP sink of `make run`.

Search (recipient or subject) and paging cover every message; the list comes from the sink's
index without opening the messages (app/platform/dev_mailbox.py), only the message opened is parsed.
"""

from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, render_template, request

from app.platform import dev_mailbox
from app.web.core.pagination import page_args
from app.web.manage.blueprint import bp

PER_PAGE = 50


def _mailbox_dir() -> Path:
    directory = current_app.config.get("DEV_MAILBOX_DIR")
    if not directory:
        abort(404)
    return Path(directory)


@bp.route("/mailbox")
def mailbox():
    directory = _mailbox_dir()
    text = request.args.get("q", "").strip()[:200]
    page, per_page = page_args(PER_PAGE)
    every = dev_mailbox.messages(directory)
    found = dev_mailbox.search(every, text)
    start = (page - 1) * per_page
    return render_template(
        "manage/mailbox.html",
        messages=found[start : start + per_page],
        q=text,
        page=page,
        has_next=len(found) > start + per_page,
        total=len(every),
        found=len(found),
    )


@bp.route("/mailbox/<message_name>")
def mailbox_message(message_name: str):
    message = dev_mailbox.read_message(_mailbox_dir(), message_name)
    if message is None:
        abort(404)
    return render_template("manage/mailbox_message.html", message=message)
