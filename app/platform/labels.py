"""Statuses and kinds as enums that carry the words people read, so no page spells them again."""

from __future__ import annotations

from enum import StrEnum


class LabelledEnum(StrEnum):
    """A StrEnum whose members are declared as `NAME = "value", "Label people read"`.

    `Status("paid").label` and `Status.label_of("paid")` give the label; templates reach the enums
    as globals (app.web.core.templating), e.g. `{{ InvoiceStatus.label_of(invoice.status) }}`.
    """

    def __new__(cls, value: str, label: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def label_of(cls, value: str) -> str:
        """The label of a stored value; an unknown value is shown as it is."""
        try:
            return cls(value).label
        except ValueError:
            return value

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(member.value, member.label) for member in cls]
