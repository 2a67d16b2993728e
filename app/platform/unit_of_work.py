"""Run work after the transaction commits, never before (no enqueue of uncommitted state).

Services register callbacks with `after_commit()`; the view or job that owns the transaction
commits once, and only then do the callbacks run. A rollback discards them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.extensions import db

log = logging.getLogger(__name__)
_KEY = "mcf_after_commit"


def after_commit(callback: Callable[[], None]) -> None:
    session = db.session()
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_KEY, []).append((transaction, callback))


@event.listens_for(Session, "after_commit")
def _run_callbacks(session: Session) -> None:
    # SQLAlchemy emits after_commit when a savepoint is released too (begin_nested() exiting);
    # nothing is durable until the outermost transaction commits, so the callbacks wait for it.
    if session.in_nested_transaction():
        return
    callbacks = session.info.pop(_KEY, [])
    for _transaction, callback in callbacks:
        try:
            callback()
        except Exception:  # the sweep recovers whatever a failed callback would have started
            log.exception("after-commit callback failed")


@event.listens_for(Session, "after_soft_rollback")
def _discard_callbacks(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_KEY)
    if not pending:
        return
    if previous_transaction.parent is None:
        session.info.pop(_KEY, None)
        return
    session.info[_KEY] = [
        (transaction, callback) for transaction, callback in pending if not _within(transaction, previous_transaction)
    ]


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False
