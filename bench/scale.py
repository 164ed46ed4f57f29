"""Cost curves: what each request costs as the PostgreSQL log grows to 10^7 entries.

Run by hand (not part of the test suite), from the repository root:

    python bench/scale.py                          # 10^5 and 10^6 entries
    python bench/scale.py --sizes 100000 1000000 10000000
    python bench/scale.py --sizes 20000 100000 --seconds 3

It makes a scratch PostgreSQL database, starts ``retrace serve --workers 2`` on
it and fills the log through ``POST /v1/items/bulk`` (PV modules, JSON Lines),
with a progress bar. Each time the log reaches one of ``--sizes`` it measures,
with ``wrk``:

* appends: ``POST /v1/items`` one entry per request, 8 connections;
* bulk: entries per second of the last fill requests before that size;
* scans: ``POST /v1/scan`` of typed serials spread over the whole log, 8 connections;
* proofs: inclusion and consistency proofs at random indexes and sizes, one
  connection, beside ``/healthz`` on one connection in the same run: the
  difference of the two medians is the proof's server time;
* history: ``GET /v1/items/{id}/history`` (entries with their proofs), one connection;
* reports: ``GET /v1/reports/{name}`` of each of the six reports in turn, as a
  regulator, one connection (the regulator's view: every row of the whole log).

Before measuring at a size it waits until the report aggregates cover the log
(``retrace_report_aggregates_entries`` against ``retrace_log_entries`` on
``/metrics``): the report refresher folds the fill in a process of its own, and
its catch-up is timed apart (``catch-up``) rather than measured into the requests.

The figures are printed as a table, saved as JSON (``--out``, default
``bench/scale.json``) and drawn as a PNG chart beside it. A request whose cost
does not grow with the log draws a flat line.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _harness import Server, bearer, make_orgs, run_wrk, scratch_database, server_env
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

BENCH = Path(__file__).resolve().parent
REGISTER_LUA = BENCH / "register.lua"
SCAN_LUA = BENCH / "scan.lua"
PATHS_LUA = BENCH / "paths.lua"
REPORTS = ("inventory", "recovery", "deadlines", "second-life", "flows", "anomalies")
CATCH_UP_TIMEOUT_S = 1800.0


def _gauge(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise RuntimeError(f"{name} is not on /metrics")


def wait_for_reports(api: httpx.Client) -> float:
    """Seconds until the report aggregates cover the whole log."""
    started = time.perf_counter()
    while time.perf_counter() - started < CATCH_UP_TIMEOUT_S:
        text = api.get("/metrics").text
        if _gauge(text, "retrace_report_aggregates_entries") >= _gauge(text, "retrace_log_entries"):
            return time.perf_counter() - started
        time.sleep(0.5)
    raise RuntimeError("the report aggregates did not catch up with the log")


def fill_body(start: int, lines: int) -> bytes:
    """JSON Lines of PV modules with serials ``PV-fill-<n>`` for n in [start, start + lines)."""
    return b"\n".join(
        b'{"kind":"pv_module","code":"PV-fill-%d","attributes":{"mass_kg":"22.5"}}' % n
        for n in range(start, start + lines)
    )


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def measure(
    server: Server, keys: dict[str, str], size: int, filled: int, work: Path, seconds: float
) -> dict[str, Any]:
    """The figures at a log of ``size`` entries, ``filled`` of them fill items."""
    rng = random.Random(size)
    url = server.url
    figures: dict[str, Any] = {"size": size}

    def one_connection(name: str, paths: list[str], key: str = "") -> dict[str, Any]:
        """``paths`` in turn at one connection, signed by ``key`` (none: public)."""
        env = {"BENCH_API_KEY": key, "BENCH_PATHS_FILE": str(write_lines(work / name, paths))}
        return run_wrk(url, seconds, 1, 1, PATHS_LUA, env)

    health = run_wrk(f"{url}/healthz", seconds, 1, 1)
    figures["healthz_c1_p50_ms"] = health["p50"]

    proofs = []
    for _ in range(2000):
        tree = rng.randrange(2, size + 1)
        proofs.append(f"/v1/log/proof/inclusion?index={rng.randrange(tree)}&size={tree}")
    inclusion = one_connection("inclusion.txt", proofs)
    figures["inclusion_p50_ms"] = inclusion["p50"]
    figures["inclusion_server_ms"] = inclusion["p50"] - health["p50"]

    proofs = []
    for _ in range(2000):
        second = rng.randrange(2, size + 1)
        proofs.append(f"/v1/log/proof/consistency?from={rng.randrange(1, second)}&to={second}")
    consistency = one_connection("consistency.txt", proofs)
    figures["consistency_p50_ms"] = consistency["p50"]
    figures["consistency_server_ms"] = consistency["p50"] - health["p50"]

    codes = [f"PV-fill-{rng.randrange(filled)}" for _ in range(2000)]
    env = {
        "BENCH_API_KEY": keys["recycler"],
        "BENCH_PAYLOADS_FILE": str(write_lines(work / "scans.txt", codes)),
    }
    health8 = run_wrk(f"{url}/healthz", seconds, 2, 8)
    scans = run_wrk(url, seconds, 2, 8, SCAN_LUA, env)
    figures["healthz_rps"] = health8["rps"]
    figures["scan_rps"] = scans["rps"]
    figures["scan_p99_ms"] = scans["p99"]
    figures["scan_failed"] = scans["script"]["other"]

    with httpx.Client(base_url=url, timeout=30.0) as api:
        ids = [
            api.post("/v1/scan", headers=bearer(keys["oem"]), json={"payload": code}).json()[
                "item"
            ]["id"]
            for code in codes[:50]
        ]
    history = one_connection("history.txt", [f"/v1/items/{i}/history" for i in ids], keys["oem"])
    figures["history_p50_ms"] = history["p50"]

    reports = one_connection(
        "reports.txt", [f"/v1/reports/{name}" for name in REPORTS], keys["regulator"]
    )
    figures["reports_p50_ms"] = reports["p50"]
    figures["reports_p99_ms"] = reports["p99"]
    figures["reports_failed"] = reports["script"]["other"]

    env = {"BENCH_API_KEY": keys["oem"], "BENCH_PREFIX": f"s{size}"}
    appends = run_wrk(url, seconds, 2, 8, REGISTER_LUA, env)
    figures["append_rps"] = appends["script"]["created"] / (appends["script"]["duration_us"] / 1e6)
    figures["append_p99_ms"] = appends["p99"]
    figures["append_failed"] = appends["script"]["other"]
    figures["appended"] = appends["script"]["created"]
    return figures


def draw(results: list[dict[str, Any]], path: Path) -> None:
    """The curves as one PNG: a rate panel and a latency panel, log-scaled sizes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["size"] for r in results]
    fig, (rates, times) = plt.subplots(1, 2, figsize=(12, 4.5))
    for key, label in (
        ("append_rps", "single appends/s"),
        ("bulk_eps", "bulk entries/s"),
        ("scan_rps", "scans/s"),
        ("healthz_rps", "/healthz req/s"),
    ):
        rates.plot(sizes, [r.get(key) for r in results], marker="o", label=label)
    for key, label in (
        ("scan_p99_ms", "scan p99"),
        ("append_p99_ms", "append p99"),
        ("inclusion_server_ms", "inclusion proof, server"),
        ("consistency_server_ms", "consistency proof, server"),
        ("history_p50_ms", "item history p50"),
        ("reports_p50_ms", "regulator report p50"),
    ):
        times.plot(sizes, [r.get(key) for r in results], marker="o", label=label)
    for axis, title, unit in ((rates, "throughput", "per second"), (times, "latency", "ms")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("entries in the log")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle("Retrace on PostgreSQL: cost per request as the log grows")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(results: list[dict[str, Any]]) -> None:
    columns = (
        ("entries", "size", "{:,.0f}"),
        ("append/s", "append_rps", "{:,.0f}"),
        ("append p99", "append_p99_ms", "{:.1f} ms"),
        ("bulk/s", "bulk_eps", "{:,.0f}"),
        ("scan/s", "scan_rps", "{:,.0f}"),
        ("healthz/s", "healthz_rps", "{:,.0f}"),
        ("scan p99", "scan_p99_ms", "{:.1f} ms"),
        ("inclusion", "inclusion_server_ms", "{:.2f} ms"),
        ("consistency", "consistency_server_ms", "{:.2f} ms"),
        ("history p50", "history_p50_ms", "{:.2f} ms"),
        ("report p50", "reports_p50_ms", "{:.2f} ms"),
        ("report p99", "reports_p99_ms", "{:.2f} ms"),
        ("catch-up", "reports_catch_up_s", "{:.0f} s"),
    )
    cells = [[fmt.format(r[key]) if key in r else "-" for _, key, fmt in columns] for r in results]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (h, _, _) in enumerate(columns)]
    print()
    print("  ".join(f"{h:>{w}}" for (h, _, _), w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(f"{c:>{w}}" for c, w in zip(row, widths, strict=True)))
    print(
        "\nproof times are server time: the median at one connection minus /healthz's "
        "median in the same run"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--lines", type=int, default=10_000, help="lines per fill request")
    parser.add_argument("--seconds", type=float, default=4.0, help="each wrk measurement")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=BENCH / "scale.json")
    args = parser.parse_args()
    sizes = sorted(args.sizes)

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="retrace-scale-") as tmp:
        work = Path(tmp)
        with scratch_database("postgresql", work) as database_url:
            admin = f"rtr_bench_{secrets.token_urlsafe(24)}"
            env = server_env(database_url, work, admin)
            with (
                Server(env, work, args.workers) as server,
                httpx.Client(base_url=server.url, timeout=3600.0) as api,
            ):
                keys = make_orgs(api, admin, ("oem", "recycler", "regulator"), "scale")
                filled = 0
                # The org and key entries so far; from here on the script counts.
                size = len(
                    api.get(
                        "/v1/log/entries",
                        params={"start": 0, "limit": 100},
                        headers=bearer(keys["regulator"]),
                    ).json()["entries"]
                )
                columns = (
                    TextColumn("filling the log"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"),
                    TimeRemainingColumn(),
                )
                with Progress(*columns) as progress:
                    task = progress.add_task("fill", total=sizes[-1], completed=size, rate="")
                    for target in sizes:
                        recent: list[tuple[int, float]] = []
                        while size < target:
                            lines = min(args.lines, target - size)
                            body = fill_body(filled, lines)
                            started = time.perf_counter()
                            answer = api.post(
                                "/v1/items/bulk",
                                content=body,
                                headers={
                                    **bearer(keys["oem"]),
                                    "Content-Type": "application/x-ndjson",
                                },
                            )
                            took = time.perf_counter() - started
                            answer.raise_for_status()
                            accepted = int(answer.json()["accepted"])
                            if accepted != lines:
                                sys.exit(f"only {accepted} of {lines} fill lines accepted")
                            filled += lines
                            size += lines
                            recent = [*recent[-4:], (lines, took)]
                            rate = lines / took
                            progress.update(task, completed=size, rate=f"{rate:,.0f} entries/s")
                        progress.console.print(f"waiting for the reports at {size:,} entries")
                        catch_up = wait_for_reports(api)
                        progress.console.print(f"measuring at {size:,} entries")
                        figures = measure(server, keys, size, filled, work, args.seconds)
                        figures["reports_catch_up_s"] = catch_up
                        if recent:  # none when the last measurement's appends passed it
                            figures["bulk_eps"] = sum(n for n, _ in recent) / sum(
                                t for _, t in recent
                            )
                        # The appends just measured grew the log.
                        size += figures.pop("appended")
                        results.append(figures)
                        progress.console.print(json.dumps(figures))
    table(results)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    draw(results, args.out.with_suffix(".png"))
    print(f"saved {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
