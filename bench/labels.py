"""Labels and scans: how fast labels render and how fast the loading dock's scans answer.

Run by hand (not part of the test suite), from the repository root:

    python bench/labels.py                          # everything, both backends
    python bench/labels.py --backends sqlite --duration 5
    python bench/labels.py --profile                # also py-spy the server during scans

Measures, each beside a limit taken in the same run (the machine is noisy):

* PNG and SVG labels per second, in-process, one thread (50 mm at 300 dpi),
  against the plain ``qrcode`` library making the same symbol (automatic mask);
* seconds for a 1,000-label A4 PDF sheet, in-process;
* POST /v1/scan under ``wrk -t2 -c16 --latency -s bench/scan.lua``: a scratch
  database per backend seeded with a few hundred items through the API,
  ``retrace serve --workers 2``, scans of label URLs and of typed codes by a
  recycler's key; the limit is GET /healthz on the same server with the same
  wrk settings (HTTP and FastAPI alone, no database).

Goals on the 2-core machine: >= 200 PNG labels/s, a 1,000-label sheet in < 10 s,
scans at >= 1,000 req/s with p99 < 25 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# This file is named like the package it measures: take the script's folder off
# the import path so that ``import labels`` finds the package, not this file.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))
sys.path.append(str(HERE))  # for _harness; the package `labels` wins, being first

import httpx  # noqa: E402 - after the import path is fixed (see above)
from _harness import Server, scratch_database, summarize_profile  # noqa: E402

from labels import LabelInfo, SheetLayout, render_png, render_sheet_pdf, render_svg  # noqa: E402

LUA = HERE / "scan.lua"
BASE_URL = "https://retrace.example.org"
KINDS = ["battery_pack", "battery_module", "battery_cell", "pv_module", "wind_blade"]
GOAL_PNG_PER_S = 200.0
GOAL_SHEET_S = 10.0
GOAL_SCAN_RPS = 1000.0
GOAL_SCAN_P99_MS = 25.0


@dataclass
class Row:
    what: str
    figure: str
    limit: str = ""
    ratio: str = ""
    goal: str = ""
    verdict: str = ""
    notes: str = ""


# -- in-process rendering ---------------------------------------------------------------


def sample_infos(count: int) -> list[LabelInfo]:
    """Distinct labels (unique ids and codes), kinds cycling, like a real batch."""
    return [
        LabelInfo(
            item_id=f"itm_01JD8Z3K5V7W9XQRST{n:08d}",
            code=f"CATPB01A1B2C3DB34{n % 9_999_999 + 1:07d}",
            kind=KINDS[n % len(KINDS)],
            manufacturer="Contemporary Amperex Technology Co., Ltd.",
        )
        for n in range(count)
    ]


def best_rate(work: Callable[[], int], repeats: int = 3) -> float:
    """Items per second of ``work`` (which returns how many it did), best of ``repeats``."""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        done = work()
        best = max(best, done / (time.perf_counter() - start))
    return best


def qrcode_png_rate(infos: list[LabelInfo]) -> float:
    """The plain library: ``qrcode`` (automatic mask) to a PIL PNG, same URLs."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_Q

    def work() -> int:
        for info in infos:
            code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, box_size=10, border=4)
            code.add_data(f"{BASE_URL}/p/{info.item_id}")
            image = code.make_image()
            image.save(io.BytesIO(), "PNG")
        return len(infos)

    return best_rate(work)


def qrcode_svg_rate(infos: list[LabelInfo]) -> float:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_Q
    from qrcode.image.svg import SvgPathImage

    def work() -> int:
        for info in infos:
            image = qrcode.make(
                f"{BASE_URL}/p/{info.item_id}",
                image_factory=SvgPathImage,
                error_correction=ERROR_CORRECT_Q,
            )
            image.to_string()
        return len(infos)

    return best_rate(work)


