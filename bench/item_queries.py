"""Item queries (``GET /v1/items``'s read): p50 and p99 of one page at a large log.

Fills a scratch database (SQLite and PostgreSQL, ``_harness.scratch_database``)
with ``--items`` items in-process, half of them handed to a recycler, then
times ``ledger.queries.query_items`` (the route's one call, without HTTP) for a
few typical queries, ``--repeat`` times each, every page after the first read
by the cursor of the one before.

    python bench/item_queries.py --items 100000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from _harness import p99, page_times, scratch_database

from ledger import items, orgs, queries
from ledger.commit import Tx
from ledger.lifecycle import Role
from ledger.records import OrgRecord
from ledger.service import Ledger
from ledger.store.sql import SqlStore

KINDS = ["pv_module", "wind_blade"]


def _org(ledger: Ledger, actor: OrgRecord | None, name: str, role: Role) -> OrgRecord:
    def create(tx: Tx) -> orgs.Created:
        return orgs.create_org(tx, actor, name, role, "CN")

    return ledger.write(create).org


def _fill(ledger: Ledger, count: int) -> dict[str, OrgRecord]:
    admin = _org(ledger, None, "admin", Role.ADMIN)
    cast = {
        name: _org(ledger, admin, name, role)
        for name, role in (("oem", Role.OEM), ("recycler", Role.RECYCLER), ("reg", Role.REGULATOR))
    }
    oem, recycler = cast["oem"], cast["recycler"]
    for start in range(0, count, 1000):
        lines = [
            {"kind": KINDS[n % 2], "code": f"SN-{n:09d}", "attributes": {"mass_kg": "20"}}
            for n in range(start, min(count, start + 1000))
        ]

        def register(tx: Tx, lines: list[dict[str, Any]] = lines) -> items.Registered:
            return items.register_many(tx, oem, lines)

        done = ledger.write(register)
        ids = [r.item for r in done.results if r.item is not None]
        events = [
            {"item": i, "type": "transferred", "data": {"to_org": recycler.id}} for i in ids[::2]
        ]

        def transfer(tx: Tx, events: list[dict[str, Any]] = events) -> items.Recorded:
            return items.record_many(tx, oem, events)

        ledger.write(transfer)
    return {**cast, "admin": admin}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as tmp, scratch_database(backend, Path(tmp)) as url:
            store = SqlStore(url)
            store.migrate()
            ledger = Ledger(store, clock=lambda: datetime.now(UTC))
            began = time.perf_counter()
            cast = _fill(ledger, args.items)
            print(f"{backend}: {args.items} items in {time.perf_counter() - began:.0f} s")
            today = datetime.now(UTC).date()
            cases = {
                "regulator, no filter": (cast["reg"], queries.ItemFilters()),
                "regulator, kind+state": (
                    cast["reg"],
                    queries.ItemFilters(kind="wind_blade", state="registered"),
                ),
                "recycler, held or holds": (cast["recycler"], queries.ItemFilters()),
                "regulator, code_prefix": (cast["reg"], queries.ItemFilters(code_prefix="SN-0000")),
                "regulator, since today": (cast["reg"], queries.ItemFilters(since=today)),
                "regulator, until 2000": (
                    cast["reg"],
                    queries.ItemFilters(until=date(2000, 1, 1)),
                ),
            }
            for name, (caller, f) in cases.items():
                took = page_times(store, caller, f, args.repeat)
                print(f"  {name:28} p50 {statistics.median(took):7.1f} ms  p99 {p99(took):7.1f} ms")
            store.dispose()


if __name__ == "__main__":
    main()
