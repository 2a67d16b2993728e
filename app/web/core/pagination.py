from flask import request

from app.web.core.converters import db_int

MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000  # far beyond any list; keeps OFFSET within PostgreSQL's range


def page_args(default_per_page: int = 25) -> tuple[int, int]:
    """(page, per_page) from the query string, clamped to sane values."""
    page = request.args.get("page", 1, type=db_int) or 1
    per_page = request.args.get("per_page", default_per_page, type=db_int) or default_per_page
    return max(1, min(MAX_PAGE, page)), max(1, min(MAX_PER_PAGE, per_page))


def page_number(name: str) -> int:
    """A page number from the query string, clamped to 1..MAX_PAGE (junk is page 1)."""
    return max(1, min(MAX_PAGE, request.args.get(name, 1, type=db_int) or 1))
