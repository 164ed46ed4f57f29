"""What the benchmarks share: a scratch database, ``retrace serve`` as a subprocess,
``wrk`` runs, py-spy profiles of the server's workers, in-process timings (a call,
pages of an item query) and a table of results.

Imported by the scripts in this folder (``python bench/NAME.py`` puts the folder on the path).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from ledger import queries
from ledger.records import OrgRecord
from ledger.store.base import Store

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
READY_TIMEOUT_S = 60.0


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def make_orgs(
    api: httpx.Client, admin_key: str, roles: Sequence[str], prefix: str
) -> dict[str, str]:
    """One org per role through ``POST /v1/orgs`` (named ``<prefix> <role>``); their keys."""
    keys = {}
    for role in roles:
        made = api.post(
            "/v1/orgs",
            headers=bearer(admin_key),
            json={"name": f"{prefix} {role}", "role": role, "region": "CN"},
        )
        made.raise_for_status()
        keys[role] = made.json()["api_key"]
    return keys


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(database_url: str, workdir: Path, admin_key: str, **extra: str) -> dict[str, str]:
    """The environment of a ``retrace serve`` on a scratch database: this process's,
    without any ``RETRACE_*`` of its own, plus the scratch settings and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETRACE_")}
    env.update(
        {
            "RETRACE_DATABASE_URL": database_url,
            "RETRACE_ENVIRONMENT": "test",
            "RETRACE_LOG_KEY_FILE": str(workdir / "log.key"),
            "RETRACE_BOOTSTRAP_ADMIN_KEY": admin_key,
            "PYTHONUNBUFFERED": "1",
            # wrk sends everything from one address with one key: a benchmark measures
            # the service, not its rate limits.
            "RETRACE_RATE_LIMIT": "1000000/second",
            **extra,
        }
    )
    return env


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


# -- wrk --------------------------------------------------------------------------------


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(stdout: str) -> dict[str, Any]:
    """Requests/s and latency percentiles from wrk's ``--latency`` report.

    A line ``RESULT {json}`` printed by the wrk script's ``done()`` is kept under
    ``"script"``; its ``latency_us`` percentiles (exact microseconds) win over wrk's.
    """
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", stdout, re.MULTILINE)
    if rate is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{stdout}")
    percentiles = {
        int(p): _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", stdout, re.MULTILINE)
    }
    total = re.search(r"^\s+(\d+) requests in", stdout, re.MULTILINE)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", stdout)
    errors = re.search(r"Socket errors: (.*)$", stdout, re.MULTILINE)
    result: dict[str, Any] = {
        "rps": float(rate.group(1)),
        "p50": percentiles.get(50),
        "p99": percentiles.get(99),
        "requests": int(total.group(1)) if total else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            script = json.loads(line.removeprefix("RESULT "))
            result["script"] = script
            # The script's percentiles are exact microseconds; prefer them.
            result["p50"] = script["latency_us"]["p50"] / 1000
            result["p99"] = script["latency_us"]["p99"] / 1000
    if result["p50"] is None or result["p99"] is None:
        raise RuntimeError(f"no latency percentiles in wrk's output:\n{stdout}")
    return result


def run_wrk(
    url: str,
    seconds: float,
    threads: int,
    connections: int,
    script: Path | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``wrk --latency`` against ``url`` (with a Lua ``script`` if given), parsed."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run(
        [*command, url],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse_wrk(done.stdout)


# -- profiles (py-spy collapsed stacks) ------------------------------------------------


@contextlib.contextmanager
def profiled(server: Server, seconds: float, out: Path, enabled: bool) -> Iterator[list[Path]]:
    """py-spy every worker while the block runs; yields the raw output files.

    One file per worker, ``out`` with the suffix ``.<pid>.txt``; nothing is
    recorded (and the list is empty) unless ``enabled``.
    """
    files: list[Path] = []
    if not enabled:
        yield files
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    procs = []
    for pid in server.worker_pids():
        path = out.with_suffix(f".{pid}.txt")
        files.append(path)
        procs.append(
            subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(max(1, int(seconds))),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--output",
                    str(path),
                    "--nonblocking",
                    # Only samples of the thread holding the GIL: where Python spends
                    # CPU, not where threads sleep waiting for the database or a lock.
                    "--gil",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        yield files
    finally:
        for proc in procs:
            try:
                proc.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


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


# -- in-process timings ----------------------------------------------------------------


def timed(call: Callable[[], Any], repeat: int) -> list[float]:
    """Milliseconds of ``repeat`` calls of ``call``, sorted."""
    took = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        took.append((time.perf_counter() - began) * 1000)
    return sorted(took)


def page_times(
    store: Store, caller: OrgRecord, filters: queries.ItemFilters, repeat: int
) -> list[float]:
    """Milliseconds of ``repeat`` pages of 100 of an item query
    (``ledger.queries.query_items``, ``GET /v1/items``'s one call), sorted; each page
    after the first read by the cursor of the one before."""
    cursor: str | None = None

    def page() -> None:
        nonlocal cursor
        cursor = queries.query_items(store, caller, filters, cursor=cursor, limit=100).next_cursor

    return timed(page, repeat)


def p99(took: Sequence[float]) -> float:
    """The 99th percentile of sorted timings (the nearest rank below)."""
    return took[min(len(took) - 1, int(len(took) * 0.99))]


# -- results ---------------------------------------------------------------------------


@dataclass
class Row:
    """One measured figure, beside the limit taken in the same run and its goal."""

    what: str
    figure: str
    limit: str = ""
    ratio: str = ""
    goal: str = ""
    verdict: str = ""
    notes: str = ""


def print_table(rows: list[Row]) -> None:
    """The rows as a table: text left, figures right-aligned, notes last."""
    widths = [
        max(len(getattr(r, f)) for r in rows)
        for f in ("what", "figure", "limit", "ratio", "goal", "verdict")
    ]
    heads = ("measure", "figure", "limit", "ratio", "goal", "")
    widths = [max(w, len(h)) for w, h in zip(widths, heads, strict=True)]

    def line(cells: tuple[str, ...], notes: str) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        rest = "  ".join(f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True))
        return f"{first}  {rest}  {notes}"

    print()
    header = line(heads, "notes")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(line((r.what, r.figure, r.limit, r.ratio, r.goal, r.verdict), r.notes))
