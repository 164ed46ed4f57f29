"""The report aggregates folded a few entries at a time, while the log grows or
over a log already written, equal one fold of the whole log (the demo world: every
state and kind, second lives, corrections), though a slice passes over the items
whose parts were already worked out from their trail as it stands; a second life
is still worked out again when its origin changes."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from api.bootstrap import create_admin, utc_now
from api.cli.demo import build_demo
from ledger import items
from ledger.commit import Tx
from ledger.items import Written
from ledger.lifecycle import Role
from ledger.orgs import create_org
from ledger.records import OrgRecord
from ledger.reports import rebuild, refresh
from ledger.service import Ledger
from ledger.store.sql import SqlStore
from tests.conftest import report_aggregates


def test_folding_in_slices_equals_one_fold(store: SqlStore) -> None:
    ledger = Ledger(store, clock=utc_now)

    def fold_while_written(_done: int, _total: int) -> None:
        refresh(store, slice_size=7)

    build_demo(ledger, seed=11, progress=fold_while_written)
    with store.reader() as r:
        size = r.size()
    assert refresh(store, slice_size=7) == size
    grown = report_aggregates(store)
    assert len(grown[1]) > 1000
    assert rebuild(store, slice_size=size) == size
    assert report_aggregates(store) == grown
    assert rebuild(store, slice_size=20) == size
    assert report_aggregates(store) == grown


def test_entries_written_while_a_refresh_runs_are_folded(store: SqlStore) -> None:
    """A slice may read items with entries past the refresh's end: the next
    refresh passes over those that have not moved since, and works out again
    those that have."""
    ledger = Ledger(store, clock=utc_now)
    admin = create_admin(ledger).org
    oem = ledger.write(lambda tx: create_org(tx, admin, "oem", Role.OEM, "CN")).org
    recycler = ledger.write(lambda tx: create_org(tx, admin, "rec", Role.RECYCLER, "CN")).org
    lines = [
        {"kind": "pv_module", "code": f"PV-{n}", "attributes": {"mass_kg": "20"}} for n in range(6)
    ]
    found = ledger.write(lambda tx: items.register_many(tx, oem, lines)).results
    ids = [r.item for r in found if r.item is not None]
    steps = [
        (oem, "retired", {"reason": "end of life"}),
        (oem, "transferred", {"to_org": recycler.id}),
        (recycler, "collected", {"site": "Dock", "mass_kg": "25"}),
    ]
    pending = [(actor, item, event_type, data) for actor, event_type, data in steps for item in ids]

    def record(tx: Tx, line: tuple[OrgRecord, str, str, dict[str, Any]]) -> Written:
        return items.record_event(tx, *line)

    def write(count: int) -> None:
        for line in pending[:count]:
            ledger.write(partial(record, line=line))
        del pending[:count]

    rebuild(store, slice_size=2, progress=lambda _covered: write(2))
    assert 0 < len(pending) < len(steps) * len(ids)
    refresh(store, slice_size=2, progress=lambda _covered: write(1))
    write(len(pending))
    refresh(store, slice_size=2)
    grown = report_aggregates(store)
    rebuild(store)
    assert report_aggregates(store) == grown


def test_a_refresh_forgets_what_it_read_when_another_moves_the_mark(store: SqlStore) -> None:
    ledger = Ledger(store, clock=utc_now)
    build_demo(ledger, seed=11)
    rebuild(store)
    whole = report_aggregates(store)
    started: list[int] = []

    def start_again(_covered: int) -> None:
        # Another refresher starts the aggregates again and folds a few entries.
        if not started:
            started.append(_covered)
            with store.reports(write=True) as tables:
                tables.clear_reports()
            refresh(store, slice_size=5, budget=5)

    rebuild(store, slice_size=40, progress=start_again)
    assert started
    assert report_aggregates(store) == whole


def test_a_second_life_is_worked_out_again_when_its_origin_changes(store: SqlStore) -> None:
    """Its own entries unchanged, a second life's findings follow its origin's."""
    ledger = Ledger(store, clock=utc_now)
    admin = create_admin(ledger).org

    def org(name: str, role: Role) -> OrgRecord:
        return ledger.write(lambda tx: create_org(tx, admin, name, role, "CN")).org

    oem, operator = org("oem", Role.OEM), org("operator", Role.OPERATOR)
    recycler, recycler2 = org("recycler", Role.RECYCLER), org("recycler2", Role.RECYCLER)
    line = {"kind": "pv_module", "code": "PV-ORIGIN-1", "attributes": {"mass_kg": "410"}}
    origin = ledger.write(lambda tx: items.register_many(tx, oem, [line])).results[0].item
    assert origin is not None

    def record(actor: OrgRecord, item: str, event_type: str, data: dict[str, Any]) -> Written:
        return ledger.write(lambda tx: items.record_event(tx, actor, item, event_type, data))

    record(oem, origin, "retired", {"reason": "end of life"})
    record(oem, origin, "transferred", {"to_org": recycler.id})
    record(recycler, origin, "collected", {"site": "Dock", "mass_kg": "410"})
    first = record(recycler, origin, "assessed", {"soh_pct": "60", "grade": "repurpose"})
    reborn = (
        record(recycler, origin, "repurposed", {"new_code": "PV-SECOND-1", "application": "pumps"})
        .created[0]
        .id
    )
    record(recycler, reborn, "transferred", {"to_org": operator.id})
    record(operator, reborn, "retired", {"reason": "pump replaced"})
    record(operator, reborn, "transferred", {"to_org": recycler2.id})
    record(recycler2, reborn, "collected", {"site": "Yard", "mass_kg": "20"})
    record(recycler2, reborn, "assessed", {"soh_pct": "85", "grade": "recycle"})
    refresh(store)
    assert _findings(store, reborn) == ["soh_rising"]

    # The origin assessed healthier after all: the second life's 85% no longer rose.
    fields = {"soh_pct": "90"}
    record(recycler, origin, "corrected", {"seq": first.entries[0].seq, "fields": fields})
    refresh(store)
    assert _findings(store, reborn) == []
    grown = report_aggregates(store)
    rebuild(store)
    assert report_aggregates(store) == grown


def _findings(store: SqlStore, item: str) -> list[str]:
    with store.reports() as tables:
        found = tables.members_of([item])
    return [json.loads(m.key)[0] for m in found if m.report == "anomaly"]
