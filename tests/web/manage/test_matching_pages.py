"""/manage/matching (US-060..073): managers list, add, edit, reorder, enable/disable and delete
steps without a deploy; bad params answer 422 with the message next to the field and change
nothing; "try it" ranks without assigning; other roles are refused."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.matching.models import MatchingStep, MatchRun
from app.orders.models import OrderStatus
from tests.support.factories import ClientFactory, ManagerFactory, SupplyFactory, WorkerFactory
from tests.support.fixtures import csrf_token
from tests.support.matching import DEFAULT_PIPELINE, make_worker, new_order

pytestmark = pytest.mark.usefixtures("at_now")
PAGE = "/manage/matching"


@pytest.fixture
def manager_client(app, client, login_as, pipeline, monkeypatch):
    """Operators registered one command (outside the web); managers only pick it."""
    registry = {"perl-model": {"argv": ["perl", "/opt/steps/score.pl"], "params": ["bias"]}}
    monkeypatch.setitem(app.config, "MATCHING_COMMANDS", registry)
    pipeline(DEFAULT_PIPELINE)
    login_as(ManagerFactory())
    return client


def steps(db) -> list[MatchingStep]:
    db.session.expire_all()
    return list(db.session.scalars(select(MatchingStep).order_by(MatchingStep.position, MatchingStep.id)))


def step_named(db, name: str) -> MatchingStep:
    return next(step for step in steps(db) if step.name == name)


def post(client, url: str, data: dict, htmx: bool = False):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(url, data={"csrf_token": csrf_token(client, PAGE), **data}, headers=headers)


@pytest.mark.parametrize("factory", [ClientFactory, WorkerFactory, SupplyFactory])
def test_us067_other_roles_are_refused(client, login_as, db, factory):
    login_as(factory())
    assert client.get(PAGE).status_code == 403
    assert client.get(f"{PAGE}/try").status_code == 403
    assert client.post(f"{PAGE}/steps", data={"csrf_token": csrf_token(client, "/")}).status_code == 403


def test_us067_page_lists_the_steps_in_order_and_links_from_the_nav(manager_client):
    html = manager_client.get(PAGE).get_data(as_text=True)
    positions = [html.index(name) for _kind, name, _params in DEFAULT_PIPELINE]
    assert positions == sorted(positions)
    assert 'href="/manage/matching"' in html and "Try it" in html


def test_us067_add_an_external_step(manager_client, db):
    params = {"command": "perl-model", "args": {"bias": 0.5}, "timeout_seconds": 2, "weight": 0.5, "mode": "score"}
    response = post(
        manager_client, f"{PAGE}/steps", {"kind": "external", "name": "Perl model", "params": json.dumps(params)}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(PAGE)
    added = steps(db)[-1]
    assert (added.name, added.kind, added.params, added.enabled, added.position) == (
        "Perl model",
        "external",
        params,
        True,
        6,
    )


def test_us067_a_built_in_step_can_be_added_with_its_defaults(manager_client, db):
    response = post(manager_client, f"{PAGE}/steps", {"kind": "current_load", "name": "Load, 30 days", "params": ""})
    assert response.status_code == 303
    assert step_named(db, "Load, 30 days").params == {"weight": 1.0, "days": 7}


@pytest.mark.parametrize(
    ("data", "field_message"),
    [
        ({"kind": "external", "name": "X", "params": "{not json"}, "Not valid JSON"),
        ({"kind": "external", "name": "X", "params": "[1]"}, "must be a JSON object"),
        ({"kind": "external", "name": "X", "params": ""}, "Enter the parameters"),
        (
            {
                "kind": "external",
                "name": "X",
                "params": '{"command": ["perl", "-e", "system q(id)"], "timeout_seconds": 1, "mode": "score"}',
            },
            "“command” must be one of the registered commands: perl-model",
        ),
        (
            {"kind": "external", "name": "X", "params": '{"command": "sh", "mode": "score"}'},
            "“command” must be one of the registered commands",
        ),
        (
            {
                "kind": "external",
                "name": "X",
                "params": '{"command": "perl-model", "args": {"env": 1}, "mode": "score"}',
            },
            "perl-model does not take",
        ),
        (
            {
                "kind": "external",
                "name": "X",
                "params": '{"command": "perl-model", "timeout_seconds": 99, "mode": "score"}',
            },
            "“timeout_seconds” must be between 0.1 and 5",
        ),
        (
            {
                "kind": "external",
                "name": "X",
                "params": '{"command": "perl-model", "timeout_seconds": 1, "mode": "vote"}',
            },
            "“mode” must be",
        ),
        (
            {
                "kind": "external",
                "name": "Past results",
                "params": '{"command": "perl-model", "timeout_seconds": 1, "mode": "score"}',
            },
            "Another step has this name",
        ),
        (
            {"kind": "tie_break", "name": "T", "params": '{"weight": 1, "seed": 1, "colour": "red"}'},
            "Unknown parameter “colour”",
        ),
    ],
)
def test_us067_bad_params_answer_422_next_to_the_field(manager_client, db, data, field_message):
    before = [(s.id, s.name, s.params) for s in steps(db)]
    response = post(manager_client, f"{PAGE}/steps", data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_message in html
    assert 'class="errors"' in html
    assert [(s.id, s.name, s.params) for s in steps(db)] == before


def test_us067_edit_params_and_name(manager_client, db):
    step = step_named(db, "Past results")
    prefix = f"step{step.id}-"
    response = post(
        manager_client, f"{PAGE}/steps/{step.id}", {prefix + "name": "History", prefix + "params": '{"weight": 7}'}
    )
    assert response.status_code == 303
    step = step_named(db, "History")
    assert step.params == {"weight": 7}

    response = post(
        manager_client, f"{PAGE}/steps/{step.id}", {prefix + "name": "History", prefix + "params": '{"weight": "lots"}'}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "“weight” must be a number" in html
    assert f'id="{prefix}params-errors"' in html, "the message is next to this step's params field"
    assert step_named(db, "History").params == {"weight": 7}


def test_us067_edit_with_htmx_swaps_the_list(manager_client, db):
    step = step_named(db, "Current load")
    prefix = f"step{step.id}-"
    response = post(
        manager_client,
        f"{PAGE}/steps/{step.id}",
        {prefix + "name": "Load", prefix + "params": '{"weight": 1}'},
        htmx=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "“days” is required" in html
    assert html.lstrip().startswith('<section id="matching-steps"') and "<html" not in html
    response = post(
        manager_client,
        f"{PAGE}/steps/{step.id}",
        {prefix + "name": "Load", prefix + "params": '{"weight": 1, "days": 3}'},
        htmx=True,
    )
    assert response.status_code == 200 and "Load" in response.get_data(as_text=True)
    assert step_named(db, "Load").params == {"weight": 1, "days": 3}


def test_us067_reorder_toggle_and_delete(manager_client, db):
    tie_id = step_named(db, "Seeded tie-break").id
    assert post(manager_client, f"{PAGE}/steps/{tie_id}/move", {"direction": "up"}).status_code == 303
    assert [s.name for s in steps(db)][3:] == ["Seeded tie-break", "Current load"]
    first = steps(db)[0]
    assert post(manager_client, f"{PAGE}/steps/{first.id}/move", {"direction": "up"}).status_code == 303
    assert steps(db)[0].id == first.id, "the first step stays first"
    assert post(manager_client, f"{PAGE}/steps/{first.id}/move", {"direction": "down"}, htmx=True).status_code == 200
    assert [s.position for s in steps(db)] == [1, 2, 3, 4, 5] and steps(db)[1].id == first.id
    assert post(manager_client, f"{PAGE}/steps/{first.id}/move", {"direction": "sideways"}).status_code == 422

    assert post(manager_client, f"{PAGE}/steps/{tie_id}/toggle", {}).status_code == 303
    assert step_named(db, "Seeded tie-break").enabled is False
    assert "Disabled" in manager_client.get(PAGE).get_data(as_text=True)
    assert post(manager_client, f"{PAGE}/steps/{tie_id}/delete", {}).status_code == 303
    assert "Seeded tie-break" not in [s.name for s in steps(db)]
    assert post(manager_client, f"{PAGE}/steps/{tie_id}/toggle", {}).status_code == 404


def test_us067_buttons_need_the_csrf_token(manager_client, db):
    step = steps(db)[0]
    assert manager_client.post(f"{PAGE}/steps/{step.id}/toggle", data={}).status_code == 400
    assert step_named(db, step.name).enabled is True


def run_worker_jobs() -> None:
    """The background worker's turn: an in-process RQ worker drains the default queue."""
    from rq import SimpleWorker

    from app.platform.queues import get_queue, redis_connection

    SimpleWorker([get_queue("default")], connection=redis_connection()).work(burst=True, logging_level="WARNING")


