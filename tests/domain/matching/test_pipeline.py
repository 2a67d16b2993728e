"""Matching service tests (US-060..073): each built-in step, the pipeline's order and params,
exclusions for a rebooked copy (US-132), the always-a-worker fallback (US-073), the record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from app.events.models import Event
from app.matching import services as matching
from app.matching.models import MatchRun
from app.matching.pipeline import rank
from app.orders import service_types
from app.orders import services as orders
from app.orders.states import IllegalTransition, move
from app.platform.jobs import in_job
from tests.support.matching import DEFAULT_PIPELINE, NOW, SLOT, S, make_worker, new_order, past_order

pytestmark = pytest.mark.usefixtures("at_now")


def ranked_ids(order) -> list[int]:
    return rank(order).ranked


def test_us060_default_pipeline_assigns_the_best_worker_and_records_why(db, pipeline, service, client_user):
    pipeline(DEFAULT_PIPELINE)
    weak = make_worker(weaknesses=["cleaning"])
    strong = make_worker(strengths=["cleaning"])
    order = new_order(client_user, service)

    run = matching.match_order(order)

    assert order.status == S.MATCHED and order.worker_id == strong.id
    assert order.price_cents == 100_00 and order.base_price_cents == 100_00 and order.discount_percent == 0
    assert db.session.scalar(select(Event).where(Event.type == "order.matched", Event.aggregate_id == str(order.id)))
    assert run.chosen_worker_id == strong.id and not run.fell_back
    assert [step["step"] for step in run.steps] == [name for _kind, name, _params in DEFAULT_PIPELINE]
    assert [(step["status"], step["error"]) for step in run.steps] == [("ran", "")] * 5
    assert set(run.scores) == {str(weak.id), str(strong.id)}
    chosen = run.scores[str(strong.id)]
    assert chosen["Strengths for the service"] == 2.0
    assert run.scores[str(weak.id)]["Strengths for the service"] == -2.0
    assert chosen["total"] == pytest.approx(sum(v for k, v in chosen.items() if k != "total"))
    assert run.ranked()[0][0] == strong.id
    assert run.score_columns == [name for _k, name, _p in DEFAULT_PIPELINE[1:]]
    assert db.session.scalars(select(MatchRun).where(MatchRun.order_id == order.id)).one() is run


def test_us061_free_at_slot_filters_workers_busy_within_the_buffer(db, pipeline, service, client_user):
    step, _ = pipeline([("free_at_slot", "Free", {"buffer_minutes": 30}), ("strengths", "S", {"weight": 1})])
    busy = make_worker(strengths=["cleaning"])
    near = make_worker(strengths=["cleaning"])
    free = make_worker()
    past_order(client_user, service, busy, S.KIT_ISSUED, SLOT + timedelta(minutes=60))  # overlaps
    past_order(client_user, service, near, S.MATCHED, SLOT - timedelta(minutes=140))  # ends 20 min before
    past_order(client_user, service, free, S.COMPLETED, SLOT)  # finished orders don't block
    order = new_order(client_user, service)

    assert ranked_ids(order) == [free.id]
    step.params = {"buffer_minutes": 0}
    db.session.flush()
    assert ranked_ids(order) == [near.id, free.id]


def test_us062_strengths_score_the_service_skills(db, pipeline, client_user):
    service = service_types.save_service_type(None, name="Garden", skills="digging, watering")
    pipeline([("strengths", "Strengths", {"weight": 1.0})])
    both = make_worker(strengths=["digging", "watering"])
    one = make_worker(strengths=["digging"], weaknesses=["watering"])
    none = make_worker(weaknesses=["digging", "watering"])
    ranking = rank(new_order(client_user, service))
    assert ranking.ranked == [both.id, one.id, none.id]
    assert [ranking.scores[w]["Strengths"] for w in ranking.ranked] == [1.0, 0.0, -1.0]


def test_us063_past_results_prefer_completed_over_failed(db, pipeline, service, client_user):
    pipeline([("past_results", "Past", {"weight": 1.0})])
    reliable = make_worker()
    flaky = make_worker()
    newcomer = make_worker()
    for days in range(1, 5):
        past_order(client_user, service, reliable, S.COMPLETED, NOW - timedelta(days=days))
        past_order(client_user, service, flaky, S.FAILED, NOW - timedelta(days=days))
    past_order(client_user, service, flaky, S.CANCELLED, NOW - timedelta(days=9))  # not the worker's fault
    ranking = rank(new_order(client_user, service))
    assert ranking.ranked == [reliable.id, newcomer.id, flaky.id]
    assert ranking.scores[reliable.id]["Past"] == pytest.approx(5 / 6, abs=1e-6)
    assert ranking.scores[newcomer.id]["Past"] == 0.5
    assert ranking.scores[flaky.id]["Past"] == pytest.approx(1 / 6, abs=1e-6)


def test_us064_current_load_prefers_the_less_busy_worker(db, pipeline, service, client_user):
    pipeline([("current_load", "Load", {"weight": 1.0, "days": 7})])
    busy = make_worker()
    idle = make_worker()
    later = make_worker()
    for days in (2, 3, 4):
        past_order(client_user, service, busy, S.MATCHED, NOW + timedelta(days=days))
    past_order(client_user, service, later, S.MATCHED, NOW + timedelta(days=20))  # outside the window
    ranking = rank(new_order(client_user, service))
    assert ranking.ranked[-1] == busy.id
    assert ranking.scores[busy.id]["Load"] == 0.25
    assert ranking.scores[idle.id]["Load"] == ranking.scores[later.id]["Load"] == 1.0


def test_us065_tie_break_is_deterministic_and_follows_the_seed(db, pipeline, service, client_user):
    workers = [make_worker() for _ in range(6)]
    order = new_order(client_user, service)
    pipeline([("tie_break", "Tie", {"weight": 1.0, "seed": 1})])
    first = ranked_ids(order)
    assert first == ranked_ids(order) and sorted(first) == sorted(w.id for w in workers)
    orders_by_seed = set()
    for seed in range(2, 8):
        pipeline([("tie_break", "Tie", {"weight": 1.0, "seed": seed})])
        orders_by_seed.add(tuple(ranked_ids(order)))
    assert len(orders_by_seed) > 1, "another seed gives another order"


def test_us066_without_steps_the_lowest_id_wins(db, pipeline, service, client_user):
    pipeline([])
    first, _second = make_worker(), make_worker()
    assert ranked_ids(new_order(client_user, service))[0] == first.id


def test_us067_changing_params_order_or_enabled_changes_the_result(
    app, db, pipeline, service, client_user, tmp_path, monkeypatch
):
    """The pipeline lives in the database: weights, enabled flags and order all change who wins."""
    skilled = make_worker(strengths=["cleaning"])
    reliable = make_worker()
    for days in range(1, 6):
        past_order(client_user, service, reliable, S.COMPLETED, NOW - timedelta(days=days))
    past_order(client_user, service, skilled, S.FAILED, NOW - timedelta(days=1))
    order = new_order(client_user, service)

    strengths, past = pipeline([("strengths", "S", {"weight": 2.0}), ("past_results", "P", {"weight": 1.0})])
    assert ranked_ids(order)[0] == skilled.id
    past.params = {"weight": 10.0}
    db.session.flush()
    assert ranked_ids(order)[0] == reliable.id
    past.enabled = False
    db.session.flush()
    assert ranked_ids(order)[0] == skilled.id

    # Order: an external filter that keeps only the first candidate it is given, before or after
    # the free-at-slot filter that removes the first worker.
    script = tmp_path / "first.pl"
    script.write_text(
        "use JSON::PP; local $/; my $in = decode_json(<STDIN>);\n"
        "print encode_json({keep => [$in->{ordinary_samples}[0]{id}]});\n"
    )
    past_order(client_user, service, skilled, S.MATCHED, SLOT)
    monkeypatch.setitem(app.config, "MATCHING_COMMANDS", {"first": {"argv": ["perl", str(script)]}})
    keep_first = ("external", "Keep first", {"command": "first", "timeout_seconds": 3, "mode": "filter"})
    free = ("free_at_slot", "Free", {"buffer_minutes": 0})
    pipeline([free, keep_first])
    with in_job():  # external steps run in the worker only
        ranking = rank(order)
    assert ranking.ranked == [reliable.id] and not ranking.fell_back
    pipeline([keep_first, free, ("past_results", "P", {"weight": 1.0})])
    with in_job():
        ranking = rank(order)
    assert ranking.fell_back and ranking.ranked == [reliable.id, skilled.id]
    assert [s["after"] for s in ranking.steps if s.get("phase") is None] == [1, 0, 0]


def test_us068_rebooked_copy_goes_to_a_different_worker(db, pipeline, service, client_user):
    """US-132: the worker who failed the order (or any earlier copy) is excluded before the steps."""
    pipeline([("strengths", "S", {"weight": 1.0})])
    star = make_worker(strengths=["cleaning"])
    other = make_worker()
    first = new_order(client_user, service, SLOT - timedelta(hours=2))
    orders.assign_worker(first, star)
    move(first, S.FAILED, reason="no_show")
    copy = orders.rebook(first, client_user, SLOT + timedelta(days=1))

    run = matching.match_order(copy)

    assert copy.worker_id == other.id
    assert str(star.id) not in run.scores
    assert run.steps[0]["kind"] == "exclusions" and (run.steps[0]["before"], run.steps[0]["after"]) == (2, 1)


def test_us068_copy_with_only_excluded_workers_still_gets_one(db, pipeline, service, client_user):
    pipeline([("strengths", "S", {"weight": 1.0})])
    only = make_worker()
    first = new_order(client_user, service, SLOT - timedelta(hours=2))
    orders.assign_worker(first, only)
    move(first, S.FAILED, reason="no_show")
    copy = orders.rebook(first, client_user, SLOT + timedelta(days=1))
    run = matching.match_order(copy)
    assert copy.worker_id == only.id
    assert "earlier copy" in run.note


def test_us073_filters_leaving_nobody_fall_back_to_the_best_active_worker(db, pipeline, service, client_user):
    pipeline(DEFAULT_PIPELINE)
    skilled = make_worker(strengths=["cleaning"])
    plain = make_worker()
    make_worker(strengths=["cleaning", "more"], active=False)  # inactive workers are never candidates
    for worker in (skilled, plain):
        past_order(client_user, service, worker, S.IN_PROGRESS, SLOT)
    order = new_order(client_user, service)

    run = matching.match_order(order)

    assert order.worker_id == skilled.id and order.status == S.MATCHED
    assert run.fell_back and "best of all active workers" in run.note
    assert run.steps[0]["step"] == "Free at that time" and run.steps[0]["after"] == 0
    assert [s["status"] for s in run.steps[1:5]] == ["skipped"] * 4
    assert [s.get("phase") for s in run.steps[5:]] == ["fallback"] * 4
    assert set(run.scores) == {str(skilled.id), str(plain.id)}
    assert run.score_columns == [name for _k, name, _p in DEFAULT_PIPELINE[1:]]


def test_us073_no_active_workers_records_a_note_and_leaves_the_order_requested(db, pipeline, service, client_user):
    pipeline(DEFAULT_PIPELINE)
    make_worker(active=False)
    order = new_order(client_user, service)
    run = matching.match_order(order)
    assert order.status == S.REQUESTED and order.worker_id is None and order.price_cents is None
    assert run.chosen_worker_id is None and "No active workers" in run.note
    # Once a worker exists, the manager's re-run matches it.
    worker = make_worker()
    run = matching.rematch(order)
    assert order.worker_id == worker.id and run.chosen_worker_id == worker.id
    assert [r.id for r in matching.runs_for(order.id)] == [run.id, run.id - 1]
    assert matching.latest_run(order.id) is run


def test_us069_matching_is_idempotent_and_rematch_refuses_a_matched_order(db, pipeline, service, client_user):
    pipeline([])
    make_worker()
    order = new_order(client_user, service)
    assert matching.match_order(order) is not None
    assert matching.match_order(order) is None
    assert len(matching.runs_for(order.id)) == 1
    with pytest.raises(IllegalTransition):
        matching.rematch(order)


def test_us070_preview_ranks_without_assigning_or_recording(db, pipeline, service, client_user):
    pipeline(DEFAULT_PIPELINE)
    worker = make_worker(strengths=["cleaning"])
    order = new_order(client_user, service)
    ranking = matching.preview(order)
    run = matching.preview_run(order, ranking)
    assert ranking.chosen == worker.id and run.chosen_worker_id == worker.id and run.id is None
    assert order.status == S.REQUESTED and not matching.runs_for(order.id)
    assert matching.worker_names(run) == {worker.id: worker.name}


def test_us072_matching_queries_do_not_grow_with_the_number_of_workers(db, pipeline, service, client_user):
    """Every built-in step reads all candidates in one set-based query: no query per worker."""
    pipeline(DEFAULT_PIPELINE)

    def queries_to_match(worker_count: int) -> int:
        for _ in range(worker_count):
            worker = make_worker(strengths=["cleaning"])
            past_order(client_user, service, worker, S.COMPLETED, NOW - timedelta(days=3))
            past_order(client_user, service, worker, S.MATCHED, NOW + timedelta(days=3))
        order = new_order(client_user, service, SLOT + timedelta(hours=worker_count % 5))
        db.session.flush()
        db.session.expire_all()
        statements = []

        def count(*_args):
            statements.append(_args[2])

        connection = db.session.connection()
        event.listen(connection, "before_cursor_execute", count)
        try:
            run = matching.match_order(order)
        finally:
            event.remove(connection, "before_cursor_execute", count)
        assert run.chosen_worker_id is not None
        return len(statements)

    few = queries_to_match(2)
    many = queries_to_match(25)
    assert many == few, f"{few} queries for 2 workers, {many} for 27"
