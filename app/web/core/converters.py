"""URL converters: an id in a URL beyond PostgreSQL's integer range is a 404, never a 500."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

MAX_DB_INT = 2**31 - 1


class DatabaseIntConverter(IntegerConverter):
    """`<int:...>` as werkzeug reads it, bounded to what an `integer` column can hold."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_DB_INT if max is None else max, signed=signed)


def db_int(value: str) -> int:
    """A query-string integer for an id (`request.args.get(name, type=db_int)`): out of range is absent."""
    number = int(value)
    if not -MAX_DB_INT <= number <= MAX_DB_INT:
        raise ValueError(value)
    return number


def install(app: Flask) -> None:
    """Before any blueprint is registered: rules pick their converters when they are added."""
    app.url_map.converters["int"] = DatabaseIntConverter
