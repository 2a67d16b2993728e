"""The one parser for money typed by people (ARCHITECTURE.md: Money)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.platform.money import MoneyError, parse_amount


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("12.5", 1250),
        ("12,5", 1250),
        ("12.50", 1250),
        ("12", 1200),
        (" 7 ", 700),
        ("0.05", 5),
        ("0,01", 1),
        ("-3,1", -310),
        ("+4", 400),
        ("\u22122.5", -250),
    ],
)
def test_one_amount_however_it_is_written(text, cents):
    assert parse_amount(text) == cents


@pytest.mark.parametrize("text", ["1,234.5", "1.234,5", "1,234", "1.234", "1,234,567", "1 234,50", "12.345"])
def test_ambiguous_input_is_refused_with_a_clear_message(text):
    with pytest.raises(MoneyError, match="two ways|two decimals"):
        parse_amount(text)


@pytest.mark.parametrize("text", ["", "   ", None, "abc", "12a", ".5", "12.", "1e3", "١٢", "--1", "12.3456"])
def test_anything_else_is_refused(text):
    with pytest.raises(MoneyError):
        parse_amount(text)


def test_absurdly_large_amounts_are_refused():
    with pytest.raises(MoneyError, match="too large"):
        parse_amount("1" * 13)


@given(st.integers(min_value=0, max_value=10**12))
def test_formatting_cents_and_parsing_back_gives_the_same_cents(cents):
    units, rest = divmod(cents, 100)
    assert parse_amount(f"{units}.{rest:02d}") == cents
    assert parse_amount(f"{units},{rest:02d}") == cents
