"""The one money parser and formatter (ARCHITECTURE.md "Money"; a comma decimal once credited ten
times the amount)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.platform.money import AmountError, format_money, parse_amount


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("12.5", 12_50),
        ("12,5", 12_50),
        ("12.50", 12_50),
        ("12,50", 12_50),
        ("12", 12_00),
        (" 7.05 ", 7_05),
        ("0,01", 1),
        ("1 234,50", 1234_50),
        ("+3", 3_00),
    ],
)
def test_one_amount_however_it_is_typed(typed, cents):
    assert parse_amount(typed) == cents


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter an amount"),
        ("abc", "at most two decimals"),
        ("1,234.50", "two ways"),
        ("1.234,5", "two ways"),
        ("12,500", "more than two decimals"),
        ("12.505", "more than two decimals"),
        ("1.2.3", "at most two decimals"),
        ("12.", "at most two decimals"),
        ("-5", "zero or more"),
        ("1e3", "at most two decimals"),
        ("1" * 14, "At most"),
    ],
)
def test_ambiguous_or_malformed_input_is_refused_with_a_message(typed, message):
    with pytest.raises(AmountError, match=message):
        parse_amount(typed)


def test_negative_amounts_and_a_maximum_when_asked():
    assert parse_amount("-12,5", allow_negative=True) == -12_50
    assert parse_amount("\u221212.5", allow_negative=True) == -12_50
    with pytest.raises(AmountError, match="At most 100.00"):
        parse_amount("100.01", maximum_cents=100_00)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_what_is_shown_reads_back_as_the_same_cents(cents):
    shown = format_money(cents).replace(",", "")
    assert parse_amount(shown, allow_negative=True) == cents
    assert parse_amount(shown.replace(".", ","), allow_negative=True) == cents


def test_format_is_integer_only():
    assert format_money(123456) == "1,234.56"
    assert format_money(-5) == "-0.05"
    assert format_money(None) == "-"
    assert format_money(10**17 + 1) == "1,000,000,000,000,000.01"
