"""What the benchmarks share: a scratch database and ``retrace serve`` as a subprocess.

Imported by the scripts in this folder (``python bench/NAME.py`` puts the folder on the path).
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
READY_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """``retrace serve`` in its own process group, output to a log file."""

    env: dict[str, str]
    workdir: Path
    workers: int
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def __enter__(self) -> Server:
        retrace = Path(sys.executable).with_name("retrace")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(retrace),
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
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited:\n{self.log_path.read_text()[-3000:]}")
                with contextlib.suppress(httpx.TransportError):
                    started = self.log_path.read_text().count("Application startup complete")
                    if (
                        started >= self.workers
                        and client.get(f"{self.url}/readyz").status_code == 200
                    ):
                        return
                time.sleep(0.1)
        raise RuntimeError(f"server not ready:\n{self.log_path.read_text()[-3000:]}")

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (children running multiprocessing's spawn_main)."""
        assert self.process is not None
        if self.workers == 1:
            return [self.process.pid]
        pids = []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        for pid in children.read_text().split():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                pids.append(int(pid))
        return pids

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)
        self.process = None


@contextlib.contextmanager
def scratch_database(backend: str, workdir: Path) -> Iterator[str]:
    """A new, empty database on ``backend``; the PostgreSQL one is dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    name = f"retrace_bench_{secrets.token_hex(5)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- profiles (py-spy collapsed stacks) ------------------------------------------------


# A frame of our own code, as py-spy names it: "GroupCommit.run (ledger/commit.py:190)".
_OURS = re.compile(r"^(.*) \(((?:ledger|api|hashing|labels)/[\w/]+\.py):\d+\)$")


def summarize_profile(
    files: list[Path], categories: list[tuple[str, re.Pattern[str]]], top: int = 12
) -> str:
    """Share of samples by kind of leaf frame, by our own functions, and hottest leaves."""
    leaf: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    total = 0
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not count_text.isdigit():
                continue
            count = int(count_text)
            total += count
            frames = stack.split(";")
            leaf[frames[-1]] += count
            kind = next(
                (name for name, pattern in categories if pattern.search(frames[-1])), "other"
            )
            kinds[kind] += count
            for name in {_OURS.sub(r"\1 (\2)", f) for f in frames if _OURS.search(f)}:
                ours[name] += count
    if not total:
        return "  (no samples: py-spy needs ptrace rights)"
    lines = [f"  {total} samples over the workers", "  by leaf frame:"]
    lines += [f"    {n / total:6.1%}  {name}" for name, n in kinds.most_common()]
    lines.append("  our functions, inclusive:")
    lines += [f"    {n / total:6.1%}  {name}" for name, n in ours.most_common(top)]
    lines.append("  hottest leaf frames:")
    lines += [f"    {n / total:6.1%}  {name[:110]}" for name, n in leaf.most_common(top)]
    return "\n".join(lines)
