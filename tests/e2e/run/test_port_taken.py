"""`make run` on a taken port says so before starting anything (it used to announce "MCF is up"
pointing at the other program, then stop everything with "a process exited")."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_a_taken_port_is_named_with_what_to_do_and_nothing_starts(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "dev.py"), "run"],
            cwd=ROOT,
            env={**os.environ, "PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"Port {port} is already in use" in result.stderr and f"PORT={port + 1} make run" in result.stderr
    assert "MCF is up" not in result.stdout and "starting embedded" not in result.stdout
