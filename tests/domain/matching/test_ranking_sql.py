"""The one-statement ranking (issue 13, point 4) gives what the step-by-step pipeline gives: the same
order of workers, the same scores and the same report per step, on varied workers and histories,
with exclusions (US-132), with the fallback when the filters leave nobody (US-073), and with a step
whose params it cannot use (skipped, as the pipeline skips it)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from app.matching.pipeline import Ranking, _keys, enabled_steps, rank, rank_samples
from app.matching.ranking_sql import rank_in_sql, sql_rankable
from app.matching.samples import ordinary_samples, reference_sample
from app.orders import services as orders
from tests.support.matching import DEFAULT_PIPELINE, NOW, SLOT, S, make_worker, new_order, past_order

pytestmark = pytest.mark.usefixtures("at_now")

TRAITS = ["cleaning", "sofas", "garden", "baths", "Cleaning"]


def both(order) -> tuple[Ranking, Ranking]:
    steps = enabled_steps()
    assert sql_rankable(steps)
    reference = reference_sample(order)
    in_sql = Ranking(order_id=order.id)
    rank_in_sql(reference, steps, _keys(steps), in_sql)
    return in_sql, rank_samples(reference, ordinary_samples(), steps)


def comparable(ranking: Ranking) -> dict:
    steps = [{k: v for k, v in step.items() if k not in ("ms", "shared_ms")} for step in ranking.steps]
    return {"ranked": ranking.ranked, "steps": steps, "fell_back": ranking.fell_back, "note": ranking.note}


def assert_same(in_sql: Ranking, in_python: Ranking) -> None:
    assert comparable(in_sql) == comparable(in_python)
    assert in_sql.scores.keys() == in_python.scores.keys()
    for worker_id, scores in in_python.scores.items():
        assert in_sql.scores[worker_id] == pytest.approx(scores, abs=2e-6), worker_id


@pytest.fixture
def history(db, service, client_user):
    """30 workers with random traits, past results and bookings around the slot."""
    rng = random.Random(4)
    workers = [
        make_worker(strengths=rng.sample(TRAITS, rng.randrange(3)), weaknesses=rng.sample(TRAITS, rng.randrange(2)))
        for _ in range(30)
    ]
    workers[-1].active = False
    for worker in workers:
        for _ in range(rng.randrange(6)):
            status = rng.choice([S.COMPLETED, S.COMPLETED, S.FAILED, S.CANCELLED])
            past_order(client_user, service, worker, status, NOW - timedelta(days=rng.randrange(1, 300)))
        for _ in range(rng.randrange(3)):
            start = SLOT + timedelta(minutes=30 * rng.randrange(-8, 60))
            past_order(client_user, service, worker, rng.choice([S.MATCHED, S.KIT_ISSUED]), start)
    return workers


@pytest.mark.parametrize(
    "steps",
    [
        DEFAULT_PIPELINE,
        [
            ("tie_break", "Seed", {"weight": 2.0, "seed": -5}),
            ("free_at_slot", "Free wide", {"buffer_minutes": 240}),
            ("past_results", "Past", {"weight": -1.5, "prior": 0.5}),
            ("free_at_slot", "Free", {"buffer_minutes": 0}),
            ("current_load", "Load 30 days", {"weight": 4.0, "days": 30}),
            ("strengths", "Strengths", {"weight": 0.3}),
        ],
        [("free_at_slot", "Free all day", {"buffer_minutes": 24 * 60}), ("strengths", "S", {"weight": 1.0})],
        [("free_at_slot", "Free", {"buffer_minutes": 0})],
        [("current_load", "Broken", {"weight": 1.0, "days": "seven"}), ("tie_break", "T", {"weight": 1, "seed": 1})],
        [],
    ],
    ids=["default", "mixed", "nobody-free-falls-back", "filter-only", "broken-step", "no-steps"],
)
def test_the_statement_ranks_as_the_pipeline_does(db, pipeline, service, client_user, history, steps):
    pipeline(steps)
    in_sql, in_python = both(new_order(client_user, service))
    assert len(in_sql.ranked) > 1
    assert_same(in_sql, in_python)


def test_exclusions_and_everyone_excluded_us132(db, pipeline, service, client_user):
    pipeline(DEFAULT_PIPELINE)
    first, second = make_worker(strengths=["cleaning"]), make_worker()
    failed = new_order(client_user, service)
    orders.assign_worker(failed, first)
    orders.fail(failed, "no_show")
    copy = orders.rebook(failed, client_user, SLOT + timedelta(days=1))
    in_sql, in_python = both(copy)
    assert in_sql.ranked == [second.id]
    assert_same(in_sql, in_python)

    second.active = False
    in_sql, in_python = both(copy)
    assert in_sql.ranked == [first.id] and "exclusion was set aside" in in_sql.note
    assert_same(in_sql, in_python)


def test_no_active_worker(db, pipeline, service, client_user):
    pipeline(DEFAULT_PIPELINE)
    in_sql, in_python = both(new_order(client_user, service))
    assert in_sql.ranked == [] and in_sql.note == in_python.note != ""
    assert_same(in_sql, in_python)


def test_rank_uses_the_statement_for_built_in_steps(db, pipeline, service, client_user):
    pipeline(DEFAULT_PIPELINE)
    make_worker()
    ranking = rank(new_order(client_user, service))
    assert all(step.get("shared_ms") for step in ranking.steps)
