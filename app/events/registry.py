"""Consumers and the event types they handle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.events.models import Event

Handler = Callable[[Event], None]

consumers: dict[str, Consumer] = {}


@dataclass
class Consumer:
    """A named reader of events; its handlers run inside the transaction that marks them handled."""

    name: str
    handlers: dict[str, Handler] = field(default_factory=dict)

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

    def handle(self, event: Event) -> None:
        self.handlers[event.type](event)


def consumers_of(event_type: str) -> list[Consumer]:
    return [consumer for consumer in consumers.values() if event_type in consumer.handlers]
