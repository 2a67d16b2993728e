"""External steps in any language (US-071): the samples go in as JSON on stdin, scores or a filter
come out on stdout. A step that fails, times out or writes garbage is skipped and logged; matching
still assigns a worker."""

from __future__ import annotations

import logging
import os
import time

import pytest

from app.matching import services as matching
from app.matching.pipeline import rank
from tests.support.matching import make_worker, new_order

pytestmark = pytest.mark.usefixtures("at_now")


@pytest.fixture
def matching_log(caplog):
    """The pipeline's warnings. (Alembic's fileConfig, run by the app fixture's upgrade(), disables
    loggers that already exist; this one is switched back on for the test.)"""
    logger = logging.getLogger("app.matching.pipeline")
    disabled, logger.disabled = logger.disabled, False
    with caplog.at_level(logging.WARNING, logger="app.matching"):
        yield caplog
    logger.disabled = disabled


PERL_SCORER = r"""
use strict; use warnings; use JSON::PP;
exit 3 if defined $ENV{DATABASE_URL} || defined $ENV{SECRET_KEY};   # no secrets for steps
local $/; my $in = decode_json(<STDIN>);
my $ref = $in->{reference_sample};
die "no order id" unless $ref->{order_id} && $ref->{service} eq 'Sofa cleaning';
my %scores = map { ($_->{id} => ($_->{name} =~ /Favourite/ ? 10 : 0)) } @{ $in->{ordinary_samples} };
print encode_json({scores => \%scores});
"""

NODE_FILTER = r"""
let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const samples = JSON.parse(input).ordinary_samples;
  const keep = samples.filter((s) => s.breed !== 'Sphynx').map((s) => s.id);
  process.stdout.write(JSON.stringify({ keep }));
});
"""


def external(tmp_path, name: str, source: str, program: str = "perl", **params) -> tuple:
    script = tmp_path / name
    script.write_text(source)
    return ("external", name, {"command": [program, str(script)], "timeout_seconds": 3, "mode": "score", **params})


def test_us071_a_perl_scoring_step_decides(db, pipeline, service, client_user, tmp_path):
    skilled = make_worker(strengths=["cleaning"])
    favourite = make_worker(name="Favourite Cat")
    step = external(tmp_path, "favourite.pl", PERL_SCORER, weight=1.0)
    pipeline([("strengths", "Strengths", {"weight": 2.0}), step])
    order = new_order(client_user, service)

    run = matching.match_order(order)

    assert order.worker_id == favourite.id
    assert run.steps[1]["status"] == "ran", run.steps[1]["error"]
    assert run.scores[str(favourite.id)] == {"total": 10.0, "Strengths": 0.0, "favourite.pl": 10.0}
    assert run.scores[str(skilled.id)]["favourite.pl"] == 0.0


def test_us071_a_node_filter_step_removes_candidates(db, pipeline, service, client_user, tmp_path):
    sphynx = make_worker(strengths=["cleaning"])
    sphynx.worker_profile.breed = "Sphynx"
    tabby = make_worker()
    pipeline(
        [external(tmp_path, "no-sphynx.js", NODE_FILTER, "node", mode="filter"), ("strengths", "S", {"weight": 1})]
    )
    ranking = rank(new_order(client_user, service))
    assert ranking.ranked == [tabby.id] and not ranking.fell_back
    assert (ranking.steps[0]["before"], ranking.steps[0]["after"], ranking.steps[0]["status"]) == (2, 1, "ran")


@pytest.mark.parametrize(
    ("case", "source", "error"),
    [
        ("fails", "print STDERR 'model file missing'; exit 2;", "exited with status 2: model file missing"),
        ("garbage", "print 'scores: lots';", "wrote no JSON"),
        ("not-an-object", "print '[1, 2]';", "not an object"),
        ("wrong-shape", "print '{\"keep\": [1]}';", "a scoring step must write"),
        ("bad-number", 'print \'{"scores": {"1": "high"}}\';', "not a finite number"),
        ("bad-id", 'print \'{"scores": {"cat": 1}}\';', "not a worker id"),
    ],
)
def test_us071_a_broken_step_is_skipped_and_logged(
    db, pipeline, service, client_user, tmp_path, matching_log, case, source, error
):
    skilled = make_worker(strengths=["cleaning"])
    make_worker()
    pipeline([external(tmp_path, f"{case}.pl", source, weight=100.0), ("strengths", "Strengths", {"weight": 1.0})])
    order = new_order(client_user, service)
    run = matching.match_order(order)
    assert order.worker_id == skilled.id
    broken, strengths = run.steps
    assert broken["status"] == "failed" and error in broken["error"]
    assert strengths["status"] == "ran"
    assert run.score_columns == ["Strengths"]
    assert f"{case}.pl" in matching_log.text and "skipped" in matching_log.text


def test_us071_a_missing_program_is_skipped(db, pipeline, service, client_user):
    worker = make_worker()
    pipeline([("external", "Gone", {"command": ["/nonexistent/step"], "timeout_seconds": 1, "mode": "filter"})])
    run = matching.match_order(new_order(client_user, service))
    assert run.chosen_worker_id == worker.id
    assert run.steps[0]["status"] == "failed" and "could not start" in run.steps[0]["error"]


def test_us071_a_step_that_times_out_is_killed_and_skipped(db, pipeline, service, client_user, tmp_path):
    pid_file = tmp_path / "pid"
    worker = make_worker()
    slow = external(tmp_path, "slow.pl", f"open my $f, '>', '{pid_file}'; print $f $$; close $f; sleep 30;")
    slow[2]["timeout_seconds"] = 0.5
    pipeline([slow, ("strengths", "S", {"weight": 1.0})])
    started = time.monotonic()
    run = matching.match_order(new_order(client_user, service))
    assert time.monotonic() - started < 5
    assert run.chosen_worker_id == worker.id
    assert run.steps[0]["status"] == "failed" and "timed out after 0.5 s" in run.steps[0]["error"]
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_us071_the_configured_cap_bounds_a_step_timeout(app, db, pipeline, service, client_user, tmp_path):
    make_worker()
    slow = external(tmp_path, "slow.pl", "sleep 30;")
    slow[2]["timeout_seconds"] = 20  # stored before the cap was lowered
    pipeline([slow])
    previous = app.config["MATCHING_EXTERNAL_TIMEOUT_SECONDS"]
    app.config["MATCHING_EXTERNAL_TIMEOUT_SECONDS"] = 0.3
    try:
        run = matching.match_order(new_order(client_user, service))
    finally:
        app.config["MATCHING_EXTERNAL_TIMEOUT_SECONDS"] = previous
    assert "timed out after 0.3 s" in run.steps[0]["error"]
    assert run.chosen_worker_id is not None


def test_us071_a_failing_built_in_step_does_not_poison_the_transaction(db, pipeline, service, client_user):
    worker = make_worker()
    pipeline([("current_load", "Load", {"weight": 1.0, "days": "seven"}), ("past_results", "Past", {"weight": 1})])
    run = matching.match_order(new_order(client_user, service))
    assert run.chosen_worker_id == worker.id
    assert [s["status"] for s in run.steps] == ["failed", "ran"]
