"""`make run` supervises its processes: one that dies is started again, its last lines printed."""

from __future__ import annotations

import os
import sys
import time

from scripts.dev import Supervised
from tests.support.pipeline import wait_until


def test_a_process_that_dies_is_started_again_with_its_last_lines_shown(tmp_path, capsys):
    runs = tmp_path / "runs"
    script = (
        "import pathlib, sys, time\n"
        f"runs = pathlib.Path({str(runs)!r})\n"
        "count = int(runs.read_text()) + 1 if runs.exists() else 1\n"
        "runs.write_text(str(count))\n"
        "print(f'run {count}: connecting to Redis', flush=True)\n"
        "if count == 1:\n"
        "    print('redis.exceptions.ConnectionError: boom', flush=True)\n"
        "    sys.exit(3)\n"
        "time.sleep(60)\n"
    )
    process = Supervised("worker", (sys.executable, "-c", script), dict(os.environ))
    try:
        first_pid = process.pid
        wait_until(lambda: process.poll() is not None, 10)
        time.sleep(0.2)  # let the echo thread read the last lines
        process.check()  # notices the death, prints, schedules the restart
        err = capsys.readouterr().err
        assert "worker exited with 3; its last lines:" in err
        assert "  | redis.exceptions.ConnectionError: boom" in err
        assert "starting worker again in" in err

        def restarted():
            process.check()
            return process.pid != first_pid and process.poll() is None

        wait_until(restarted, 10)
        wait_until(lambda: runs.exists() and runs.read_text() == "2", 10)
        assert process.poll() is None, "the second run keeps running"
    finally:
        if process.poll() is None:
            process.process.kill()
            process.wait(10)
