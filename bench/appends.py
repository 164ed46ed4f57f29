"""Appends per second through the API, beside the single-core limit of the same run.

Run by hand (not part of the test suite), from the repository root:

    python bench/appends.py                      # both backends
    python bench/appends.py --backends sqlite --duration 5
    python bench/appends.py --profile            # also py-spy the server's workers

For each backend it makes a scratch database (a temporary SQLite file, or a
PostgreSQL database ``retrace_bench_<random>`` that is dropped afterwards),
starts ``retrace serve --workers 2`` on it and measures:

* single: one entry per request, POST /v1/items, ``wrk`` with 8 connections
  (bench/register.lua makes a unique PV serial per request);
* bulk: POST /v1/items/bulk with 5,000-line JSON Lines bodies, a few requests.

Each figure is printed beside the raw limit measured in the same run: building
the same number of similar entries (canonical JSON + SHA-256, chained, with
``ledger.chain.build_entry``) on one core with no storage. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from _harness import (
    Server,
    bearer,
    make_orgs,
    profiled,
    scratch_database,
    server_env,
    summarize_profile,
)
from _harness import run_wrk as wrk_url

from ledger.chain import ZERO_HASH, build_entry

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "register.lua"
# Goals with --workers 2 and 8 connections (issue: throughput); with one worker,
# single appends aim at half the same server's /healthz rate (the note's ratio).
TARGETS = {
    ("postgresql", "bulk"): 20000.0,
    ("sqlite", "single"): 500.0,
    ("postgresql", "single"): 1500.0,
}


# -- the raw limit: build entries with no storage -------------------------------


def raw_limit(count: int, template: dict[str, Any], repeats: int = 3) -> float:
    """Entries per second building ``count`` chained entries like ``template`` (best run).

    At least ``repeats`` runs and at least half a second in all, so small counts are
    not timed once on a cold cache.
    """
    best = float("inf")
    now = datetime.now(UTC)
    attributes = dict(template["data"].get("attributes", {}))
    spent = 0.0
    for attempt in range(repeats * 20):
        if attempt >= repeats and spent > 0.5:
            break
        prev = ZERO_HASH
        start = time.perf_counter()
        for seq in range(count):
            data = {"kind": "pv_module", "code": f"PV-LIMIT-{seq}", "attributes": dict(attributes)}
            entry = build_entry(
                seq=seq,
                now=now,
                actor=template["actor"],
                item=template["item"],
                type="registered",
                data=data,
                prev=prev,
                item_prev=None,
            )
            prev = entry.hash
        took = time.perf_counter() - start
        spent += took
        best = min(best, took)
    return count / best


# -- the server ---------------------------------------------------------------------


_CATEGORIES = [
    (
        "commit (SQLite fsync, PostgreSQL round trip)",
        re.compile(r"method 'commit'|do_commit|_commit_impl"),
    ),
    ("db driver: execute / wait", re.compile(r"psycopg|sqlite3|do_execute|do_executemany")),
    ("sqlalchemy: compile / rows", re.compile(r"sqlalchemy")),
    ("canonical json + hash", re.compile(r"canonical|rfc8785|orjson|leaf_hash|sha256")),
    ("pydantic / validation", re.compile(r"pydantic|parse_model|validate")),
    ("json encode/decode", re.compile(r"json/(encoder|decoder|__init__)")),
    ("logging (structlog)", re.compile(r"structlog|logging")),
    ("http: uvicorn/starlette/fastapi", re.compile(r"uvicorn|starlette|fastapi|h11|httptools")),
    ("asyncio / threads", re.compile(r"asyncio|threading|concurrent|anyio")),
]


# -- the measurements ------------------------------------------------------------------


@dataclass
class Row:
    backend: str
    mode: str
    entries: int
    seconds: float
    limit: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.entries / self.seconds if self.seconds else 0.0


def service_appends(database_url: str, org_name: str, count: int) -> float:
    """Seconds for ``count`` single registrations in-process: one thread, no HTTP.

    The same write as POST /v1/items (``Ledger.submit`` of ``items.register``), so
    the gap to the ``single`` row is the HTTP and concurrency cost, and this row
    is the ceiling of one-entry-per-request appends (they are serialized).
    """
    from api.bootstrap import utc_now
    from ledger import items
    from ledger.service import Ledger
    from ledger.store.sql import SqlStore

    store = SqlStore(database_url)
    try:
        ledger = Ledger(store, clock=utc_now)
        with store.reader() as r:
            org = r.org_by_name(org_name)
        assert org is not None
        start = time.perf_counter()
        for n in range(count):
            raw = {
                "kind": "pv_module",
                "code": f"PV-inproc-{n}",
                "attributes": {"mass_kg": "22.5", "rated_power_w": "405"},
            }
            ledger.submit(partial(items.register, actor=org, raw=raw), items.Written)
        return time.perf_counter() - start
    finally:
        store.dispose()


def run_wrk(
    server: Server, key: str, prefix: str, seconds: float, threads: int, connections: int
) -> dict[str, Any]:
    env = {**os.environ, "BENCH_API_KEY": key, "BENCH_PREFIX": prefix}
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            f"{server.url}/v1/items",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
            return result
    raise RuntimeError(
        f"wrk gave no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    )


def worker_seconds(server: Server) -> float:
    """CPU seconds (user + system) the server's workers have used so far."""
    total = 0
    for pid in server.worker_pids():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (proc(5))
    return total / os.sysconf("SC_CLK_TCK")


