"""Bulk registration through the API, beside canonicalize + hash + COPY in the same run.

Run by hand (not part of the test suite), from the repository root:

    python bench/bulk_rate.py                                   # PostgreSQL, 5,000-line requests
    python bench/bulk_rate.py --lines 1000,10000,50000 --requests 3
    python bench/bulk_rate.py --fill 200000 --lines 10000       # at a larger log
    python bench/bulk_rate.py --profile                         # py-spy the worker

Makes a scratch PostgreSQL database (``retrace_bench_<random>``, dropped at the
end), starts ``retrace serve --workers N`` (1 by default) on it, and for each
request size of ``--lines`` posts ``--requests`` JSON Lines bodies of PV modules
to ``POST /v1/items/bulk`` one after another. Each size is printed beside its
limit, measured right after it in the same database: building the same number
of similar entries (``ledger.chain.build_entry``: RFC 8785 bytes, SHA-256,
chained) and writing their rows by COPY (binary, as the service does), 1,000 per
committed transaction, into a table made like ``entries`` (same columns and
indexes). That is what any bulk write must do; everything else the service does
is the gap. The notes give the CPU time per entry of the workers and of the
database's backends (read from ``/proc``: PostgreSQL must run on this machine).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from _harness import (
    Row,
    Server,
    bearer,
    make_orgs,
    print_table,
    profiled,
    scratch_database,
    server_env,
    summarize_profile,
)

from ledger.chain import ZERO_HASH, build_entry

# Kinds of leaf frame in a profile, first match wins.
_CATEGORIES = [
    ("commit (PostgreSQL round trip)", re.compile(r"method 'commit'|do_commit|_commit_impl")),
    ("db driver: COPY / execute / wait", re.compile(r"psycopg|do_execute|do_executemany")),
    ("sqlalchemy", re.compile(r"sqlalchemy")),
    ("canonical json + hash", re.compile(r"canonical|rfc8785|orjson|leaf_hash|sha256|build_entry")),
    ("pydantic / validation", re.compile(r"pydantic|parse_model|validate")),
    ("stdlib json (body check, lines)", re.compile(r"json/(encoder|decoder|__init__)")),
    ("body limits (ledger.limits)", re.compile(r"ledger/limits")),
    ("logging", re.compile(r"structlog|logging")),
    ("http: uvicorn/starlette/fastapi", re.compile(r"uvicorn|starlette|fastapi|h11|httptools")),
    ("asyncio / threads", re.compile(r"asyncio|threading|concurrent|anyio")),
]

GOAL = 20_000.0
"""Entries per second on PostgreSQL through the API, at any request size and log size."""


def bulk_body(prefix: str, lines: int) -> bytes:
    """``lines`` PV module registrations as JSON Lines, each with a unique serial."""
    return b"\n".join(
        orjson.dumps(
            {
                "kind": "pv_module",
                "code": f"PV-{prefix}-{i}",
                "attributes": {"mass_kg": "22.5", "rated_power_w": "405"},
            }
        )
        for i in range(lines)
    )


def post_bulk(api: httpx.Client, key: str, body: bytes) -> tuple[float, int]:
    """Seconds of one ``POST /v1/items/bulk`` of JSON Lines, and the lines accepted."""
    start = time.perf_counter()
    answer = api.post(
        "/v1/items/bulk",
        content=body,
        headers={**bearer(key), "Content-Type": "application/x-ndjson"},
    )
    took = time.perf_counter() - start
    answer.raise_for_status()
    return took, int(answer.json()["accepted"])


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def worker_seconds(server: Server) -> float:
    """CPU seconds the server's workers have used so far."""
    return sum(cpu_seconds(pid) for pid in server.worker_pids())


