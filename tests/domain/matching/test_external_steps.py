"""External steps in any language (US-071): the samples go in as JSON on stdin, scores or a filter
come out on stdout. A step that fails, times out or writes garbage is skipped and logged; matching
still assigns a worker.

Only commands operators registered run (config `MATCHING_COMMANDS`), only inside a job (the
worker), with an empty environment except what the command declares, and limits on time, memory
and output; nothing the command prints reaches the recorded run."""

from __future__ import annotations

import logging
import os
import time

import pytest

from app.matching import services as matching
from app.matching.pipeline import rank
from app.platform.jobs import in_job
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
my @secrets = grep { $_ ne 'MODEL' } keys %ENV;                     # only what the command declares
exit 3 if @secrets || ($ENV{MODEL} // '') ne 'declared';
local $/; my $in = decode_json(<STDIN>);
my $ref = $in->{reference_sample};
die "no order id" unless $ref->{order_id} && $ref->{service} eq 'Sofa cleaning';
my $bonus = $in->{params}{bonus} // 10;
my %scores = map { ($_->{id} => ($_->{name} =~ /Favourite/ ? $bonus : 0)) } @{ $in->{ordinary_samples} };
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


@pytest.fixture
def commands(app, tmp_path, monkeypatch):
    """Register commands as an operator would: `register(name, source, program, **spec)`."""
    registry: dict[str, dict] = {}
    monkeypatch.setitem(app.config, "MATCHING_COMMANDS", registry)

    def register(name: str, source: str, program: str = "perl", **spec) -> str:
        script = tmp_path / name
        script.write_text(source)
        registry[name] = {"argv": [program, str(script)], **spec}
        return name

    return register


def external(name: str, **params) -> tuple:
    return ("external", name, {"command": name, "mode": "score", **params})


def match_in_worker(order):
    with in_job():
        return matching.match_order(order)


def test_us071_a_perl_scoring_step_decides(db, pipeline, service, client_user, commands):
    skilled = make_worker(strengths=["cleaning"])
    favourite = make_worker(name="Favourite Cat")
    commands("favourite.pl", PERL_SCORER, env={"MODEL": "declared"}, params=["bonus"])
    pipeline([("strengths", "Strengths", {"weight": 2.0}), external("favourite.pl", weight=1.0, args={"bonus": 7})])
    order = new_order(client_user, service)

    run = match_in_worker(order)

    assert order.worker_id == favourite.id
    assert run.steps[1]["status"] == "ran", run.steps[1]["error"]
    assert run.scores[str(favourite.id)] == {"total": 7.0, "Strengths": 0.0, "favourite.pl": 7.0}
    assert run.scores[str(skilled.id)]["favourite.pl"] == 0.0


def test_us071_a_step_sees_no_environment_but_its_own(db, pipeline, service, client_user, commands, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "do-not-leak")
    make_worker(name="Favourite Cat")
    commands("favourite.pl", PERL_SCORER)  # MODEL is not declared: the script exits 3
    pipeline([external("favourite.pl")])
    run = match_in_worker(new_order(client_user, service))
    assert run.steps[0]["status"] == "failed" and "exited with status 3" in run.steps[0]["error"]


def test_us071_a_node_filter_step_removes_candidates(db, pipeline, service, client_user, commands):
    sphynx = make_worker(strengths=["cleaning"])
    sphynx.worker_profile.breed = "Sphynx"
    tabby = make_worker()
    commands("no-sphynx.js", NODE_FILTER, "node", memory_mb=16384)  # V8 reserves a large address space
    pipeline([external("no-sphynx.js", mode="filter"), ("strengths", "S", {"weight": 1})])
    with in_job():
        ranking = rank(new_order(client_user, service))
    assert ranking.ranked == [tabby.id] and not ranking.fell_back
    assert (ranking.steps[0]["before"], ranking.steps[0]["after"], ranking.steps[0]["status"]) == (2, 1, "ran")


@pytest.mark.parametrize(
    ("case", "source", "error"),
    [
        ("fails", "print STDERR 'DATABASE_URL=postgresql://secret'; exit 2;", "exited with status 2"),
        ("garbage", "print 'REDIS_URL=redis://secret';", "wrote no JSON"),
        ("not-an-object", "print '[1, 2]';", "not an object"),
        ("wrong-shape", "print '{\"keep\": [1]}';", "a scoring step must write"),
        ("bad-number", 'print \'{"scores": {"1": "secret"}}\';', "not a finite number"),
        ("bad-id", 'print \'{"scores": {"secret": 1}}\';', "not a worker id"),
    ],
)
def test_us071_a_broken_step_is_skipped_and_logged(
    db, pipeline, service, client_user, commands, matching_log, case, source, error
):
    skilled = make_worker(strengths=["cleaning"])
    make_worker()
    commands(f"{case}.pl", source)
    pipeline([external(f"{case}.pl", weight=100.0), ("strengths", "Strengths", {"weight": 1.0})])
    order = new_order(client_user, service)
    run = match_in_worker(order)
    assert order.worker_id == skilled.id
    broken, strengths = run.steps
    assert broken["status"] == "failed" and error in broken["error"]
    assert "secret" not in broken["error"], "nothing the step printed reaches a page"
    assert strengths["status"] == "ran"
    assert run.score_columns == ["Strengths"]
    assert f"{case}.pl" in matching_log.text and "skipped" in matching_log.text


def test_us071_a_missing_program_is_skipped(app, db, pipeline, service, client_user, monkeypatch):
    worker = make_worker()
    monkeypatch.setitem(app.config, "MATCHING_COMMANDS", {"gone": {"argv": ["/nonexistent/step"]}})
    pipeline([("external", "Gone", {"command": "gone", "mode": "filter"})])
    run = match_in_worker(new_order(client_user, service))
    assert run.chosen_worker_id == worker.id
    assert run.steps[0]["status"] == "failed" and "could not start" in run.steps[0]["error"]


@pytest.mark.parametrize(
    "command",
    [["perl", "-e", "print 1"], "not-registered", "../../bin/sh"],
)
def test_us071_only_registered_commands_run(db, pipeline, service, client_user, commands, tmp_path, command):
    """A step stored with an argv (as before) or an unknown name runs nothing."""
    make_worker()
    commands("ok.pl", "print '{\"scores\": {}}';")
    pipeline([("external", "Old", {"command": command, "mode": "score"})])
    run = match_in_worker(new_order(client_user, service))
    assert run.steps[0]["status"] == "failed" and "registered" in run.steps[0]["error"]


def test_us071_external_steps_never_run_outside_the_worker(db, pipeline, service, client_user, commands, tmp_path):
    marker = tmp_path / "ran"
    worker = make_worker()
    commands("touch.pl", f"open my $f, '>', '{marker}'; print '{{\"scores\": {{}}}}';")
    pipeline([external("touch.pl"), ("strengths", "S", {"weight": 1.0})])
    run = matching.match_order(new_order(client_user, service))  # as a web request would
    assert run.chosen_worker_id == worker.id
    assert run.steps[0]["status"] == "failed" and "background worker only" in run.steps[0]["error"]
    assert not marker.exists()


def test_us071_a_step_that_times_out_is_killed_and_skipped(db, pipeline, service, client_user, commands, tmp_path):
    pid_file = tmp_path / "pid"
    worker = make_worker()
    commands("slow.pl", f"open my $f, '>', '{pid_file}'; print $f $$; close $f; sleep 30;")
    pipeline([external("slow.pl", timeout_seconds=0.5), ("strengths", "S", {"weight": 1.0})])
    started = time.monotonic()
    run = match_in_worker(new_order(client_user, service))
    assert time.monotonic() - started < 5
    assert run.chosen_worker_id == worker.id
    assert run.steps[0]["status"] == "failed" and "timed out after 0.5 s" in run.steps[0]["error"]
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_us071_the_configured_cap_bounds_a_step_timeout(app, db, pipeline, service, client_user, commands):
    make_worker()
    commands("slow.pl", "sleep 30;", timeout_seconds=20)
    pipeline([external("slow.pl", timeout_seconds=20)])  # stored before the cap was lowered
    previous = app.config["MATCHING_EXTERNAL_TIMEOUT_SECONDS"]
    app.config["MATCHING_EXTERNAL_TIMEOUT_SECONDS"] = 0.3
    try:
        run = match_in_worker(new_order(client_user, service))
    finally:
        app.config["MATCHING_EXTERNAL_TIMEOUT_SECONDS"] = previous
    assert "timed out after 0.3 s" in run.steps[0]["error"]
    assert run.chosen_worker_id is not None


def test_us071_a_step_over_its_memory_limit_is_stopped(db, pipeline, service, client_user, commands):
    make_worker()
    commands("hog.pl", "my $x = 'x' x (300 * 1024 * 1024); print '{\"scores\": {}}';", memory_mb=64)
    pipeline([external("hog.pl", timeout_seconds=4)])
    run = match_in_worker(new_order(client_user, service))
    assert run.steps[0]["status"] == "failed" and "exited with status" in run.steps[0]["error"]


def test_us071_a_step_over_its_output_limit_is_stopped(db, pipeline, service, client_user, commands):
    make_worker()
    commands("chatty.pl", "$| = 1; print 'x' x 1024 for 1 .. 4096; print '{}';", max_output_kb=64)
    pipeline([external("chatty.pl")])
    run = match_in_worker(new_order(client_user, service))
    assert run.steps[0]["status"] == "failed" and "more than 64 KB" in run.steps[0]["error"]


def test_us071_a_failing_built_in_step_does_not_poison_the_transaction(db, pipeline, service, client_user):
    worker = make_worker()
    pipeline([("current_load", "Load", {"weight": 1.0, "days": "seven"}), ("past_results", "Past", {"weight": 1})])
    run = matching.match_order(new_order(client_user, service))
    assert run.chosen_worker_id == worker.id
    assert [s["status"] for s in run.steps] == ["failed", "ran"]
