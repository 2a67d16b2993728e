"""`make run`: everything a developer needs, in one command; Ctrl-C stops every process it started.

With no DATABASE_URL / REDIS_URL in the environment it starts the embedded PostgreSQL and Redis
under instance/, plus a local SMTP sink whose mail managers read at /manage/mailbox. It writes
their addresses to instance/services.env (so `flask ...` in the project folder reaches them),
migrates, loads the demo data once, then runs the RQ worker and the web server (gunicorn).

It supervises them: a process that dies is started again (after a pause that grows while it
keeps dying: 1 s doubling to 30 s), with its last log lines printed; it does not stop the stack.
"""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import INSTANCE_DIR, SERVICES_ENV  # noqa: E402
from scripts.devservices import start_postgres, start_redis, start_smtp_sink  # noqa: E402

DEMO_LOGINS = [
    ("manager@example.com", "manager and bettor"),
    ("supply@example.com", "consumables department"),
    ("worker@example.com", "worker (also worker2@, worker3@)"),
    ("client@example.com", "client (also client2@, client3@)"),
]


LAST_LINES = 20
# Each process of the stack writes its log here (the terminal only gets the status and the deaths).
LOG_DIR = INSTANCE_DIR / "logs"
MAX_RESTART_DELAY = 30.0


class Supervised:
    """A long-lived process of the stack: its output goes to its log file (or, without one, to the
    terminal) and its last lines are kept, so that when it dies they can be shown, and it can be
    started again."""

    def __init__(self, name: str, command: tuple[str, ...], env: dict[str, str], log_file: Path | None = None) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log_file = log_file
        self.last_lines: collections.deque[str] = collections.deque(maxlen=LAST_LINES)
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.delay = 1.0
        self.restart_at: float | None = None
        self.start()

    def start(self) -> None:
        # A session of its own, so stopping it stops its children (gunicorn's workers, RQ's horses).
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        threading.Thread(target=self._echo, args=(self.process,), daemon=True).start()

    def _echo(self, process: subprocess.Popen) -> None:
        log = open(self.log_file, "a", encoding="utf-8") if self.log_file else sys.stdout
        try:
            for raw in process.stdout:
                line = raw.decode(errors="replace")
                self.last_lines.append(line.rstrip("\n"))
                log.write(line)
                log.flush()
        finally:
            if log is not sys.stdout:
                log.close()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def args(self):
        return self.command

    @property
    def returncode(self):
        return self.process.returncode

    def poll(self):
        return self.process.poll()

    def wait(self, timeout=None):
        return self.process.wait(timeout)

    def check(self) -> None:
        """Called in the supervision loop: notice a death, start it again when its pause is over."""
        now = time.monotonic()
        if self.restart_at is None and self.process.poll() is not None:
            # A process that ran a good while gets the short pause again; one that keeps dying waits longer.
            self.delay = 1.0 if now - self.started_at > 60 else min(MAX_RESTART_DELAY, self.delay * 2)
            self.restart_at = now + self.delay
            print(
                f"\n{self.name} exited with {self.process.returncode}; its last lines:\n"
                + "".join(f"  | {line}\n" for line in self.last_lines)
                + f"starting {self.name} again in {self.delay:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        elif self.restart_at is not None and now >= self.restart_at:
            self.last_lines.clear()
            self.start()
            print(f"{self.name} started again (pid {self.process.pid})", file=sys.stderr, flush=True)


class DevStack:
    def __init__(self) -> None:
        self.processes: list[Supervised] = []
        self.postgres = None
        self.redis_process = None
        self.smtp = None
        self.env = dict(os.environ)
        self.env.setdefault("MCF_ENV", "development")
        self.env["MCF_INSTANCE_DIR"] = str(INSTANCE_DIR)
        self.port = int(os.environ.get("PORT", "5000"))

    def start_services(self) -> None:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        settings: dict[str, str] = {}
        if not os.environ.get("DATABASE_URL"):
            print("starting embedded PostgreSQL (instance/pg) ...", flush=True)
            os.chmod(INSTANCE_DIR, 0o755)
            self.postgres = start_postgres(INSTANCE_DIR / "pg")
            if not self.postgres.psql("SELECT 1 FROM pg_database WHERE datname = 'mcf'").strip().endswith("(1 row)"):
                self.postgres.psql("CREATE DATABASE mcf")
            settings["DATABASE_URL"] = self.postgres.get_uri("mcf")
        if not os.environ.get("REDIS_URL"):
            print("starting embedded Redis (instance/redis) ...", flush=True)
            url, self.redis_process = start_redis(INSTANCE_DIR / "redis")
            settings["REDIS_URL"] = url
        if not os.environ.get("MAIL_SERVER"):
            mailbox = INSTANCE_DIR / "mailbox"
            port, self.smtp = start_smtp_sink(mailbox)
            settings.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port), "DEV_MAILBOX_DIR": str(mailbox)})
        settings.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{self.port}")
        SERVICES_ENV.write_text(
            "# Written by `make run` for the servers it started; removed when it stops.\n"
            + "".join(f"{key}={value}\n" for key, value in settings.items())
        )
        self.env.update(settings)

    def flask(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=self.env, check=True)

    def spawn(self, name: str, *command: str) -> Supervised:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        process = Supervised(name, command, self.env, LOG_DIR / f"{name}.log")
        self.processes.append(process)
        return process

    def wait_until_up(self, cancelled, timeout: float = 60) -> None:
        url = f"http://127.0.0.1:{self.port}/login"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not cancelled():
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
            for process in self.processes:
                if process.poll() is not None:
                    raise SystemExit(f"{process.args[0]} exited with {process.returncode}")
        if cancelled():
            return
        raise SystemExit(f"the web server did not answer on {url} within {timeout:.0f} s")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.smtp is not None:
            self.smtp.stop()
        if self.redis_process is not None:
            self.redis_process.terminate()
            self.redis_process.wait(10)
        if self.postgres is not None:
            self.postgres.cleanup()
        SERVICES_ENV.unlink(missing_ok=True)