def database_seconds(database_url: str) -> dict[int, float]:
    """CPU seconds each backend connected to the scratch database has used so far,
    by its process id (PostgreSQL on this machine: ``/proc``). The workers' pools,
    and the report refresher's connections when it folds during the run."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        ).fetchall()
    return {pid: cpu_seconds(pid) for (pid,) in rows}


def database_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the database's backends used between two ``database_seconds``
    (a backend that ended in between is not counted: the pools keep theirs)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def copy_limit(database_url: str, count: int, template: dict[str, Any], repeats: int = 3) -> float:
    """Entries per second building ``count`` chained entries like ``template`` and
    writing their rows by COPY, 1,000 per committed transaction, into a scratch
    table made like ``entries``. Best of ``repeats`` (one run if it takes over 10 s)."""
    now = datetime.now(UTC)
    attributes = dict(template["data"]["attributes"])
    statement = (
        "COPY bench_limit (seq, hash, ts, actor, item, type, body) FROM STDIN (FORMAT BINARY)"
    )
    types = ["int8", "text", "text", "text", "text", "text", "bytea"]
    best = float("inf")
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE bench_limit (LIKE entries INCLUDING ALL)")
        conn.commit()
        try:
            for _ in range(repeats):
                conn.execute("TRUNCATE bench_limit")
                conn.commit()
                prev = ZERO_HASH
                start = time.perf_counter()
                for first in range(0, count, 1000):
                    with conn.cursor() as cursor, cursor.copy(statement) as copy:
                        copy.set_types(types)
                        for seq in range(first, min(count, first + 1000)):
                            entry = build_entry(
                                seq=seq,
                                now=now,
                                actor=template["actor"],
                                item=f"itm_{seq:026d}",
                                type="registered",
                                data={
                                    "kind": "pv_module",
                                    "code": f"PV-LIMIT-{seq}",
                                    "attributes": dict(attributes),
                                },
                                prev=prev,
                                item_prev=None,
                            )
                            prev = entry.hash
                            row = (seq, entry.hash, entry.ts, entry.actor, entry.item)
                            copy.write_row((*row, entry.type, entry.body))
                    conn.commit()
                took = time.perf_counter() - start
                best = min(best, took)
                if took > 10:
                    break
        finally:
            conn.rollback()
            conn.execute("DROP TABLE IF EXISTS bench_limit")
            conn.commit()
    return count / best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lines",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[5000],
        help="lines per request; several sizes comma-separated (1000,10000,50000)",
    )
    parser.add_argument("--requests", type=int, default=4, help="requests per size")
    parser.add_argument("--fill", type=int, default=0, help="entries written first, not timed")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--profile", action="store_true", help="py-spy --gil the workers")
    parser.add_argument(
        "--report-refresh",
        type=float,
        default=None,
        help="seconds between the workers' report refreshes (default: the service's)",
    )
    args = parser.parse_args()

    rows: list[Row] = []
    workdir = Path(tempfile.mkdtemp(prefix="retrace-bulk-"))
    with scratch_database("postgresql", workdir) as database_url:
        admin_key = f"rtr_bench_{secrets.token_urlsafe(24)}"
        extra = {}
        if args.report_refresh is not None:
            extra["RETRACE_REPORT_REFRESH_INTERVAL"] = str(args.report_refresh)
        env = server_env(database_url, workdir, admin_key, **extra)
        with (
            Server(env, workdir, args.workers) as server,
            httpx.Client(base_url=server.url, timeout=600.0) as api,
        ):
            keys = make_orgs(api, admin_key, ("oem", "regulator"), "bench")
            post_bulk(api, keys["oem"], bulk_body("warm", 100))
            filled = 0
            while filled < args.fill:
                lines = min(args.fill - filled, 50_000)
                post_bulk(api, keys["oem"], bulk_body(f"fill{filled}", lines))
                filled += lines
            first = api.get(
                "/v1/log/entries",
                params={"start": 0, "limit": 20},
                headers=bearer(keys["regulator"]),
            ).json()["entries"]
            sample = next(e for e in first if e["type"] == "registered")
            for size in args.lines:
                bodies = [bulk_body(f"s{size}-{n}", size) for n in range(args.requests)]
                times, accepted = [], 0
                cpu, database = worker_seconds(server), database_seconds(database_url)
                out = workdir / f"bulk-{size}"
                with profiled(server, args.requests * size / 12_000 + 1, out, args.profile):
                    for body in bodies:
                        took, count = post_bulk(api, keys["oem"], body)
                        times.append(took)
                        accepted += count
                cpu = worker_seconds(server) - cpu
                used = database_used(database, database_seconds(database_url))
                rate = accepted / sum(times)
                limit = copy_limit(database_url, accepted, sample)
                notes = (
                    f"{args.requests} x {size:,} lines, {min(times):.2f}-{max(times):.2f} s "
                    f"each, log at {filled + 102:,}+; worker CPU {cpu / accepted * 1e6:.0f} µs "
                    f"per entry ({cpu / sum(times):.0%} of the wall time), database CPU "
                    f"{used / accepted * 1e6:.0f} µs per entry"
                )
                if accepted != args.requests * size:
                    notes += f"; only {accepted} accepted"
                rows.append(
                    Row(
                        f"bulk {size:,} lines",
                        f"{rate:,.0f}/s",
                        f"{limit:,.0f}/s",
                        f"{rate / limit:.2f}",
                        f">= {GOAL:,.0f}/s",
                        "ok" if rate >= GOAL else "MISS",
                        notes,
                    )
                )
                if args.profile:
                    print(f"\nprofile of the worker(s) during {size:,}-line requests:")
                    print(
                        summarize_profile(sorted(workdir.glob(f"bulk-{size}.*.txt")), _CATEGORIES)
                    )
                filled += accepted
            verify = api.get("/v1/log/verify", headers=bearer(keys["regulator"])).json()
            if not verify["ok"]:
                raise RuntimeError(f"the log does not verify after the run: {verify}")
    print_table(rows)
    print(
        f"\nworkers {args.workers}, report refresh every "
        f"{args.report_refresh or 'default'} s; load average at the end: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
