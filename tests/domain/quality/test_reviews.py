"""US-210: reviews (scores, fault, root cause, findings, messages, hypotheses), idempotent
submission, amendments kept as history, hypotheses with recorded status changes.
US-305: the result mailed to the client and the worker, once, without the internal findings."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.events.models import Event
from app.notifications.models import OutboxEmail
from app.orders.models import OrderStatus
from app.platform.validation import ValidationError
from app.quality import services as quality
from app.quality.models import Hypothesis, HypothesisEntry, Review, ReviewRevision, RootCause
from tests.support.quality import ended_order, no_show, review_input

S = OrderStatus


def mails(db) -> list[OutboxEmail]:
    return list(db.session.scalars(select(OutboxEmail).where(OutboxEmail.template.like("quality_result_%"))))


def test_us210_us305_a_review_is_stored_and_mailed_to_both_parties_in_their_own_words(db, frozen_time, quality_people):
    client, worker, manager, _other, service = quality_people
    order = no_show(client, service, worker)
    item = quality.claim(_item_id(db, order.id), manager.id)
    data = review_input(
        new_hypotheses=[
            quality.NewHypothesis("text workers an hour before", "fewer no-shows", "most no-shows forgot the time")
        ]
    )
    review, created = quality.submit_review(item.id, manager.id, "token-1", data)

    assert created and review.reviewer_id == manager.id and review.root_cause.name == "Worker did not show up"
    assert review.scores() == data.scores
    [hypothesis] = review.hypotheses
    assert hypothesis.sentence == (
        "If we text workers an hour before, then fewer no-shows, because most no-shows forgot the time."
    )
    assert hypothesis.status == "proposed" and hypothesis.owner_id == manager.id

    by_recipient = {mail.recipient: mail for mail in mails(db)}
    assert set(by_recipient) == {client.email, worker.email}
    client_mail, worker_mail = by_recipient[client.email], by_recipient[worker.email]
    assert client_mail.template == "quality_result_client" and worker_mail.template == "quality_result_worker"
    assert data.client_message in client_mail.body_text and data.client_message not in worker_mail.body_text
    assert data.worker_message in worker_mail.body_text and data.worker_message not in client_mail.body_text
    for mail in (client_mail, worker_mail):
        assert f"#{order.id}" in mail.subject
        assert "INTERNAL" not in mail.body_text and "INTERNAL" not in mail.body_html
        assert "phone was off" not in mail.body_html
    [event] = db.session.scalars(select(Event).where(Event.type == "quality.review_completed"))
    assert event.payload["order_id"] == order.id and "findings" not in event.payload


def _item_id(db, order_id):
    return db.session.scalar(select(quality.QueueItem.id).where(quality.QueueItem.order_id == order_id))


def test_us210_a_double_submit_stores_one_review_and_mails_once(db, frozen_time, quality_people):
    client, worker, manager, _other, service = quality_people
    order = ended_order(client, service, worker, status=S.CANCELLED)
    item_id = _item_id(db, order.id)
    first, created = quality.submit_review(item_id, manager.id, "same-token", review_input())
    again, created_again = quality.submit_review(item_id, manager.id, "same-token", review_input(fault="client"))
    assert created and not created_again and again.id == first.id and again.fault == "worker"
    assert db.session.scalar(select(func.count()).select_from(Review)) == 1
    assert len(mails(db)) == 2
    with pytest.raises(quality.AlreadyReviewed):
        quality.submit_review(item_id, manager.id, "another-token", review_input())


def test_us210_only_the_claimer_may_review(db, frozen_time, quality_people):
    client, worker, manager, other, service = quality_people
    order = ended_order(client, service, worker, status=S.FAILED)
    quality.claim(_item_id(db, order.id), other.id)
    with pytest.raises(quality.ClaimConflict):
        quality.submit_review(_item_id(db, order.id), manager.id, "t", review_input())
    assert db.session.scalar(select(func.count()).select_from(Review)) == 0


def test_us210_bad_input_is_refused_field_by_field_and_stores_nothing(db, frozen_time, quality_people):
    client, worker, manager, _other, service = quality_people
    order = ended_order(client, service, worker, status=S.FAILED)
    bad = review_input(
        scores={"punctuality": 0, "work_quality": 6, "communication": None, "kit": 3, "satisfaction": 3},
        fault="gravity",
        root_cause="",
        client_message="",
        hypothesis_ids=[999],
        new_hypotheses=[quality.NewHypothesis("check\x00kits", "", "because")],
    )
    with pytest.raises(ValidationError) as refused:
        quality.submit_review(_item_id(db, order.id), manager.id, "t", bad)
    assert set(refused.value.errors) >= {
        "punctuality",
        "work_quality",
        "communication",
        "fault",
        "root_cause",
        "client_message",
        "hypotheses",
        "new_if_we",
        "new_then",
    }
    assert db.session.scalar(select(func.count()).select_from(Review)) == 0
    assert db.session.scalar(select(func.count()).select_from(Hypothesis)) == 0
    assert mails(db) == []


def test_us210_the_root_cause_list_is_extensible(db, frozen_time, quality_people):
    client, worker, manager, _other, service = quality_people
    order = ended_order(client, service, worker, status=S.FAILED)
    review, _ = quality.submit_review(
        _item_id(db, order.id), manager.id, "t", review_input(root_cause="  Parking  permit missing ")
    )
    assert review.root_cause.name == "Parking permit missing"
    assert "Parking permit missing" in quality.root_cause_names()
    assert quality.root_cause("parking permit MISSING").id == review.root_cause.id
    assert db.session.scalar(select(func.count()).select_from(RootCause)) == 1


def test_us210_an_amendment_keeps_the_history_and_mails_nothing_again(db, frozen_time, quality_people):
    client, worker, manager, other, service = quality_people
    order = ended_order(client, service, worker, status=S.FAILED)
    review, _ = quality.submit_review(_item_id(db, order.id), manager.id, "t", review_input())
    hypothesis = quality.create_hypothesis(other.id, "If we pack spare gloves", "then", "because")
    changed = review_input(
        scores={**review.scores(), "punctuality": 5}, fault="company", hypothesis_ids=[hypothesis.id]
    )
    with pytest.raises(ValidationError) as refused:
        quality.amend_review(review.id, other.id, changed, note="")
    assert "note" in refused.value.errors

    revision = quality.amend_review(review.id, other.id, changed, note="The client called: the worker was on time.")
    assert revision.version == 1 and revision.changed_by_id == other.id
    assert revision.changed_fields == ["punctuality", "fault", "hypothesis_ids"]
    assert revision.before["punctuality"] == 2 and revision.before["fault"] == "worker"
    assert revision.before["findings"].startswith("INTERNAL")
    assert (review.version, review.punctuality, review.fault) == (2, 5, "company")
    assert [h.id for h in review.hypotheses] == [hypothesis.id]
    assert hypothesis.if_we == "pack spare gloves", "the form's leading words are not repeated"

    assert quality.amend_review(review.id, other.id, changed, note="again") is None, "no change, no revision"
    assert db.session.scalar(select(func.count()).select_from(ReviewRevision)) == 1
    assert len(mails(db)) == 2, "the parties got the result once"
    assert [e.type for e in db.session.scalars(select(Event).where(Event.type.like("quality.review%")))] == [
        "quality.review_completed",
        "quality.review_amended",
    ]


def test_us210_hypothesis_status_changes_are_recorded_with_who_and_when(db, frozen_time, quality_people):
    _client, _worker, manager, other, _service = quality_people
    hypothesis = quality.create_hypothesis(
        manager.id, "call clients the day before", "fewer cancellations", "they forget"
    )
    entry = quality.change_status(hypothesis.id, other.id, "testing", "Trying it in one district")
    assert (entry.from_status, entry.to_status, entry.by_id, entry.text) == (
        "proposed",
        "testing",
        other.id,
        "Trying it in one district",
    )
    assert quality.change_status(hypothesis.id, other.id, "testing") is None
    quality.change_status(hypothesis.id, manager.id, "confirmed")
    quality.add_note(hypothesis.id, manager.id, "Cancellations halved in that district.")
    with pytest.raises(ValidationError):
        quality.change_status(hypothesis.id, manager.id, "maybe")
    kinds = list(
        db.session.execute(
            select(HypothesisEntry.kind, HypothesisEntry.to_status)
            .where(HypothesisEntry.hypothesis_id == hypothesis.id)
            .order_by(HypothesisEntry.id)
        )
    )
    assert kinds == [("created", "proposed"), ("status", "testing"), ("status", "confirmed"), ("note", None)]
    assert hypothesis.status == "confirmed"
    [event, _] = db.session.scalars(
        select(Event).where(Event.type == "quality.hypothesis_status_changed").order_by(Event.id)
    )
    assert event.payload["by_user_id"] == other.id and event.payload["status"] == "testing"


def test_us190_the_call_log_records_attempts(db, frozen_time, quality_people):
    client, worker, manager, _other, service = quality_people
    order = ended_order(client, service, worker, status=S.FAILED)
    call = quality.log_call(_item_id(db, order.id), manager.id, "client", "no_answer", "Left no message")
    assert (call.party, call.outcome, call.by_id) == ("client", "no_answer", manager.id)
    with pytest.raises(ValidationError) as refused:
        quality.log_call(_item_id(db, order.id), manager.id, "neighbour", "shrug")
    assert set(refused.value.errors) == {"party", "outcome"}
