"""The manager's order page: facts, timeline, photos, matching, reassign/cancel/fail."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.events.models import Event
from app.matching.models import MatchRun
from app.orders import services as orders
from app.orders.models import Order, OrderStatus
from tests.support.factories import ClientFactory, SupplyFactory, WorkerFactory
from tests.support.fixtures import csrf_token, login
from tests.support.manage import completed_order, make_order, matched_order
from tests.support.web import field_errors


def _fresh(db, order_id: int) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order_id)


def _event_types(db, order_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(Event.type)
            .where(Event.aggregate_type == "order", Event.aggregate_id == str(order_id))
            .order_by(Event.id)
        )
    )


def _post(client, order, action, confirmed: bool = True, **data):
    """Post an action; cancel and fail are confirmed unless asked not to (the confirmation has its own test)."""
    url = f"/manage/orders/{order.id}"
    if confirmed and action in ("cancel", "fail"):
        data = {f"{action}-confirmed": "yes", **data}
    return client.post(f"{url}/{action}", data={"csrf_token": csrf_token(client, url), **data})


def test_order_page_shows_facts_timeline_and_photos(manager_client, db, uploads, people, service_type):
    order = completed_order(people["tom"], people["whiskers"], service_type)
    html = manager_client.get(f"/manage/orders/{order.id}").get_data(as_text=True)
    for text in ("Tom Tester", "Whiskers", "House cleaning", "Fur on the sofa", "1 Test Street", "Cloths, Spray"):
        assert text in html
    timeline = re.findall(r'<li data-event="([^"]+)">', html)
    assert timeline == [
        "order.requested",
        "order.matched",
        "order.confirmed",
        "order.kit_issued",
        "order.started",
        "order.completed",
    ]
    assert "Requested by Tom Tester: House cleaning" in html
    assert "Matched to Whiskers; price fixed at 100.00" in html
    assert "Whiskers checked in with a photo and started." in html
    assert f'src="/manage/orders/{order.id}/photos/checkin"' in html
    assert f'src="/manage/orders/{order.id}/photos/report"' in html
    # A finished order offers no actions.
    assert "Reassign" not in html and "Cancel order" not in html

    photo = manager_client.get(f"/manage/orders/{order.id}/photos/report")
    assert photo.status_code == 200 and photo.mimetype == "image/png" and photo.data.startswith(b"\x89PNG")


@pytest.mark.parametrize("who", ["client", "worker", "other_client", "supply"])
def test_photos_only_for_managers(client, db, uploads, people, service_type, who):
    order = completed_order(people["tom"], people["whiskers"], service_type)
    person = {
        "client": people["tom"],
        "worker": people["whiskers"],
        "other_client": people["luna"],
        "supply": SupplyFactory(),
    }[who]
    login(client, person)
    for kind in ("checkin", "report"):
        assert client.get(f"/manage/orders/{order.id}/photos/{kind}").status_code in (403, 404)
    assert client.get(f"/manage/orders/{order.id}").status_code in (403, 404)


def test_missing_photos_and_unknown_orders_are_404(manager_client, db, people, service_type):
    order = make_order(people["tom"], service_type)
    assert manager_client.get(f"/manage/orders/{order.id}/photos/checkin").status_code == 404
    assert manager_client.get(f"/manage/orders/{order.id}/photos/passport").status_code == 404
    assert manager_client.get("/manage/orders/999999").status_code == 404
    assert manager_client.get("/manage/orders/999999/photos/report").status_code == 404
    order.checkin_photo = "../../etc/passwd"
    db.session.commit()
    assert manager_client.get(f"/manage/orders/{order.id}/photos/checkin").status_code == 404


def test_matching_explanation_is_shown(manager_client, db, people, service_type):
    order = matched_order(people["tom"], people["whiskers"], service_type)
    db.session.add(
        MatchRun(
            order_id=order.id,
            chosen_worker_id=people["whiskers"].id,
            steps=[{"step": "Free at that time", "kind": "free", "status": "ran", "ms": 1, "before": 2, "after": 2}],
            scores={
                str(people["whiskers"].id): {"total": 1.5, "Strengths": 1.0},
                str(people["mittens"].id): {"total": 0.5, "Strengths": 0.0},
            },
        )
    )
    db.session.commit()
    html = manager_client.get(f"/manage/orders/{order.id}").get_data(as_text=True)
    section = html.split('id="matching-h"', 1)[1].split("</section>", 1)[0]
    assert "Whiskers" in section and "Mittens" in section and "Free at that time" in section


def test_reassign_needs_a_reason_and_an_active_worker(manager_client, db, people, service_type):
    order = matched_order(people["tom"], people["whiskers"], service_type)
    db.session.commit()
    page = manager_client.get(f"/manage/orders/{order.id}").get_data(as_text=True)
    assert f'<option value="{people["mittens"].id}">Mittens' in page

    response = _post(manager_client, order, "reassign", worker=people["mittens"].id, reason="  ")
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "reason") == ["Say why the order is reassigned."]
    assert _fresh(db, order.id).worker_id == people["whiskers"].id

    response = _post(manager_client, order, "reassign", worker=people["tom"].id, reason="Whiskers is ill")
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "worker") == ["Choose an active worker."]
    assert _fresh(db, order.id).worker_id == people["whiskers"].id

    response = _post(manager_client, order, "reassign", worker=people["mittens"].id, reason="Whiskers is ill")
    assert response.status_code == 303
    assert _fresh(db, order.id).worker_id == people["mittens"].id
    assert _event_types(db, order.id)[-1] == "order.reassigned"
    html = manager_client.get(f"/manage/orders/{order.id}").get_data(as_text=True)
    assert "Reassigned from Whiskers to Mittens by Morgan Manager: Whiskers is ill" in html


def test_reassigning_a_finished_order_is_refused(manager_client, db, uploads, people, service_type):
    order = completed_order(people["tom"], people["whiskers"], service_type)
    db.session.commit()
    before = _event_types(db, order.id)
    response = _post(manager_client, order, "reassign", worker=people["mittens"].id, reason="Try")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    form = html.split('id="reassign"', 1)[1].split("</form>", 1)[0]
    assert "Only a matched order whose work has not started can be reassigned." in form
    assert _fresh(db, order.id).worker_id == people["whiskers"].id and _event_types(db, order.id) == before


def test_cancel_with_and_without_a_reason(manager_client, db, manager, people, service_type):
    order = matched_order(people["tom"], people["whiskers"], service_type)
    db.session.commit()
    response = _post(manager_client, order, "cancel", **{"cancel-reason": ""})
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "cancel-reason") == ["Say why the order is cancelled."]
    assert _fresh(db, order.id).status == OrderStatus.MATCHED

    response = _post(manager_client, order, "cancel", **{"cancel-reason": "Client moved away"})
    assert response.status_code == 303
    cancelled = _fresh(db, order.id)
    assert cancelled.status == OrderStatus.CANCELLED and cancelled.finish_reason == "Client moved away"
    assert cancelled.finished_by_id == manager.id
    html = manager_client.get(f"/manage/orders/{order.id}").get_data(as_text=True)
    assert "Cancelled by Morgan Manager: Client moved away" in html

    # Cancelling again is illegal: the message is next to the action and nothing changes.
    response = _post(manager_client, order, "cancel", **{"cancel-reason": "Again"})
    assert response.status_code == 422
    form = response.get_data(as_text=True).split('id="cancel"', 1)[1].split("</form>", 1)[0]
    assert "An order that is cancelled cannot become cancelled." in form
    assert _fresh(db, order.id).finish_reason == "Client moved away"


def test_mark_failed_with_and_without_a_reason(manager_client, db, people, service_type):
    order = matched_order(people["tom"], people["whiskers"], service_type)
    orders.issue_kit(order)
    db.session.commit()
    response = _post(manager_client, order, "fail", **{"fail-reason": ""})
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "fail-reason") == ["Say why the order failed."]
    assert _fresh(db, order.id).status == OrderStatus.KIT_ISSUED

    response = _post(manager_client, order, "fail", **{"fail-reason": "The worker hurt a paw on the way"})
    assert response.status_code == 303
    assert _fresh(db, order.id).status == OrderStatus.FAILED
    html = manager_client.get(f"/manage/orders/{order.id}").get_data(as_text=True)
    assert "Marked failed by Morgan Manager: The worker hurt a paw on the way" in html

    response = _post(manager_client, order, "fail", **{"fail-reason": "Again"})
    assert response.status_code == 422
    assert "An order that is failed cannot become failed." in response.get_data(as_text=True)


def test_no_show_reads_as_such(manager_client, db, people, service_type):
    order = matched_order(people["tom"], people["whiskers"], service_type)
    order.finish_reason = orders.NO_SHOW_REASON
    from app.orders.states import move

    move(order, OrderStatus.FAILED, reason=orders.NO_SHOW_REASON)
    db.session.commit()
    html = manager_client.get(f"/manage/orders/{order.id}").get_data(as_text=True)
    assert "Failed automatically: Whiskers did not check in (no-show)." in html


@pytest.mark.parametrize("factory", [ClientFactory, WorkerFactory, SupplyFactory])
def test_actions_only_for_managers(client, db, people, service_type, factory):
    order = matched_order(people["tom"], people["whiskers"], service_type)
    db.session.commit()
    login(client, factory())
    token = csrf_token(client, "/login")
    for action in ("reassign", "cancel", "fail"):
        response = client.post(f"/manage/orders/{order.id}/{action}", data={"csrf_token": token, "reason": "x"})
        assert response.status_code == 403
    assert _fresh(db, order.id).status == OrderStatus.MATCHED


@pytest.mark.parametrize(
    ("action", "says"),
    [
        ("cancel", "The client will be charged the full price, 100.00 units"),
        ("fail", "will be fined 40.00 units"),
    ],
)
def test_cancel_and_fail_ask_for_confirmation_with_what_they_cost(
    manager_client, db, people, service_type, action, says
):
    order = matched_order(people["tom"], people["whiskers"], service_type)
    first = _post(manager_client, order, action, confirmed=False, **{f"{action}-reason": "Storm"})
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and says in html
    assert 'value="yes"' in html
    assert _fresh(db, order.id).status == OrderStatus.MATCHED, "nothing happens before the confirmation"
    second = _post(manager_client, order, action, **{f"{action}-reason": "Storm"})
    assert second.status_code == 303
    assert _fresh(db, order.id).status in (OrderStatus.CANCELLED, OrderStatus.FAILED)


def test_the_timeline_is_worded_for_people_without_raw_event_codes(manager_client, db, people, service_type):
    order = completed_order(people["tom"], people["whiskers"], service_type)
    html = manager_client.get(f"/manage/orders/{order.id}").get_data(as_text=True)
    timeline = html[html.index('<ol class="timeline">') : html.index("</ol>", html.index('<ol class="timeline">'))]
    visible = re.sub(r"<[^>]+>", " ", timeline)
    assert "order.matched" not in visible and "order.requested" not in visible
    assert "Matched to Whiskers" in visible
