"""Client phone numbers (issue 12, point 9): what is accepted, how it is normalised for the `tel:`
link, the messages for what is refused, and the services that store it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.accounts import services as accounts
from app.accounts.imports import import_clients
from app.accounts.phones import parse_phone
from app.platform.validation import ValidationError
from tests.support.factories import ClientFactory, WorkerFactory


@pytest.mark.parametrize(
    ("typed", "shown", "tel"),
    [
        ("+44 20 7946 0958", "+44 20 7946 0958", "+442079460958"),
        ("  020  7946-0958 ", "020 7946-0958", "02079460958"),
        ("(0113) 496 0734", "(0113) 496 0734", "01134960734"),
        ("+1 (555) 010-9999", "+1 (555) 010-9999", "+15550109999"),
        ("123456", "123456", "123456"),
        ("+123456789012345", "+123456789012345", "+123456789012345"),
        ("", "", ""),
        ("   ", "", ""),
    ],
)
def test_a_phone_is_shown_as_typed_and_dialled_normalised(typed, shown, tel):
    phone = parse_phone(typed)
    assert (phone.typed, phone.tel) == (shown, tel)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("020 7946 0958 ext. 5", "Use digits, spaces, +, -, ( and ) only"),
        ("call me", "Use digits, spaces, +, -, ( and ) only"),
        ("٠٢٠٧٩٤٦٠٩٥٨", "Use digits, spaces, +, -, ( and ) only"),  # Arabic-Indic digits: not dialable as typed
        ("44+20 7946 0958", "A + may only come first"),
        ("++44 20 7946 0958", "A + may only come first"),
        ("(020 7946 0958", "Brackets must come in pairs"),
        ("12 34 5", "Too short: a phone number has at least 6 digits."),
        ("+1234567890123456", "Too long: a phone number has at most 15 digits."),
        ("1" * 31, "At most 30 characters."),
    ],
)
def test_what_is_not_a_phone_number_is_refused_with_a_reason(typed, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        parse_phone(typed)


def test_create_client_stores_the_phone_both_ways(db):
    user = accounts.create_client("p@example.com", "Pat", "1 Lane", "card", " +44 20  7946 0958 ")
    assert (user.client_profile.phone, user.client_profile.phone_tel) == ("+44 20 7946 0958", "+442079460958")


def test_create_client_refuses_a_bad_phone_next_to_the_field_and_creates_nothing(db):
    with pytest.raises(ValidationError) as caught:
        accounts.create_client("p@example.com", "Pat", phone="0800 CATS")
    assert caught.value.errors == {"phone": ["Use digits, spaces, +, -, ( and ) only, e.g. +44 20 7946 0958."]}
    assert accounts.find_user_by_email("p@example.com") is None
    with pytest.raises(ValidationError) as caught:
        accounts.create_client("p@example.com", "Pat", phone="020\n7946")
    assert "Control characters" in caught.value.errors["phone"][0]
    with pytest.raises(ValidationError) as caught:
        accounts.create_client("p@example.com", "Pat", phone=12345678)
    assert caught.value.errors == {"phone": ["Must be text."]}


def test_update_client_changes_only_the_fields_given(db):
    user = ClientFactory(name="Old Name")
    accounts.update_client(user, phone="(020) 7946-0958")
    assert user.name == "Old Name" and user.client_profile.address == "1 Test Street"
    assert (user.client_profile.phone, user.client_profile.phone_tel) == ("(020) 7946-0958", "02079460958")
    accounts.update_client(user, name="New Name", phone="")
    assert user.name == "New Name"
    assert (user.client_profile.phone, user.client_profile.phone_tel) == ("", "")


def test_update_client_checks_everything_first_and_changes_nothing_on_a_bad_field(db):
    user = ClientFactory(name="Kept")
    with pytest.raises(ValidationError) as caught:
        accounts.update_client(user, name="", phone="12", payment_method="cash")
    assert set(caught.value.errors) == {"name", "phone", "payment_method"}
    assert user.name == "Kept" and user.client_profile.phone == ""


def test_update_client_is_for_clients_only(db):
    with pytest.raises(ValidationError):
        accounts.update_client(WorkerFactory(), phone="020 7946 0958")


def test_the_database_refuses_a_phone_whose_link_would_dial_something_else(db):
    user = ClientFactory()
    db.session.flush()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(
            text("UPDATE client_profiles SET phone = '020 7946', phone_tel = 'javascript:x' WHERE user_id = :id"),
            {"id": user.id},
        )


def test_us010_the_import_takes_an_optional_phone_column(db):
    report = import_clients(
        [
            {"email": "a@example.com", "name": "A", "phone": "+44 20 7946 0001"},
            {"email": "b@example.com", "name": "B"},
            {"email": "c@example.com", "name": "C", "phone": "not a phone"},
        ]
    )
    assert report.created == ["a@example.com", "b@example.com"]
    assert report.invalid == [(3, "phone: Use digits, spaces, +, -, ( and ) only, e.g. +44 20 7946 0958.")]
    assert accounts.find_user_by_email("a@example.com").client_profile.phone_tel == "+442079460001"
    assert accounts.find_user_by_email("b@example.com").client_profile.phone == ""