def bench_rendering(count: int, sheet_labels: int) -> list[Row]:
    infos = sample_infos(count)
    render_png(infos[0], BASE_URL)  # fonts, symbol templates
    png = best_rate(lambda: sum(1 for i in infos if render_png(i, BASE_URL)))
    png_limit = qrcode_png_rate(infos[: max(50, count // 3)])
    svg = best_rate(lambda: sum(1 for i in infos if render_svg(i, BASE_URL)))
    svg_limit = qrcode_svg_rate(infos[: max(50, count // 3)])
    rows = [
        Row(
            "PNG labels/s (50 mm, 300 dpi)",
            f"{png:,.0f}",
            f"{png_limit:,.0f}",
            f"{png / png_limit:.1f}x",
            f">= {GOAL_PNG_PER_S:.0f}",
            "ok" if png >= GOAL_PNG_PER_S else "MISS",
            "limit: qrcode -> PIL PNG, auto mask, symbol only",
        ),
        Row(
            "SVG labels/s (50 mm)",
            f"{svg:,.0f}",
            f"{svg_limit:,.0f}",
            f"{svg / svg_limit:.1f}x",
            notes="limit: qrcode SvgPathImage, auto mask, symbol only",
        ),
    ]
    sheet = sample_infos(sheet_labels)
    start = time.perf_counter()
    pdf = render_sheet_pdf(sheet, BASE_URL, SheetLayout.a4())
    seconds = time.perf_counter() - start
    rows.append(
        Row(
            f"{sheet_labels:,}-label A4 sheet, s",
            f"{seconds:.2f}",
            goal=f"< {GOAL_SHEET_S:.0f}",
            verdict="ok" if seconds < GOAL_SHEET_S else "MISS",
            notes=f"{-(-sheet_labels // 24)} pages, {len(pdf) / 1e6:.2f} MB, "
            f"{sheet_labels / seconds:,.0f} labels/s",
        )
    )
    return rows


# -- the server ---------------------------------------------------------------------------


# -- wrk ------------------------------------------------------------------------------------


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(stdout: str) -> dict[str, Any]:
    """Requests/s and latency percentiles from wrk's ``--latency`` report."""
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


# -- profiling (optional) -------------------------------------------------------------------


@contextlib.contextmanager
def profiled(server: Server, seconds: float, out: Path, enabled: bool) -> Iterator[list[Path]]:
    """py-spy every worker while the block runs; yields the raw output files."""
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


_CATEGORIES = [
    ("db driver (sqlite3 / psycopg)", re.compile(r"psycopg|sqlite3|do_execute|method 'execute'")),
    ("sqlalchemy: pool, compile, rows", re.compile(r"sqlalchemy")),
    ("pydantic: request/response models", re.compile(r"pydantic")),
    ("json encode/decode", re.compile(r"json")),
    ("logging", re.compile(r"structlog|logging")),
    ("http: uvicorn/starlette/fastapi", re.compile(r"uvicorn|starlette|fastapi|httptools|h11")),
    ("asyncio / threads / anyio", re.compile(r"asyncio|threading|concurrent|anyio|selectors")),
]
# -- scans ----------------------------------------------------------------------------------


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


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
        env = {k: v for k, v in os.environ.items() if not k.startswith("RETRACE_")}
        env.update(
            {
                "RETRACE_DATABASE_URL": database_url,
                "RETRACE_ENVIRONMENT": "test",
                "RETRACE_LOG_KEY_FILE": str(workdir / "log.key"),
                "RETRACE_BOOTSTRAP_ADMIN_KEY": admin_key,
                "RETRACE_PUBLIC_BASE_URL": BASE_URL,
                "PYTHONUNBUFFERED": "1",
            }
        )
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


def print_table(rows: list[Row]) -> None:
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="comma-separated: sqlite, postgresql (empty: rendering only)",
    )
    parser.add_argument("--labels", type=int, default=300, help="labels per rendering run")
    parser.add_argument("--sheet", type=int, default=1000, help="labels on the PDF sheet")
    parser.add_argument("--items", type=int, default=400, help="items seeded for the scans")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--duration", type=float, default=10.0, help="wrk seconds per run")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument(
        "--profile", action="store_true", help="record the workers with py-spy during the scans"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    if backends and shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2

    print("rendering labels in-process ...", flush=True)
    rows = bench_rendering(args.labels, args.sheet)
    workdir = Path(tempfile.mkdtemp(prefix="retrace-bench-labels-"))
    try:
        for backend in backends:
            print(f"scans on {backend} ...", flush=True)
            folder = workdir / backend
            folder.mkdir()
            rows += bench_scans(backend, args, folder)
    finally:
        if args.keep:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(rows)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\nload average (1, 5, 15 min): {load} on {os.cpu_count()} cores; "
        "figures are comparable only with the limits of the same run"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