def port_problem(port: int) -> str | None:
    """Why the web server could not listen on 127.0.0.1:`port`, or None when it can."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            return (
                f"Port {port} is already in use by another program ({error.strerror}), so MCF cannot start there.\n"
                f"Stop that program, or choose another port: PORT={port + 1} make run"
            )
    return None


def run() -> None:
    stack = DevStack()
    problem = port_problem(stack.port)
    if problem:  # checked before anything starts: a taken port must not look like MCF being up
        print(problem, file=sys.stderr, flush=True)
        raise SystemExit(2)
    stop_requested = False

    def request_stop(signum, frame):
        # Only a flag: a second Ctrl-C while stopping must not interrupt the clean-up.
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    started = time.monotonic()
    try:
        stack.start_services()
        stack.flask("db", "upgrade")
        stack.flask("demo", "load")
        stack.spawn("worker", sys.executable, "worker.py")
        stack.spawn(
            "web",
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{stack.port}",
            "--access-logfile",
            "-",
            "wsgi:app",
        )
        stack.wait_until_up(lambda: stop_requested)
        if not stop_requested:
            print(f"\nMCF is up after {time.monotonic() - started:.1f} s: http://127.0.0.1:{stack.port}/", flush=True)
            print("Demo logins (password: demo-password):")
            for email, what in DEMO_LOGINS:
                print(f"  {email:<24} {what}")
            if stack.smtp is not None:
                print(f"Mail goes to a local sink: as the manager, open http://127.0.0.1:{stack.port}/manage/mailbox")
            print(f"Logs: {LOG_DIR}/ (web.log, worker.log); follow them with: tail -f {LOG_DIR}/*.log")
            print("Press Ctrl-C to stop everything.\n", flush=True)
        while not stop_requested:
            for process in stack.processes:
                process.check()
            time.sleep(0.3)
    finally:
        print("\nstopping ...", flush=True)
        stack.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] != ["run"]:
        raise SystemExit("usage: python scripts/dev.py run")
    run()