def commit_batches(api: httpx.Client) -> tuple[float, float]:
    """Entries appended and write transactions committed so far, every worker's
    (``retrace_commit_batch_entries``'s sum and count in ``GET /metrics``)."""
    text = api.get("/metrics").text
    found = dict.fromkeys(("sum", "count"), 0.0)
    for line in text.splitlines():
        for part in found:
            if line.startswith(f"retrace_commit_batch_entries_{part} "):
                found[part] += float(line.split()[-1])
    return found["sum"], found["count"]


def bulk_body(prefix: str, lines: int) -> bytes:
    return b"\n".join(
        json.dumps(
            {
                "kind": "pv_module",
                "code": f"PV-{prefix}-{i}",
                "attributes": {"mass_kg": "22.5", "rated_power_w": "405"},
            }
        ).encode()
        for i in range(lines)
    )


def bench_bulk(
    backend: str,
    server: Server,
    api: httpx.Client,
    oem: str,
    args: argparse.Namespace,
    workdir: Path,
    sample: dict[str, Any],
) -> Row:
    """Bulk registration: a few large requests, one after another."""
    body_lines = args.bulk_lines
    times = []
    accepted = 0
    bodies = [bulk_body(f"bulk{n}", body_lines) for n in range(args.bulk_requests)]
    bulk_seconds = args.bulk_requests * body_lines / 2000 + 5
    with profiled(server, bulk_seconds, workdir / f"{backend}-bulk", args.profile):
        for body in bodies:
            start = time.perf_counter()
            answer = api.post(
                "/v1/items/bulk",
                content=body,
                headers={**bearer(oem), "Content-Type": "application/x-ndjson"},
            )
            times.append(time.perf_counter() - start)
            answer.raise_for_status()
            accepted += answer.json()["accepted"]
    note = (
        f"{args.bulk_requests} x {body_lines} lines; per request "
        f"{min(times):.2f}-{max(times):.2f} s"
    )
    if accepted != args.bulk_requests * body_lines:
        note += f"; only {accepted} accepted"
    return Row(backend, "bulk", accepted, sum(times), raw_limit(accepted, sample), note)


