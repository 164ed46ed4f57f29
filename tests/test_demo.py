"""The demo world: every state and kind, a sound log, balanced masses, working keys."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from api.bootstrap import create_admin, utc_now
from api.cli.demo import DemoWorld, build_demo, is_fresh
from ledger.chain import parse_entry
from ledger.errors import ConflictError
from ledger.events import ItemKind
from ledger.lifecycle import Role, State
from ledger.projection import projection_differences
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
