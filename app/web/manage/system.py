"""/manage/system: what runs in the background, for managers (the figures: app.web.shared.system)."""

from __future__ import annotations

from flask import render_template

from app.web.manage.blueprint import bp
from app.web.shared.system import system_figures


@bp.route("/system")
def system():
    return render_template("manage/system.html", **system_figures())