def test_us070_try_it_is_a_post_ranked_by_the_worker_without_assigning(manager_client, db, service, client_user):
    skilled = make_worker(strengths=["cleaning"], name="Skilled Tom")
    make_worker(name="Plain Jerry")
    order = new_order(client_user, service)
    page = manager_client.get(PAGE).get_data(as_text=True)
    assert f'<option value="{order.id}"' in page, "requested orders are offered"
    assert 'method="post" action="/manage/matching/try"' in page

    # A GET runs nothing: it only shows the form (and a finished preview, if named).
    assert "Chosen:" not in manager_client.get(f"{PAGE}/try", query_string={"order_id": order.id}).get_data(True)
    assert manager_client.post(f"{PAGE}/try", data={"order_id": order.id}).status_code == 400  # CSRF

    response = post(manager_client, f"{PAGE}/try", {"order_id": order.id})
    assert response.status_code == 303
    waiting = manager_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The worker is ranking" in waiting and "Chosen:" not in waiting
    run_worker_jobs()
    response = manager_client.get(response.headers["Location"])
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Chosen: <strong>Skilled Tom</strong>" in html and "Plain Jerry" in html
    assert html.index("Skilled Tom") < html.index("Plain Jerry")
    db.session.expire_all()
    assert order.status == OrderStatus.REQUESTED and order.worker_id is None
    assert db.session.scalars(select(MatchRun)).all() == []

    fragment = post(manager_client, f"{PAGE}/try", {"order_number": str(order.id)}, htmx=True)
    assert fragment.status_code == 202
    assert "<html" not in fragment.get_data(as_text=True) and "hx-get" in fragment.get_data(as_text=True)
    missing = post(manager_client, f"{PAGE}/try", {"order_number": "999999"})
    assert missing.status_code == 422 and "There is no order #999999" in missing.get_data(as_text=True)
    huge = post(manager_client, f"{PAGE}/try", {"order_number": "9" * 30})
    assert huge.status_code == 422
    forged = manager_client.get(f"{PAGE}/try", query_string={"order_id": order.id, "preview": "../../x"})
    assert "expired" in forged.get_data(as_text=True)

    response = post(manager_client, f"{PAGE}/orders/{order.id}/run", {"next": f"/manage/orders/{order.id}"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/manage/orders/{order.id}")
    db.session.expire_all()
    assert order.status == OrderStatus.REQUESTED, "the web process only asks; the worker matches"
    run_worker_jobs()
    db.session.expire_all()
    assert order.status == OrderStatus.MATCHED and order.worker_id == skilled.id
    response = post(manager_client, f"{PAGE}/orders/{order.id}/run", {"next": "//evil.example/"})
    assert response.status_code == 303 and "evil" not in response.headers["Location"]
    run_worker_jobs()
    assert len(db.session.scalars(select(MatchRun)).all()) == 1, "a matched order is not matched again"
