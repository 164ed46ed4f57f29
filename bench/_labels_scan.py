"""The loading dock's scans: POST /v1/scan under wrk against ``retrace serve``.

Part of ``python bench/labels.py`` (see there). Per backend: a scratch database
seeded with items through the API, ``retrace serve``, scans of label URLs and of
typed codes by a recycler's key with bench/scan.lua; the limit is GET /healthz on
the same server with the same wrk settings (HTTP and FastAPI alone, no database).
With ``--redis URL`` the scans are measured again against a second server on the
same database with ``RETRACE_REDIS_URL`` set (the read-through cache), beside that
server's own /healthz.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
from _harness import (
    Row,
    Server,
    bearer,
    make_orgs,
    profiled,
    run_wrk,
    scratch_database,
    server_env,
    summarize_profile,
)
from _labels_render import BASE_URL, KINDS

LUA = Path(__file__).resolve().parent / "scan.lua"
GOAL_SCAN_RPS = 1000.0
GOAL_SCAN_P99_MS = 25.0
# Against /healthz on the same server: without Redis, and with the cache.
GOAL_RATIO = 0.5
GOAL_RATIO_CACHED = 0.8
GOAL_P99_CACHED_MS = 20.0

_CATEGORIES = [
    ("db driver (sqlite3 / psycopg)", re.compile(r"psycopg|sqlite3|do_execute|method 'execute'")),
    ("sqlalchemy: pool, compile, rows", re.compile(r"sqlalchemy")),
    ("pydantic: request/response models", re.compile(r"pydantic")),
    ("json encode/decode", re.compile(r"json")),
    ("logging", re.compile(r"structlog|logging")),
    ("http: uvicorn/starlette/fastapi", re.compile(r"uvicorn|starlette|fastapi|httptools|h11")),
    ("asyncio / threads / anyio", re.compile(r"asyncio|threading|concurrent|anyio|selectors")),
]


def seed(api: httpx.Client, admin_key: str, items: int) -> tuple[str, list[dict[str, Any]]]:
    """Orgs and ``items`` registered items (kinds cycling); returns a recycler's key."""
    keys = make_orgs(api, admin_key, ("oem", "recycler"), "bench")
    token = secrets.token_hex(3).upper()
    lines = []
    for n in range(items):
        kind = KINDS[n % len(KINDS)]
        if kind.startswith("battery"):
            letter = {"battery_pack": "P", "battery_module": "M", "battery_cell": "C"}[kind]
            code = f"B{token[:2]}{letter}B01A1B2C3DB34{n + 1:07d}"
        else:
            code = f"{'PV' if kind == 'pv_module' else 'BL'}-{token}-{n:06d}"
        lines.append({"kind": kind, "code": code, "attributes": {"mass_kg": "22.5"}})
    answer = api.post("/v1/items/bulk", json=lines, headers=bearer(keys["oem"]))
    answer.raise_for_status()
    body = answer.json()
    if body["refused"]:
        raise RuntimeError(f"seeding refused lines: {body['results'][:3]}")
    registered = [{"id": r["id"], "code": r["code"]} for r in body["results"]]
    return keys["recycler"], registered


def scan_row(
    backend: str,
    name: str,
    result: dict[str, Any],
    limit: dict[str, Any],
    notes: str,
    cached: bool = False,
) -> Row:
    script = result.get("script", {})
    rps, p99 = result["rps"], result["p99"]
    ratio = rps / limit["rps"]
    if cached:
        good = ratio >= GOAL_RATIO_CACHED and p99 < GOAL_P99_CACHED_MS
        goal = f">= {GOAL_RATIO_CACHED:.0%} of /healthz, p99 < {GOAL_P99_CACHED_MS:.0f} ms"
    else:
        good = rps >= GOAL_SCAN_RPS and p99 < GOAL_SCAN_P99_MS and ratio >= GOAL_RATIO
        goal = (
            f">= {GOAL_SCAN_RPS:,.0f} and {GOAL_RATIO:.0%} of /healthz, "
            f"p99 < {GOAL_SCAN_P99_MS:.0f} ms"
        )
    extra = ""
    if script.get("other") or result["socket_errors"]:
        extra = f"; non-200: {script.get('other')} {script.get('other_statuses', '')}".rstrip()
        extra += f" {result['socket_errors']}" if result["socket_errors"] else ""
        good = False
    return Row(
        f"{backend} scan {name}{' (Redis)' if cached else ''}, req/s",
        f"{rps:,.0f}",
        f"{limit['rps']:,.0f}",
        f"{ratio:.0%}",
        goal,
        "ok" if good else "MISS",
        f"p50 {result['p50']:.1f} ms, p99 {p99:.1f} ms{extra}; {notes}",
    )


