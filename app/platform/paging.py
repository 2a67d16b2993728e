"""Paging without counting: fetch one row more than the page holds; if it comes, there is a next page."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from sqlalchemy import Select

from app.extensions import db

Row = TypeVar("Row")


def one_page(query: Select, page: int, per_page: int) -> Select:
    """`query` limited to page `page` (from 1) plus one row, which tells whether a next page exists."""
    return query.limit(per_page + 1).offset((max(1, page) - 1) * per_page)


def split_page(rows: Iterable[Row], per_page: int) -> tuple[list[Row], bool]:
    """(the page's rows, whether a next page exists) from what `one_page` fetched."""
    rows = list(rows)
    return rows[:per_page], len(rows) > per_page


def fetch_page(query: Select, page: int, per_page: int) -> tuple[list, bool]:
    """One page of a single-entity query: (objects, has_next)."""
    return split_page(db.session.scalars(one_page(query, page, per_page)), per_page)
