"""Issue 13 point 2: /manage/billing lists the parties whose billing is parked by a failing billing
event, with the error and a retry (POST, managers only) that enqueues the retry job after the commit."""

from __future__ import annotations

from datetime import date

from app.billing.models import ParkedParty
from app.events.models import Event
from app.extensions import db as database
from app.platform.clock import utcnow
from app.platform.queues import get_queue
from tests.support.fixtures import csrf_token


def _park(user, party_kind: str = "client", error: str = "RuntimeError: tax service refused <the> address"):
    event = Event(type="order.completed", aggregate_type="order", aggregate_id="77", payload={"order_id": 77})
    database.session.add(event)
    database.session.flush()
    park = ParkedParty(
        party_kind=party_kind, user_id=user.id, event_id=event.id, order_id=77, day=date(2026, 11, 3), error=error
    )
    database.session.add(park)
    database.session.flush()
    return park


def test_parked_parties_are_listed_with_their_error_and_a_retry(db, people, as_user):
    manager = as_user(people["manager"])
    assert 'id="parked"' not in manager.get("/manage/billing").get_data(as_text=True), "shown only when needed"
    park = _park(people["client"])
    page = manager.get("/manage/billing").get_data(as_text=True)
    assert 'id="parked"' in page and people["client"].name in page and "#77" in page
    assert "tax service refused &lt;the&gt; address" in page, "the error, escaped"
    assert f"/manage/billing/parked/{park.id}/retry" in page

    token = csrf_token(manager, "/manage/billing")
    assert manager.post(f"/manage/billing/parked/{park.id}/retry", data={}).status_code == 400, "CSRF"
    response = manager.post(f"/manage/billing/parked/{park.id}/retry", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith("#parked")
    jobs = get_queue("billing").get_jobs()
    assert [(job.func_name, job.args) for job in jobs] == [("app.billing.jobs.retry_parked", (park.id,))]
    database.session.refresh(park)
    assert park.retry_requested_at is not None and park.retry_requested_by_id == people["manager"].id
    assert "retry asked" in manager.get("/manage/billing").get_data(as_text=True)

    park.resolved_at = utcnow()
    database.session.flush()
    resolved = manager.post(
        f"/manage/billing/parked/{park.id}/retry", data={"csrf_token": token}, follow_redirects=True
    )
    assert "not parked any more" in resolved.get_data(as_text=True) and len(get_queue("billing").get_jobs()) == 1
    assert manager.post("/manage/billing/parked/999999/retry", data={"csrf_token": token}).status_code == 404


def test_only_managers_retry_a_parked_party(db, people, as_user):
    park = _park(people["worker"], "worker")
    for role in ("client", "worker"):
        browser = as_user(people[role])
        token = csrf_token(browser, "/")
        assert browser.post(f"/manage/billing/parked/{park.id}/retry", data={"csrf_token": token}).status_code == 403
    assert get_queue("billing").get_jobs() == []