def bench_scans(backend: str, args: argparse.Namespace, workdir: Path) -> list[Row]:
    rows: list[Row] = []
    with scratch_database(backend, workdir) as database_url:
        admin_key = f"rtr_bench_{secrets.token_urlsafe(24)}"
        env = server_env(database_url, workdir, admin_key, RETRACE_PUBLIC_BASE_URL=BASE_URL)
        with (
            Server(env, workdir, args.workers) as server,
            httpx.Client(base_url=server.url, timeout=120.0) as api,
        ):
            key, items = seed(api, admin_key, args.items)
            rows += _measure(backend, args, workdir, server, key, items, cached=False)
        if args.redis:
            with Server({**env, "RETRACE_REDIS_URL": args.redis}, workdir, args.workers) as server:
                rows += _measure(backend, args, workdir, server, key, items, cached=True)
    return rows


def _worker_seconds(server: Server) -> float:
    """CPU seconds (user + system) the server's workers have used so far."""
    total = 0
    for pid in server.worker_pids():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (proc(5))
    return total / os.sysconf("SC_CLK_TCK")


def _timed(
    server: Server,
    url: str,
    wrk_args: tuple[float, int, int],
    script: Path | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``run_wrk``, with the workers' CPU time per answered request (``cpu_us``):
    a figure other work on the machine disturbs far less than requests per second."""
    before = _worker_seconds(server)
    result = run_wrk(url, *wrk_args, script=script, env=env)
    result["cpu_us"] = (_worker_seconds(server) - before) * 1e6 / max(1, result["requests"])
    return result


def _measure(
    backend: str,
    args: argparse.Namespace,
    workdir: Path,
    server: Server,
    key: str,
    items: list[dict[str, Any]],
    *,
    cached: bool,
) -> list[Row]:
    """The scans by label URL and by typed code on one server, each right after
    /healthz on it (its limit; the machine's load drifts between runs)."""
    payload_sets = {
        "by label URL": [f"{BASE_URL}/p/{item['id']}" for item in items],
        "by typed code": [item["code"].lower() for item in items],
    }
    wrk_args = (args.duration, args.threads, args.connections)
    run_wrk(f"{server.url}/healthz", 1, args.threads, args.connections)  # warm
    with_redis = " (Redis)" if cached else ""
    rows = []
    for name, payloads in payload_sets.items():
        limit = _timed(server, f"{server.url}/healthz", wrk_args)
        rows.append(
            Row(
                f"{backend} GET /healthz{with_redis}, req/s",
                f"{limit['rps']:,.0f}",
                notes=f"the limit: same server and wrk settings, no database; "
                f"p50 {limit['p50']:.1f} ms, p99 {limit['p99']:.1f} ms; "
                f"workers' CPU {limit['cpu_us']:.0f} us/request",
            )
        )
        payload_file = workdir / f"payloads-{name.replace(' ', '-')}.txt"
        payload_file.write_text("\n".join(payloads) + "\n")
        lua_env = {"BENCH_API_KEY": key, "BENCH_PAYLOADS_FILE": str(payload_file)}
        run_wrk(server.url, 1, *wrk_args[1:], script=LUA, env=lua_env)  # warm
        out = workdir / f"{backend}-{name.replace(' ', '-')}{'-redis' if cached else ''}"
        with profiled(server, args.duration, out, args.profile) as files:
            result = _timed(server, server.url, wrk_args, LUA, lua_env)
        notes = (
            f"workers' CPU {result['cpu_us']:.0f} us/request "
            f"({limit['cpu_us'] / result['cpu_us']:.0%} of /healthz's); "
            f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, "
            f"{len(payloads)} items, {args.workers} workers"
        )
        rows.append(scan_row(backend, name, result, limit, notes, cached))
        if args.profile:
            print(f"\n  profile of the {backend} workers, scans {name}{with_redis}:")
            print(summarize_profile(files, _CATEGORIES), flush=True)
    return rows
