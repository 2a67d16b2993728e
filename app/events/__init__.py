"""Events written to Postgres in the same transaction as the change that caused them.

A service calls `publish()`; after the commit an RQ job delivers each new event to every consumer
registered for its type. A consumer records what it handled in the same transaction as its
effects, so a duplicated delivery changes nothing, and events of one aggregate reach a consumer
in the order they were published. A periodic sweep re-enqueues whatever is still pending.
"""

from app.events.registry import Consumer, consumers
from app.events.services import publish

__all__ = ["Consumer", "consumers", "publish"]
