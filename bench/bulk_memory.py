"""A bulk upload's memory, and how long a single write waits while it runs.

Run by hand (not part of the test suite), from the repository root:

    python bench/bulk_memory.py                    # PostgreSQL, 50,000 and 200,000 lines
    python bench/bulk_memory.py --backend sqlite --lines 50000

Starts ``retrace serve --workers 1`` on a scratch database. For each body size it
samples the worker's resident memory every 20 ms while one ``POST /v1/items/bulk``
(JSON Lines) runs, and meanwhile registers one item every 100 ms from another org.
It prints the peak above the idle worker, what stayed after the upload, and the
single writes' latency beside the upload's duration. A body beyond the bulk limit
(``RETRACE_MAX_BULK_LINES``, 50,000 by default) is refused whole, and its figures
say what the refusal cost. Goals: under ~200 MB above idle for any accepted body,
and a single write under a second.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from _harness import Server, bearer, make_orgs, scratch_database, server_env

MB = 1024 * 1024


def rss(pid: int) -> int:
    """Resident memory of ``pid`` in bytes (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def body(prefix: str, lines: int) -> bytes:
    return b"\n".join(
        json.dumps(
            {
                "kind": "pv_module",
                "code": f"PV-{prefix}-{n}",
                "attributes": {"mass_kg": "22.5", "rated_power_w": "405", "model": "JAM72S30"},
            }
        ).encode()
        for n in range(lines)
    )


def measure(server: Server, keys: dict[str, str], lines: int) -> dict[str, Any]:
    pid = server.worker_pids()[0]
    idle = rss(pid)
    peak, waits = idle, []
    done = threading.Event()
    answer: dict[str, Any] = {}
    upload = body(secrets.token_hex(4), lines)

    def post() -> None:
        started = time.monotonic()
        with httpx.Client(base_url=server.url, timeout=900.0) as api:
            response = api.post(
                "/v1/items/bulk",
                content=upload,
                headers={"Content-Type": "application/x-ndjson", **bearer(keys["oem"])},
            )
        answer["status"], answer["seconds"] = response.status_code, time.monotonic() - started
        answer["accepted"] = response.json().get("accepted")
        done.set()

    def singles() -> None:
        with httpx.Client(base_url=server.url, timeout=900.0) as api:
            n = 0
            while not done.is_set():
                n += 1
                started = time.monotonic()
                made = api.post(
                    "/v1/items",
                    json={"kind": "pv_module", "code": f"PV-single-{secrets.token_hex(6)}"},
                    headers=bearer(keys["other"]),
                )
                if made.status_code != 201:
                    raise RuntimeError(f"single write: {made.status_code} {made.text}")
                waits.append(time.monotonic() - started)
                done.wait(0.1)

    threads = [threading.Thread(target=post), threading.Thread(target=singles)]
    for thread in threads:
        thread.start()
    while not done.is_set():
        peak = max(peak, rss(pid))
        time.sleep(0.02)
    for thread in threads:
        thread.join()
    time.sleep(0.5)
    return {
        "lines": lines,
        "status": answer["status"],
        "accepted": answer["accepted"],
        "seconds": answer["seconds"],
        "idle_mb": idle / MB,
        "peak_above_idle_mb": (peak - idle) / MB,
        "kept_mb": (rss(pid) - idle) / MB,
        "single_writes": len(waits),
        "single_p50_ms": statistics.median(waits) * 1000 if waits else None,
        "single_max_ms": max(waits) * 1000 if waits else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--lines", default="50000,200000", help="comma-separated body sizes")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="retrace-bulk-memory-"))
    rows = []
    with scratch_database(args.backend, workdir) as database_url:
        admin_key = f"rtr_bench_{secrets.token_urlsafe(24)}"
        env = server_env(database_url, workdir, admin_key)
        with Server(env, workdir, 1) as server, httpx.Client(base_url=server.url) as api:
            keys = make_orgs(api, admin_key, ("oem",), "memory")
            # The single writes come from another OEM.
            keys["other"] = make_orgs(api, admin_key, ("oem",), "memory other")["oem"]
            for lines in (int(n) for n in args.lines.split(",")):
                print(f"  {lines:,} lines ...", flush=True)
                rows.append(measure(server, keys, lines))
    print()
    print(
        f"{'lines':>8} {'status':>6} {'accepted':>8} {'seconds':>8} {'idle MB':>8} "
        f"{'peak+ MB':>9} {'kept+ MB':>9} {'singles':>7} {'p50 ms':>7} {'max ms':>7}"
    )
    for r in rows:
        p50 = f"{r['single_p50_ms']:.0f}" if r["single_p50_ms"] is not None else "-"
        worst = f"{r['single_max_ms']:.0f}" if r["single_max_ms"] is not None else "-"
        print(
            f"{r['lines']:>8,} {r['status']:>6} {r['accepted'] or 0:>8,} {r['seconds']:>8.2f} "
            f"{r['idle_mb']:>8.0f} {r['peak_above_idle_mb']:>9.0f} {r['kept_mb']:>9.0f} "
            f"{r['single_writes']:>7} {p50:>7} {worst:>7}"
        )
    print("\ngoals: peak under ~200 MB above idle for any accepted body; single writes under 1 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
