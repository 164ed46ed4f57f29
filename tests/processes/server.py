"""The real ``retrace serve`` as a subprocess, and the ``retrace`` CLI, for tests.

``RetraceServer`` starts ``retrace serve`` in its own process group with its
output captured to a log file, waits (bounded) until /readyz answers and every
worker has started, and stops the whole group: SIGTERM, then SIGKILL. ``Servers``
is a context manager that stops every server it started, even on failure, and
attaches each server's log to the exception of a failing block, so pytest shows
it. ``run_cli`` runs the ``retrace`` command with the same environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
CLI_TIMEOUT_S = 120.0
LOG_TAIL_CHARS = 6000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def retrace_env(
    database_url: str, log_key_file: Path, admin_key: str | None = None, **extra: str
) -> dict[str, str]:
    """The process environment for the server and CLI: ours, no inherited RETRACE_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETRACE_")}
    env.update(
        {
            "RETRACE_ENVIRONMENT": "test",
            "RETRACE_DATABASE_URL": database_url,
            "RETRACE_LOG_KEY_FILE": str(log_key_file),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if admin_key is not None:
        env["RETRACE_BOOTSTRAP_ADMIN_KEY"] = admin_key
    env.update(extra)
    return env


def retrace_command() -> list[str]:
    """The ``retrace`` entry point of this interpreter's environment."""
    script = Path(sys.executable).with_name("retrace")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "api.cli"]


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``retrace <args>`` to completion (bounded) and capture its output."""
    return subprocess.run(
        [*retrace_command(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def _tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return text if len(text) <= LOG_TAIL_CHARS else "…" + text[-LOG_TAIL_CHARS:]


@dataclass
class RetraceServer:
    """One ``retrace serve`` process group on 127.0.0.1."""

    env: dict[str, str]
    workdir: Path
    workers: int = 1
    name: str = "server"
    port: int = 0
    log_path: Path = field(init=False)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False)
    _stopped: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.log_path = self.workdir / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RetraceServer:
        """Start the server and wait until every worker serves (bounded)."""
        self.port = free_port()
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                *retrace_command(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=self.env,
            cwd=self.workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        ready = False
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.process.returncode} "
                        f"before it was ready\n{self.log()}"
                    )
                if not ready:
                    with contextlib.suppress(httpx.TransportError):
                        ready = client.get(f"{self.url}/readyz").status_code == 200
                # /readyz answers once one worker serves; wait for all of them.
                if ready and self.log().count("Application startup complete") >= self.workers:
                    return
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready within {READY_TIMEOUT_S:.0f} s\n{self.log()}")

    def log(self) -> str:
        return _tail(self.log_path)

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group (parent and workers) at once: a crash."""
        if self.process is None or self._stopped:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_S)
        self._stopped = True
        self._close_log()

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (children running multiprocessing's spawn_main)."""
        return self._children(b"spawn_main")

    def refresher_pids(self) -> list[int]:
        """The report refresher processes (``api.refresher``) this server started."""
        return self._children(b"api.refresher")

    def _children(self, marker: bytes) -> list[int]:
        """The server's child processes whose command line holds ``marker``."""
        assert self.process is not None
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [
            int(child)
            for child in children
            if marker in Path(f"/proc/{child}/cmdline").read_bytes()
        ]

    def kill_worker(self) -> int:
        """SIGKILL one worker process (the supervisor and the others live on)."""
        victim = self.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        return victim

    def stop(self) -> None:
        """SIGTERM the group, then SIGKILL whatever is left (bounded)."""
        if self.process is None or self._stopped:
            return
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT_S)
        # Workers that outlived their parent are still in its group.
        self._signal_group(signal.SIGKILL)
        self._stopped = True
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class Servers:
    """Starts servers and stops them all on exit; failures carry the server logs."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[RetraceServer] = []

    def start(self, env: dict[str, str], workers: int = 1) -> RetraceServer:
        server = RetraceServer(env, self.workdir, workers, name=f"server-{len(self.started) + 1}")
        self.started.append(server)
        server.start()
        return server

    def __enter__(self) -> Servers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for server in self.started:
            server.stop()
        if exc is not None:
            for server in self.started:
                exc.add_note(f"--- {server.name} log ({server.log_path}) ---\n{server.log()}")


@contextlib.contextmanager
def spawned(args: list[str], **popen: Any) -> Iterator[subprocess.Popen[str]]:
    """A child process that is killed and reaped on exit, whatever happened."""
    process = subprocess.Popen(args, text=True, **popen)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
