"""The loading dock's scans: POST /v1/scan under wrk against ``retrace serve``.

Part of ``python bench/labels.py`` (see there). Per backend: a scratch database
seeded with items through the API, ``retrace serve``, scans of label URLs and of
typed codes by a recycler's key with bench/scan.lua; the limit is GET /healthz on
the same server with the same wrk settings (HTTP and FastAPI alone, no database).
"""

from __future__ import annotations

import argparse
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
from _harness import (
    Row,
    Server,
    bearer,
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
    keys = {}
    for role in ("oem", "recycler"):
        made = api.post(
            "/v1/orgs",
            headers=bearer(admin_key),
            json={"name": f"bench {role}", "role": role, "region": "CN"},
        )
        made.raise_for_status()
        keys[role] = made.json()["api_key"]
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
    backend: str, name: str, result: dict[str, Any], limit: dict[str, Any], notes: str
) -> Row:
    script = result.get("script", {})
    rps, p99 = result["rps"], result["p99"]
    good = rps >= GOAL_SCAN_RPS and p99 < GOAL_SCAN_P99_MS
    extra = ""
    if script.get("other") or result["socket_errors"]:
        extra = f"; non-200: {script.get('other')} {script.get('other_statuses', '')}".rstrip()
        extra += f" {result['socket_errors']}" if result["socket_errors"] else ""
        good = False
    return Row(
        f"{backend} scan {name}, req/s",
        f"{rps:,.0f}",
        f"{limit['rps']:,.0f}",
        f"{rps / limit['rps']:.0%}",
        f">= {GOAL_SCAN_RPS:,.0f}, p99 < {GOAL_SCAN_P99_MS:.0f} ms",
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
            payload_sets = {
                "by label URL": [f"{BASE_URL}/p/{item['id']}" for item in items],
                "by typed code": [item["code"].lower() for item in items],
            }
            wrk_args = (args.duration, args.threads, args.connections)
            run_wrk(f"{server.url}/healthz", 1, args.threads, args.connections)  # warm
            limit = run_wrk(f"{server.url}/healthz", *wrk_args)
            rows.append(
                Row(
                    f"{backend} GET /healthz, req/s",
                    f"{limit['rps']:,.0f}",
                    notes=f"the limit: same server and wrk settings, no database; "
                    f"p50 {limit['p50']:.1f} ms, p99 {limit['p99']:.1f} ms",
                )
            )
            for name, payloads in payload_sets.items():
                payload_file = workdir / f"payloads-{len(rows)}.txt"
                payload_file.write_text("\n".join(payloads) + "\n")
                lua_env = {"BENCH_API_KEY": key, "BENCH_PAYLOADS_FILE": str(payload_file)}
                run_wrk(server.url, 1, *wrk_args[1:], script=LUA, env=lua_env)  # warm
                out = workdir / f"{backend}-{name.replace(' ', '-')}"
                with profiled(server, args.duration, out, args.profile) as files:
                    result = run_wrk(server.url, *wrk_args, script=LUA, env=lua_env)
                notes = (
                    f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, "
                    f"{len(payloads)} items, {args.workers} workers"
                )
                rows.append(scan_row(backend, name, result, limit, notes))
                if args.profile:
                    print(f"\n  profile of the {backend} workers, scans {name}:")
                    print(summarize_profile(files, _CATEGORIES), flush=True)
    return rows
