"""The demo world: every state and kind, a sound log, balanced masses, working keys,
and something to find in each oversight report: overdue items, recovery rates on
either side of the targets, a cloned label."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from api.bootstrap import create_admin, utc_now
from api.cli.demo import DemoWorld, build_demo, is_fresh
from api.cli.demo_data import DEPOT_SITE, INTAKE_SITE
from ledger.chain import parse_entry
from ledger.errors import ConflictError
from ledger.events import ItemKind
from ledger.lifecycle import Role, State
from ledger.projection import projection_differences
from ledger.reports import build_report
from ledger.service import Ledger
from ledger.store.sql import SqlStore
from ledger.verify import verify_log
from tests.conftest import assert_ledger_sound


def _world(ledger: Ledger) -> list[tuple[str, str, str, str | None, str | None]]:
    """(kind, code, state, parent code, origin code) of every item, sorted."""
    with ledger.store.reader() as r:
        items = list(r.iter_items())
    code = {i.id: i.code for i in items}
    return sorted(
        (i.kind.value, i.code, i.state.value, code.get(i.parent or ""), code.get(i.origin or ""))
        for i in items
    )


def _check_items(ledger: Ledger, world: DemoWorld) -> None:
    rows = _world(ledger)
    assert world.items == len(rows)
    assert 300 <= world.items <= 600
    assert {state for _, _, state, _, _ in rows} == {s.value for s in State}
    assert {kind for kind, _, _, _, _ in rows} == {k.value for k in ItemKind}
    assert any(parent for *_, parent, _ in rows), "modules registered inside packs"
    assert any(origin for *_, origin in rows), "second-life items linked to their origin"


def _check_log(ledger: Ledger, world: DemoWorld) -> None:
    report = verify_log(ledger.store)
    assert report.ok, report.first_bad
    assert report.size == world.entries
    assert projection_differences(ledger.store) == []
    with ledger.store.reader() as r:
        entries = [parse_entry(row.body) for row in r.iter_entries()]
    types = [e.type for e in entries]
    assert set(types) >= {
        "org_created",
        "key_issued",
        "registered",
        "installed",
        "retired",
        "transferred",
        "collected",
        "assessed",
        "repurposed",
        "dismantled",
        "recycled",
        "disposed",
        "corrected",
    }
    assert 1 <= types.count("corrected") <= 2
    materials = set()
    for entry in (e for e in entries if e.type == "recycled"):
        recovered = [Decimal(part["mass_kg"]) for part in entry.data["recovered"]]
        assert all(m > 0 for m in recovered)
        assert sum(recovered) <= Decimal(entry.data["input_mass_kg"]), entry.seq
        materials |= {part["material"] for part in entry.data["recovered"]}
    assert {
        "lithium carbonate",
        "nickel sulphate",
        "cobalt sulphate",
        "copper",
        "aluminium",
        "glass",
        "silicon",
        "silver",
        "glass fibre",
    } <= materials


def test_demo_world(store: SqlStore) -> None:
    ledger = Ledger(store, clock=utc_now)
    world = build_demo(ledger)
    _check_items(ledger, world)
    _check_log(ledger, world)
    roles = set()
    for name, key in world.keys.items():
        org = ledger.authenticate(key)
        assert org.name == name
        roles.add(org.role)
    assert roles == set(Role)
    assert len(world.keys) == 10
    assert not is_fresh(ledger)
    with pytest.raises(ConflictError):
        build_demo(ledger)
    assert_ledger_sound(ledger)


def test_demo_reuses_an_existing_admin(store: SqlStore) -> None:
    ledger = Ledger(store, clock=utc_now)
    admin = create_admin(ledger)
    assert is_fresh(ledger)
    steps: list[tuple[int, int]] = []
    world = build_demo(ledger, progress=lambda done, total: steps.append((done, total)))
    assert admin.org.name not in world.keys
    with ledger.store.reader() as r:
        assert [o.id for o in r.orgs() if o.role == Role.ADMIN] == [admin.org.id]
        assert world.entries == r.size() - len(admin.entries)
    assert steps[-1][0] == steps[-1][1] > 1
    assert [done for done, _ in steps] == sorted(done for done, _ in steps)
    assert_ledger_sound(ledger)


def test_demo_is_the_same_for_a_seed(tmp_path: Path, sqlite_template: Path) -> None:
    worlds = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.db"
        shutil.copy(sqlite_template, path)
        store = SqlStore(f"sqlite:///{path}")
        ledger = Ledger(store, clock=utc_now)
        build_demo(ledger, seed=11)
        worlds.append(_world(ledger))
        assert_ledger_sound(ledger)
        store.dispose()
    assert worlds[0] == worlds[1]


def test_demo_world_feeds_the_oversight_reports(store: SqlStore) -> None:
    ledger = Ledger(store, clock=utc_now)
    build_demo(ledger)
    now = utc_now()

    overdue = build_report(store, "deadlines", None, now).rows
    # Retired and handed to a recycler in 2024, never collected; collected, never processed.
    assert {"collect", "process"} <= {row["rule"] for row in overdue}
    assert all(row["working_days_overdue"] > 0 for row in overdue)

    recovery = build_report(store, "recovery", None, now).rows
    china = [
        (row["element"], Decimal(row["rate"]), Decimal(t["target"]), t["met"])
        for row in recovery
        for t in row["targets"]
        if t["regime"].startswith("CN") and row["rate"] is not None
    ]
    assert {"li", "ni", "co", "mn"} <= {element for element, *_ in china}
    assert any(met for *_, met in china)
    assert any(not met for *_, met in china)
    # Just above or just below: every rate within a point of China's target.
    assert all(abs(rate - target) < 1 for _, rate, target, _ in china), china
    lithium = [rate for element, rate, _, _ in china if element == "li"]
    assert min(lithium) < 90 < max(lithium)

    anomalies = build_report(store, "anomalies", None, now).rows
    cloned = [row for row in anomalies if row["kind"] == "cloned_label"]
    assert len(cloned) == 1, anomalies
    assert DEPOT_SITE in cloned[0]["detail"]
    assert INTAKE_SITE in cloned[0]["detail"]
    with store.reader() as r:
        pack = r.item(cloned[0]["item"])
        assert pack is not None
        assert (pack.kind, pack.state) == (ItemKind.BATTERY_PACK, State.IN_SERVICE)
        assert cloned[0]["entries"] == [r.item_entries(pack.id)[0].seq]
    # Recovered never above the declared content, and every battery code bound.
    assert {row["kind"] for row in anomalies} == {"cloned_label"}
