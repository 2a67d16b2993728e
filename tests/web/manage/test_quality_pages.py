"""The quality pages under /manage/quality (US-190, US-200, US-210, US-305): the queue with its
counts, filters and claims, the random audit, the review page and form, the call log, amendments,
the hypotheses board, the dashboard and the CSV export; no N+1 on the lists."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db as database
from app.notifications.models import OutboxEmail
from app.orders.models import OrderStatus
from app.quality import services as quality
from app.quality.models import CallLog, Hypothesis, QueueItem, Review
from tests.support.factories import ManagerFactory
from tests.support.fixtures import csrf_token, login
from tests.support.quality import ended_order, fake_end, frozen_time, no_show, quality_people
from tests.support.web import count_statements, field_errors

S = OrderStatus
__all__ = ["frozen_time", "quality_people"]


@pytest.fixture
def manager_browser(client, frozen_time, quality_people):
    login(client, quality_people[2])
    return client


def _item(db, order_id) -> QueueItem:
    db.session.expire_all()
    return db.session.scalar(select(QueueItem).where(QueueItem.order_id == order_id))


def _review_data(client, url, **changes):
    page = client.get(url).get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([^"]*)"', page).group(1)
    data = {
        "csrf_token": csrf_token(client, url),
        "token": token,
        "punctuality": "1",
        "work_quality": "2",
        "communication": "3",
        "kit": "4",
        "satisfaction": "2",
        "fault": "worker",
        "root_cause": "Worker did not show up",
        "findings": "INTERNAL ONLY: third no-show",
        "client_message": "Sorry: the worker did not come. We refund you.",
        "worker_message": "You did not come to the job; this is recorded.",
        "new_if_we": "call workers the evening before",
        "new_then": "no-shows drop",
        "new_because": "they confirm or we reassign in time",
    }
    data.update(changes)
    return data


def test_us200_the_queue_lists_ended_orders_oldest_first_with_counts(manager_browser, db, frozen_time, quality_people):
    client_user, worker, _manager, _other, service = quality_people
    cancelled = ended_order(client_user, service, worker, status=S.CANCELLED, slot_index=0)
    failed = no_show(client_user, service, worker, slot_index=1)
    ended_order(client_user, service, worker, status=S.COMPLETED, slot_index=2)

    page = manager_browser.get("/manage/quality")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    rows = re.findall(r'data-order="(\d+)"', html)
    assert rows == [str(cancelled.id), str(failed.id)], "oldest ended first; the completed one is not queued"
    assert "To review (2)" in html and "No-show: 1" in html and "Cancelled: 1" in html
    assert 'href="/manage/quality/hypotheses"' in html and "<svg" in html

    fragment = manager_browser.get("/manage/quality?reason=no_show", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and re.findall(r'data-order="(\d+)"', body) == [str(failed.id)]
    assert "HX-Request" in fragment.headers.get("Vary", "")


def test_us200_old_items_are_highlighted(manager_browser, app, db, frozen_time, quality_people):
    client_user, worker, *_ = quality_people
    item = fake_end(555, "failed", client_id=client_user.id, worker_id=worker.id, reason="broken vase")
    item.entered_at -= timedelta(days=4)
    db.session.flush()
    html = manager_browser.get("/manage/quality").get_data(as_text=True)
    assert re.search(r'data-order="555" class="stale"', html)
    app.config["QUALITY_STALE_DAYS"] = 10
    try:
        html = manager_browser.get("/manage/quality").get_data(as_text=True)
        assert re.search(r'data-order="555" class=""', html)
    finally:
        app.config["QUALITY_STALE_DAYS"] = 3


def test_us200_claim_conflict_between_two_managers(manager_browser, new_client, db, frozen_time, quality_people):
    client_user, worker, manager, other, service = quality_people
    order = ended_order(client_user, service, worker, status=S.FAILED)
    item = _item(db, order.id)
    response = manager_browser.post(
        f"/manage/quality/items/{item.id}/claim", data={"csrf_token": csrf_token(manager_browser, "/manage/quality")}
    )
    assert response.status_code == 303 and _item(db, order.id).claimed_by_id == manager.id

    second = new_client()
    login(second, other)
    response = second.post(
        f"/manage/quality/items/{item.id}/claim",
        data={"csrf_token": csrf_token(second, "/manage/quality")},
        follow_redirects=True,
    )
    assert "Another manager has claimed" in response.get_data(as_text=True)
    assert _item(db, order.id).claimed_by_id == manager.id
    review_page = second.get(f"/manage/quality/items/{item.id}").get_data(as_text=True)
    assert "is reviewing this order" in review_page and 'name="token"' not in review_page


def test_us210_us305_review_through_the_form_once_with_mails(manager_browser, db, frozen_time, quality_people):
    client_user, worker, manager, _other, service = quality_people
    order = no_show(client_user, service, worker)
    item = _item(db, order.id)
    url = f"/manage/quality/items/{item.id}"
    page = manager_browser.get(url).get_data(as_text=True)
    for expected in (
        "Timeline",
        "Why this worker",
        "Kit and cookie",
        "Call log",
        "Mails about it",
        client_user.email,
        f"mailto:{worker.email}",
        "No-show: the worker did not check in",
        "Price and money",
    ):
        assert expected in page

    data = _review_data(manager_browser, url)
    first = manager_browser.post(f"{url}/review", data=data)
    second = manager_browser.post(f"{url}/review", data=data)  # the double click
    assert first.status_code == second.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Review)) == 1
    review = db.session.scalar(select(Review))
    assert (review.punctuality, review.fault, review.reviewer_id) == (1, "worker", manager.id)
    [hypothesis] = review.hypotheses
    assert hypothesis.sentence.startswith("If we call workers the evening before, then no-shows drop")

    mails = list(db.session.scalars(select(OutboxEmail).where(OutboxEmail.template.like("quality_result_%"))))
    assert sorted(mail.recipient for mail in mails) == sorted([client_user.email, worker.email])
    assert all("INTERNAL" not in mail.body_text + mail.body_html for mail in mails)

    shown = manager_browser.get(url).get_data(as_text=True)
    assert "INTERNAL ONLY" in shown and "Amend the review" in shown and "quality_result_client" not in shown
    board = manager_browser.get("/manage/quality/hypotheses").get_data(as_text=True)
    assert "call workers the evening before" in board and "100%" in board


def test_us210_bad_review_input_gets_messages_next_to_fields_and_changes_nothing(
    manager_browser, db, frozen_time, quality_people
):
    client_user, worker, _manager, _other, service = quality_people
    order = ended_order(client_user, service, worker, status=S.CANCELLED)
    url = f"/manage/quality/items/{_item(db, order.id).id}"
    data = _review_data(manager_browser, url, punctuality="9", client_message="", fault="", new_then="")
    response = manager_browser.post(f"{url}/review", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, "client_message") == ["This field is required."]
    assert field_errors(html, "fault") == ["Choose whose fault it was."]
    assert field_errors(html, "new_then") == ["This field is required."]
    assert "Give punctuality a score from 1 to 5." in html
    assert db.session.scalar(select(func.count()).select_from(Review)) == 0
    assert db.session.scalar(select(func.count()).select_from(Hypothesis)) == 0


def test_us210_amend_through_the_form_keeps_the_history(manager_browser, db, frozen_time, quality_people):
    client_user, worker, manager, _other, service = quality_people
    order = ended_order(client_user, service, worker, status=S.FAILED)
    item = _item(db, order.id)
    url = f"/manage/quality/items/{item.id}"
    manager_browser.post(f"{url}/review", data=_review_data(manager_browser, url))
    data = _review_data(
        manager_browser,
        url,
        fault="client",
        note="The client locked the door.",
        new_if_we="",
        new_then="",
        new_because="",
    )
    data.pop("token")
    response = manager_browser.post(f"{url}/amend", data=data)
    assert response.status_code == 303
    review = db.session.scalar(select(Review))
    database.session.refresh(review)
    assert review.fault == "client" and review.version == 2
    [revision] = review.revisions
    assert revision.before["fault"] == "worker" and "fault" in revision.changed_fields
    html = manager_browser.get(url).get_data(as_text=True)
    assert "The client locked the door." in html and "What it said before" in html


def test_us190_random_audit_from_the_page(manager_browser, db, frozen_time, quality_people):
    client_user, worker, manager, _other, service = quality_people
    completed = ended_order(client_user, service, worker, status=S.COMPLETED)
    token = csrf_token(manager_browser, "/manage/quality")
    response = manager_browser.post("/manage/quality/audit", data={"csrf_token": token, "worker": str(worker.id)})
    assert response.status_code == 303
    item = _item(db, completed.id)
    assert item.source == "audit" and item.claimed_by_id == manager.id
    assert response.headers["Location"].endswith(f"/manage/quality/items/{item.id}")
    again = manager_browser.post("/manage/quality/audit", data={"csrf_token": token}, follow_redirects=True)
    assert "No completed order left to audit" in again.get_data(as_text=True)
    bad = manager_browser.post(
        "/manage/quality/audit", data={"csrf_token": token, "date_from": "2026-12-01", "date_to": "2026-11-01"}
    )
    assert bad.status_code == 422 and "The end comes before the start." in bad.get_data(as_text=True)


def test_us190_the_call_log(manager_browser, db, frozen_time, quality_people):
    client_user, worker, _manager, _other, service = quality_people
    order = ended_order(client_user, service, worker, status=S.FAILED)
    url = f"/manage/quality/items/{_item(db, order.id).id}"
    token = csrf_token(manager_browser, url)
    ok = manager_browser.post(
        f"{url}/calls",
        data={"csrf_token": token, "party": "client", "outcome": "reached", "notes": "She was upset but kind."},
    )
    assert ok.status_code == 303
    bad = manager_browser.post(f"{url}/calls", data={"csrf_token": token, "party": "cat", "outcome": "reached"})
    assert bad.status_code == 422 and field_errors(bad.get_data(as_text=True), "party") == ["Choose whom you called."]
    assert db.session.scalar(select(func.count()).select_from(CallLog)) == 1
    assert "She was upset but kind." in manager_browser.get(url).get_data(as_text=True)


def test_us210_hypothesis_page_records_status_changes(manager_browser, db, frozen_time, quality_people):
    manager = quality_people[2]
    hypothesis = quality.create_hypothesis(manager.id, "pack spare gloves", "kits are complete", "gloves tear")
    url = f"/manage/quality/hypotheses/{hypothesis.id}"
    token = csrf_token(manager_browser, url)
    response = manager_browser.post(f"{url}/status", data={"csrf_token": token, "status": "testing", "note": "Pilot"})
    assert response.status_code == 303
    html = manager_browser.get(url).get_data(as_text=True)
    assert "proposed &rarr; <strong>testing</strong>" in html and manager.name in html
    bad = manager_browser.post(f"{url}/status", data={"csrf_token": token, "status": "maybe"})
    assert bad.status_code == 422
    new = manager_browser.post(
        "/manage/quality/hypotheses", data={"csrf_token": token, "if_we": "x", "then": "", "because": "z"}
    )
    assert new.status_code == 422 and field_errors(new.get_data(as_text=True), "then") == ["This field is required."]


def test_quality_export_csv(manager_browser, db, frozen_time, quality_people):
    client_user, worker, manager, _other, service = quality_people
    order = ended_order(client_user, service, worker, status=S.FAILED)
    quality.submit_review(
        _item(db, order.id).id,
        manager.id,
        "tok",
        quality.ReviewInput(
            scores=dict.fromkeys(("punctuality", "work_quality", "communication", "kit", "satisfaction"), 3),
            fault="nobody",
            root_cause="=HYPERLINK(1)",
            client_message="ok",
            worker_message="ok",
        ),
    )
    response = manager_browser.get("/manage/quality/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0].startswith("review_id,order_id,source,outcome")
    assert f",{order.id}," in lines[1] and "'=HYPERLINK(1)" in lines[1]
    assert manager_browser.get("/manage/quality/export.csv?from=junk").status_code == 422


def test_quality_lists_have_no_n_plus_1(manager_browser, app, db, frozen_time, quality_people):
    """The queue, the board and the dashboard take the same number of statements for 3 or 23 rows."""
    manager = quality_people[2]

    def statements(url):
        with count_statements(database.engine) as counter:
            assert manager_browser.get(url).status_code == 200
        return counter[0]

    def add(start, n):
        for order_id in range(start, start + n):
            item = fake_end(order_id, "failed", client_id=quality_people[0].id, worker_id=quality_people[1].id)
            review, _ = quality.submit_review(
                item.id,
                manager.id,
                f"t{order_id}",
                quality.ReviewInput(
                    scores=dict.fromkeys(("punctuality", "work_quality", "communication", "kit", "satisfaction"), 4),
                    fault="company",
                    root_cause=f"cause {order_id % 4}",
                    client_message="m",
                    worker_message="w",
                    new_hypotheses=[quality.NewHypothesis("a", "b", "c")],
                ),
            )
            fake_end(order_id + 500, "cancelled", client_id=quality_people[0].id, worker_id=ManagerFactory().id)
        db.session.flush()

    add(1000, 3)
    urls = ["/manage/quality?state=all", "/manage/quality/hypotheses", "/manage/quality/export.csv"]
    few = [statements(url) for url in urls]
    add(2000, 20)
    many = [statements(url) for url in urls]
    assert many == few


def test_quality_dashboard_shows_scores_root_causes_and_workers(manager_browser, db, frozen_time, quality_people):
    client_user, worker, manager, _other, service = quality_people
    for index, status in enumerate((S.FAILED, S.CANCELLED, S.FAILED)):
        order = ended_order(client_user, service, worker, status=status, slot_index=index)
        quality.submit_review(
            _item(db, order.id).id,
            manager.id,
            f"d{index}",
            quality.ReviewInput(
                scores={"punctuality": 2 + index, "work_quality": 4, "communication": 4, "kit": 4, "satisfaction": 3},
                fault="worker",
                root_cause="Late arrival",
                client_message="c",
                worker_message="w",
            ),
        )
    html = manager_browser.get("/manage/quality").get_data(as_text=True)
    dashboard = html[html.index('id="dashboard"') :]
    assert re.search(r"Late arrival <span class=\"badge\">3</span>", dashboard)
    assert re.search(rf"{re.escape(worker.name)}</a></th>\s*<td class=\"num\" data-label=\"Failed\">2</td>", dashboard)
    assert '<td class="num" data-label="Punctuality">3.00</td>' in dashboard, "the week's average of 2, 3 and 4"
    assert 'class="score-line line-punctuality"' in dashboard or 'class="score-dot line-punctuality"' in dashboard


def test_us210_a_hypothesis_changes_owner_with_history(manager_browser, db, frozen_time, quality_people):
    _client, worker, manager, other, _service = quality_people
    hypothesis = quality.create_hypothesis(manager.id, "rotate the kit checks", "fewer gaps", "fresh eyes")
    url = f"/manage/quality/hypotheses/{hypothesis.id}"
    token = csrf_token(manager_browser, url)
    assert manager_browser.post(f"{url}/owner", data={"csrf_token": token, "owner": str(other.id)}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Hypothesis, hypothesis.id).owner_id == other.id
    assert f"gave it to {other.name}" in manager_browser.get(url).get_data(as_text=True)
    refused = manager_browser.post(f"{url}/owner", data={"csrf_token": token, "owner": str(worker.id)})
    assert refused.status_code == 422 and "Choose an active manager." in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Hypothesis, hypothesis.id).owner_id == other.id
