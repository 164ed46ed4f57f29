"""Oversight reads at scale: each report's latency and the item query's p99, beside
one full scan of the entries table, all measured in the same run.

Fills a scratch PostgreSQL database (``_harness.scratch_database``) in-process with
``--items`` items (default 200,000) driven through mixed lives, about five entries
each (1,000,000 in all), in transactions of 1,000 lines, while the report
aggregates are folded in as the log grows (``ledger.reports.refresh`` after each
transaction, as the server's refresher does every few seconds). Then, on the
filled log:

* ``scan``: one ``SELECT`` over every row of ``entries`` (the bytes of each body
  summed): what a report computed from the log on request would at least cost;
* each report through ``ledger.reports.build_report`` as a regulator and as the
  recycler (the route's one call, without HTTP), ``--repeat`` times: p50 and max;
* the item query (``ledger.queries.query_items``) for typical filters, p50 and p99;
* a refresh after 1,000 new entries: the cost the aggregates add per slice.

    python bench/reports.py                       # 200,000 items, about 10-20 minutes
    python bench/reports.py --items 20000         # a quick look
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _harness import p99, page_times, scratch_database, timed
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger import items, orgs, queries
from ledger.codes import make_battery_code
from ledger.commit import Tx
from ledger.lifecycle import Role
from ledger.makers import bind_maker
from ledger.records import OrgRecord
from ledger.reports import REPORTS, build_report, refresh
from ledger.service import Ledger
from ledger.store.sql import SqlStore

KINDS = ("pv_module", "wind_blade", "battery_pack")
MAKER = "BNC"  # the manufacturer code of the batteries, bound to the OEM
# Declared element content of a pack (kg) and what recycling one recovers: lithium
# carbonate (30 kg: 5.64 kg of lithium, 94% of the 6 declared) and copper.
CONTENT = {"li": "6", "co": "5", "ni": "20", "mn": "4", "cu": "15"}
RECOVERED = [
    {"material": "lithium carbonate", "mass_kg": "30"},
    {"material": "copper", "mass_kg": "14.5"},
]
GOAL_REPORT_MS = 200.0
GOAL_QUERY_P99_MS = 20.0


def _org(ledger: Ledger, actor: OrgRecord | None, name: str, role: Role, region: str) -> OrgRecord:
    def create(tx: Tx) -> orgs.Created:
        return orgs.create_org(tx, actor, name, role, region)

    return ledger.write(create).org


def _registration(n: int) -> dict[str, Any]:
    kind = KINDS[n % 3]
    if kind != "battery_pack":
        return {"kind": kind, "code": f"SN-{n:09d}", "attributes": {"mass_kg": "20"}}
    code = make_battery_code(MAKER, "P", "B", "01", "A1B2C3D", date(2021, 3, 4), n + 1)
    return {"kind": kind, "code": code, "attributes": {"mass_kg": "400", "materials": CONTENT}}


def _events(n: int, item: str, recycler: str) -> list[tuple[str, dict[str, Any]]]:
    """The life of item number ``n`` after its registration: 1 to 6 events."""
    battery = KINDS[n % 3] == "battery_pack"
    mass = "400" if battery else "19.5"
    recovered = RECOVERED if battery else [{"material": "glass", "mass_kg": "12.1"}]
    life: list[tuple[str, dict[str, Any]]] = [("installed", {"site": f"farm-{n % 97}"})]
    steps: list[tuple[int, str, dict[str, Any]]] = [
        (8, "retired", {"reason": "end of life"}),
        (7, "transferred", {"to_org": recycler}),
        (6, "collected", {"site": "dock", "mass_kg": mass}),
        (4, "assessed", {"soh_pct": str(40 + n % 50), "grade": "recycle"}),
        (
            3,
            "recycled",
            {"input_mass_kg": mass, "process": "hydrometallurgy", "recovered": recovered},
        ),
    ]
    life += [(t, d) for below, t, d in steps if n % 10 < below]
    return [(t, {"item": item, "type": t, "data": d}) for t, d in life]


def _fill(ledger: Ledger, count: int, bar: Progress) -> dict[str, OrgRecord]:
    admin = _org(ledger, None, "admin", Role.ADMIN, "CN")
    cast = {
        name: _org(ledger, admin, name, role, region)
        for name, role, region in (
            ("oem", Role.OEM, "CN-GD"),
            ("recycler", Role.RECYCLER, "CN-JS"),
            ("reg", Role.REGULATOR, "CN"),
        )
    }
    oem, recycler = cast["oem"], cast["recycler"]
    ledger.write(lambda tx: bind_maker(tx, admin, {"code": MAKER, "org": oem.id}))
    task = bar.add_task("items through their lives", total=count)
    for start in range(0, count, 1000):
        numbers = range(start, min(count, start + 1000))
        lines = [_registration(n) for n in numbers]

        def register(tx: Tx, lines: list[dict[str, Any]] = lines) -> items.Registered:
            return items.register_many(tx, oem, lines)

        ids = [r.item for r in ledger.write(register).results if r.item is not None]
        lives = [_events(n, i, recycler.id) for n, i in zip(numbers, ids, strict=True)]
        for step in range(6):
            by_oem = [life[step][1] for life in lives if len(life) > step]
            mine = [e for e in by_oem if e["type"] in ("installed", "retired", "transferred")]
            theirs = [e for e in by_oem if e not in mine]
            for actor, events in ((oem, mine), (recycler, theirs)):
                if events:

                    def record(
                        tx: Tx, actor: OrgRecord = actor, events: list[dict[str, Any]] = events
                    ) -> items.Recorded:
                        return items.record_many(tx, actor, events)

                    ledger.write(record)
        refresh(ledger.store)
        bar.update(task, completed=numbers.stop)
    return cast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7, help="timings of each report")
    parser.add_argument("--query-repeat", type=int, default=200, help="pages of each item query")
    parser.add_argument("--backend", default="postgresql", choices=["postgresql", "sqlite"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.backend, Path(tmp)) as url:
        store = SqlStore(url)
        store.migrate()
        ledger = Ledger(store, clock=lambda: datetime.now(UTC))
        began = time.perf_counter()
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
        ) as bar:
            cast = _fill(ledger, args.items, bar)
        with store.reader() as r:
            size = r.size()
        filled = time.perf_counter() - began
        print(f"{args.backend}: {args.items:,} items, {size:,} entries in {filled:.0f} s")
        if args.backend == "postgresql":
            with store.engine.connect() as conn:
                conn.execute(sa.text("ANALYZE"))

        def scan() -> None:
            with store.engine.connect() as conn:
                conn.execute(sa.text("SELECT sum(length(body)) FROM entries")).scalar()

        scans = timed(scan, 3)
        print(
            f"  full scan of entries          p50 {statistics.median(scans):8.1f} ms (the baseline)"
        )
        now = datetime.now(UTC)
        misses = 0
        for caller_name in ("reg", "recycler"):
            caller = cast[caller_name]
            for name in REPORTS:
                took = timed(partial(build_report, store, name, caller, now), args.repeat)
                rows = len(build_report(store, name, caller, now).rows)
                verdict = "ok" if took[-1] < GOAL_REPORT_MS else "MISS"
                misses += verdict == "MISS"
                print(
                    f"  report {name:12} as {caller_name:8}  p50 {statistics.median(took):8.1f} ms"
                    f"  max {took[-1]:8.1f} ms  ({rows} rows; {took[-1] / scans[1]:.3f} of a scan)"
                    f"  {verdict}"
                )
        cases = {
            "regulator, no filter": (cast["reg"], queries.ItemFilters()),
            "regulator, kind+state": (
                cast["reg"],
                queries.ItemFilters(kind="battery_pack", state="recycled"),
            ),
            "recycler, held or holds": (cast["recycler"], queries.ItemFilters()),
            "regulator, state": (cast["reg"], queries.ItemFilters(state="assessed")),
            "oem, holder=recycler": (cast["oem"], queries.ItemFilters(holder=cast["recycler"].id)),
        }
        for name, (caller, f) in cases.items():
            took = page_times(store, caller, f, args.query_repeat)
            verdict = "ok" if p99(took) < GOAL_QUERY_P99_MS else "MISS"
            misses += verdict == "MISS"
            print(
                f"  items: {name:26} p50 {statistics.median(took):7.1f} ms"
                f"  p99 {p99(took):7.1f} ms  {verdict}"
            )

        def extra() -> None:
            lines = [
                {"kind": "pv_module", "code": f"EXTRA-{time.time_ns()}-{n}", "attributes": {}}
                for n in range(1000)
            ]
            ledger.write(lambda tx: items.register_many(tx, cast["oem"], lines))
            t0 = time.perf_counter()
            refresh(store)
            extra_ms.append((time.perf_counter() - t0) * 1000)

        extra_ms: list[float] = []
        for _ in range(3):
            extra()
        print(f"  refresh after 1,000 new entries: p50 {statistics.median(extra_ms):.0f} ms")
        print(f"  load average: {os.getloadavg()[0]:.2f}; goals missed: {misses}")
        store.dispose()


if __name__ == "__main__":
    main()
