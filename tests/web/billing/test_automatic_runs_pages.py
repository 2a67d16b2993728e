"""Issue 12 point 15: managers pause and resume the schedule's billing runs on /manage/billing (the
demo pauses them so that its history waits for the manager's Start), and set the sandbox's latency."""

from __future__ import annotations

from app.billing.jobs import check
from app.billing.processes import runs
from app.billing.providers import sandbox_settings
from app.billing.settings import automatic_runs
from tests.support.fixtures import csrf_token


def test_a_manager_pauses_and_resumes_automatic_runs(db, people, as_user):
    manager = as_user(people["manager"])
    assert "Automatic runs are <strong>on</strong>" in manager.get("/manage/billing").get_data(as_text=True)
    token = csrf_token(manager, "/manage/billing")
    response = manager.post("/manage/billing/automatic-runs", data={"automatic_runs": "off", "csrf_token": token})
    assert response.status_code == 303 and automatic_runs() is False
    assert check(runs.WEEKLY_CLIENTS) is None and check(runs.PAYMENT_RETRIES) is None
    page = manager.get("/manage/billing").get_data(as_text=True)
    assert "Automatic runs are <strong>paused</strong>" in page and "Switch automatic runs on" in page
    manager.post("/manage/billing/automatic-runs", data={"automatic_runs": "on", "csrf_token": token})
    assert automatic_runs() is True
    bad = manager.post("/manage/billing/automatic-runs", data={"automatic_runs": "maybe", "csrf_token": token})
    assert bad.status_code == 303 and automatic_runs() is True

    client = as_user(people["client"])
    refused = client.post(
        "/manage/billing/automatic-runs", data={"automatic_runs": "off", "csrf_token": csrf_token(client, "/")}
    )
    assert refused.status_code == 403 and automatic_runs() is True


def test_the_sandbox_form_sets_the_providers_delay(db, people, as_user):
    manager = as_user(people["manager"])
    token = csrf_token(manager, "/manage/billing")
    ok = manager.post(
        "/manage/billing/sandbox", data={"fail_user_ids": "", "fail_rate": "0", "delay_ms": "2500", "csrf_token": token}
    )
    assert ok.status_code == 303 and sandbox_settings().delay_ms == 2500
    bad = manager.post(
        "/manage/billing/sandbox", data={"fail_user_ids": "", "fail_rate": "0", "delay_ms": "-4", "csrf_token": token}
    )
    assert bad.status_code == 422 and "0 to 10000" in bad.get_data(as_text=True)
    assert sandbox_settings().delay_ms == 2500
