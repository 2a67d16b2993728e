"""Consumers and the event types they handle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.events.models import Event

Handler = Callable[[Event], None]


class Deferred(Exception):
    """Raised by a consumer's guard: this event must wait (for an earlier one), it did not fail.

    Delivery retries it after `seconds` without counting an attempt or logging an error.
    """

    def __init__(self, reason: str, seconds: float = 1.0, earlier_event_id: int | None = None):
        super().__init__(reason)
        self.seconds = seconds
        self.earlier_event_id = earlier_event_id  # delivery may handle that one first


consumers: dict[str, Consumer] = {}


@dataclass
class Consumer:
    """A named reader of events; its handlers run inside the transaction that marks them handled."""

    name: str
    handlers: dict[str, Handler] = field(default_factory=dict)
    # Runs before every handler and may raise Deferred (e.g. to keep a person's mail in order).
    guard: Handler | None = None

    def __post_init__(self) -> None:
        if self.name in consumers:
            raise ValueError(f"consumer {self.name!r} is registered twice")
        consumers[self.name] = self

    def handles(self, *event_types: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for event_type in event_types:
                self.handlers[event_type] = handler
            return handler

        return register

    @property
    def event_types(self) -> list[str]:
        return sorted(self.handlers)

    def guarded_by(self, guard: Handler) -> Handler:
        self.guard = guard
        return guard

    def handle(self, event: Event) -> None:
        if self.guard is not None:
            self.guard(event)
        self.handlers[event.type](event)


def consumers_of(event_type: str) -> list[Consumer]:
    return [consumer for consumer in consumers.values() if event_type in consumer.handlers]