def bench_backend(backend: str, args: argparse.Namespace, workdir: Path) -> list[Row]:
    rows: list[Row] = []
    with scratch_database(backend, workdir) as database_url:
        admin_key = f"rtr_bench_{secrets.token_urlsafe(24)}"
        env = server_env(database_url, workdir, admin_key)
        with (
            Server(env, workdir, args.workers) as server,
            httpx.Client(base_url=server.url, timeout=600.0) as api,
        ):
            orgs = make_orgs(api, admin_key, ("oem", "regulator"), "bench")
            oem = orgs["oem"]

            # Single appends through wrk, after a short warm-up.
            run_wrk(server, oem, "warm", 1, args.threads, args.connections)
            entries_before, commits_before = commit_batches(api)
            cpu_before = worker_seconds(server)
            with profiled(server, args.duration, workdir / f"{backend}-single", args.profile):
                result = run_wrk(
                    server, oem, "single", args.duration, args.threads, args.connections
                )
            cpu = worker_seconds(server) - cpu_before
            entries_after, commits_after = commit_batches(api)
            sample = api.get(
                "/v1/log/entries",
                params={"start": 10, "limit": 1},
                headers=bearer(orgs["regulator"]),
            ).json()["entries"][0]
            seconds = result["duration_us"] / 1e6
            lat = result["latency_us"]
            note = (
                f"c={args.connections} p50 {lat['p50'] / 1000:.1f} ms, "
                f"p99 {lat['p99'] / 1000:.1f} ms"
            )
            # The same server's ceiling in the same run: /healthz with the same load.
            cpu_before = worker_seconds(server)
            health = wrk_url(f"{server.url}/healthz", args.duration, args.threads, args.connections)
            health_cpu = (worker_seconds(server) - cpu_before) / max(1, health["requests"])
            rate = result["created"] / seconds
            note += f"; /healthz {health['rps']:,.0f}/s, ratio {rate / health['rps']:.2f}"
            # The workers' CPU time per answered request, which the machine's other
            # load disturbs far less than requests per second, and the group commit's
            # entries per transaction.
            per_request = cpu / max(1, result["requests"])
            note += f"; CPU {per_request * 1e3:.2f} ms/request (/healthz {health_cpu * 1e3:.2f})"
            if commits_after > commits_before:
                batch = (entries_after - entries_before) / (commits_after - commits_before)
                note += f"; {batch:.1f} entries/commit"
            errors = {k: v for k, v in result["errors"].items() if v}
            if result["other"] or errors:
                note += f"; non-201: {result['other']} {result['other_statuses']} {errors}"
            rows.append(
                Row(
                    backend,
                    "single",
                    result["created"],
                    seconds,
                    raw_limit(result["created"], sample),
                    note,
                )
            )

            if "bulk" in args.modes:
                rows.append(bench_bulk(backend, server, api, oem, args, workdir, sample))

            start = time.perf_counter()
            verify = api.get("/v1/log/verify", headers=bearer(orgs["regulator"])).json()
            took = time.perf_counter() - start
            if not verify["ok"]:
                raise RuntimeError(f"the log does not verify after the run: {verify}")
            print(
                f"  {backend}: log verifies, {verify['size']} entries "
                f"({verify['size'] / took:,.0f} entries/s through GET /v1/log/verify)",
                flush=True,
            )
        # With the server stopped: the serialized write path alone (``--inproc 0``: skipped).
        count = args.inproc
        if count > 0:
            rows.append(
                Row(
                    backend,
                    "inproc",
                    count,
                    service_appends(database_url, "bench oem", count),
                    raw_limit(count, sample),
                    "one thread, no HTTP: Ledger.submit per entry",
                )
            )
    if args.profile:
        for mode in ("single", *(m for m in args.modes if m == "bulk")):
            files = sorted(workdir.glob(f"{backend}-{mode}.*.txt"))
            print(f"\n  profile of the {backend} workers during {mode}:")
            print(summarize_profile(files, _CATEGORIES))
    return rows


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'backend':<11}{'mode':<8}{'entries':>9}{'seconds':>9}{'entries/s':>11}"
        f"{'limit/s':>10}{'ratio':>8}{'target':>8}  {'':<4} notes"
    )
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        target = TARGETS.get((row.backend, row.mode))
        verdict = "" if target is None else ("ok" if row.rate >= target else "MISS")
        target_text = "" if target is None else f"{target:,.0f}"
        print(
            f"{row.backend:<11}{row.mode:<8}{row.entries:>9,}{row.seconds:>9.2f}"
            f"{row.rate:>11,.0f}{row.limit:>10,.0f}{row.rate / row.limit:>8.1%}"
            f"{target_text:>8}  {verdict:<4} {row.note}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--duration", type=float, default=10.0, help="wrk seconds")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument(
        "--modes", default="single,bulk", help="comma-separated: single, bulk (single always runs)"
    )
    parser.add_argument("--bulk-lines", type=int, default=5000, help="lines per bulk request")
    parser.add_argument("--bulk-requests", type=int, default=4, help="bulk requests")
    parser.add_argument(
        "--inproc",
        type=int,
        default=300,
        help="single appends in-process (no HTTP) after the server stops",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record the workers with py-spy and print where the time goes",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args()
    args.modes = [m for m in args.modes.split(",") if m]
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2

    rows: list[Row] = []
    workdir = Path(tempfile.mkdtemp(prefix="retrace-bench-"))
    try:
        for backend in args.backends.split(","):
            backend_dir = workdir / backend
            backend_dir.mkdir()
            print(f"benchmarking {backend} ...", flush=True)
            rows += bench_backend(backend, args, backend_dir)
    finally:
        if args.keep:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(rows)
    print(
        f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} cores"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
