"""US-071: operators register the commands external steps may run, in a file outside the web."""

from __future__ import annotations

import pytest

from app.matching.commands import CommandError, check_args, get_command, registered_commands

REGISTRY = """
[commands.perl-scorer]
argv = ["/usr/bin/perl", "/opt/mcf/score.pl"]
env = { MODEL = "/opt/mcf/model.json" }
params = ["threshold"]
timeout_seconds = 3
memory_mb = 256
max_output_kb = 64

[commands.broken]
argv = "perl /opt/x.pl"   # a string, not a list: refused and logged
"""


@pytest.fixture
def registry_file(app, tmp_path, monkeypatch):
    path = tmp_path / "matching_commands.toml"
    path.write_text(REGISTRY)
    monkeypatch.setitem(app.config, "MATCHING_COMMANDS", None)
    monkeypatch.setitem(app.config, "MATCHING_COMMANDS_FILE", str(path))
    return path


def test_us071_commands_come_from_the_operators_file(app, registry_file):
    with app.app_context():
        commands = registered_commands()
        assert set(commands) == {"perl-scorer"}
        scorer = commands["perl-scorer"]
        assert scorer.argv == ("/usr/bin/perl", "/opt/mcf/score.pl")
        assert scorer.env == {"MODEL": "/opt/mcf/model.json"}
        assert (scorer.timeout_seconds, scorer.memory_mb, scorer.max_output_kb) == (3.0, 256, 64)
        assert check_args(scorer, {"threshold": 0.5}) == {"threshold": 0.5}
        for bad in ({"argv": ["x"]}, {"threshold": "two\nlines"}, {"threshold": float("nan")}, {"threshold": [1]}):
            with pytest.raises(CommandError):
                check_args(scorer, bad)
        with pytest.raises(CommandError, match="perl-scorer"):
            get_command("broken")


def test_us071_no_file_means_no_commands(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MATCHING_COMMANDS", None)
    monkeypatch.setitem(app.config, "MATCHING_COMMANDS_FILE", str(tmp_path / "missing.toml"))
    with app.app_context():
        assert registered_commands() == {}
        with pytest.raises(CommandError, match="registered none"):
            get_command("anything")
