from flask import request

MAX_PER_PAGE = 100


def page_args(default_per_page: int = 25) -> tuple[int, int]:
    """(page, per_page) from the query string, clamped to sane values."""
    page = request.args.get("page", 1, type=int) or 1
    per_page = request.args.get("per_page", default_per_page, type=int) or default_per_page
    return max(1, page), max(1, min(MAX_PER_PAGE, per_page))
