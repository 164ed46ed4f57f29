"""Properties of the log on a real database (SQLite and PostgreSQL).

Random lives of items always verify and replay to the items table; one
changed byte anywhere in a stored entry is found at that entry; the entries
table refuses UPDATE and DELETE; a corrupted items table is found and
rebuilt from the log.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import domain, items, lifecycle, orgs
from ledger.chain import parse_entry
from ledger.domain import LIFECYCLE
from ledger.events import ItemKind
from ledger.items import Written
from ledger.lifecycle import CONTAINS, ITEM_WRITERS, Role, State
from ledger.projection import projection_differences, rebuild_projection, replay
from ledger.records import OrgRecord
from ledger.service import Ledger
from ledger.store.sql import SqlStore
from ledger.verify import verify_log
from tests.conftest import assert_ledger_sound
from tests.factories import code_for

CAST = {
    "oem": Role.OEM,
    "oem2": Role.OEM,
    "operator": Role.OPERATOR,
    "recycler": Role.RECYCLER,
    "recycler2": Role.RECYCLER,
    "regulator": Role.REGULATOR,
}
KINDS = [kind.value for kind in ItemKind]
PROPERTY = settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
# No whitespace (payload text is stripped); some outside ASCII for the JCS bytes.
WORDS = st.text(alphabet="abcXYZ-éü中🔋", min_size=1, max_size=12)


def _clock() -> Callable[[], datetime]:
    ticks = itertools.count()
    start = datetime(2026, 3, 1, tzinfo=UTC)
    return lambda: start + timedelta(milliseconds=next(ticks))


def _create_org(ledger: Ledger, name: str, role: Role) -> OrgRecord:
    return ledger.write(lambda tx: orgs.create_org(tx, None, name, role, "CN")).org


def _cast(ledger: Ledger) -> dict[str, OrgRecord]:
    """The orgs of the test, created on first use (examples share one database)."""
    out = {}
    for name, role in CAST.items():
        with ledger.store.reader() as r:
            org = r.org_by_name(name)
        out[name] = org or _create_org(ledger, name, role)
    return out


def _register(ledger: Ledger, org: OrgRecord, kind: str, parent: str | None = None) -> Written:
    raw: dict[str, Any] = {"kind": kind, "code": code_for(kind), "attributes": {"mass_kg": "12.5"}}
    if parent is not None:
        raw["parent"] = parent
    return ledger.write(lambda tx: items.register(tx, org, raw))


def _record(
    ledger: Ledger, org: OrgRecord, item_id: str, event_type: str, data: dict[str, Any]
) -> Written:
    return ledger.write(lambda tx: items.record_event(tx, org, item_id, event_type, data))


def _mass(units: int) -> str:
    """A mass in millionths of a kg as an exact decimal string."""
    return f"{units // 10**6}.{units % 10**6:06d}"


@st.composite
def _recycled(draw: st.DrawFn) -> dict[str, Any]:
    total = draw(st.integers(0, 10**12))
    parts = []
    left = total
    for _ in range(draw(st.integers(1, 4))):
        part = draw(st.integers(0, left))
        parts.append(part)
        left -= part
    return {
        "input_mass_kg": _mass(total),
        "process": draw(WORDS),
        "recovered": [{"material": draw(WORDS), "mass_kg": _mass(p)} for p in parts],
    }


def _payload(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    event_type: str,
    item: lifecycle.Item,
    cast: dict[str, OrgRecord],
) -> dict[str, Any]:
    if event_type == "installed":
        return {"vin": "LSVAU2180N2183294"} if draw(st.booleans()) else {"site": "Farm 7"}
    if event_type == "retired":
        return {"reason": draw(WORDS)}
    if event_type == "transferred":
        others = [o for o in cast.values() if o.role in ITEM_WRITERS and o.id != item.holder]
        if item.state == State.RETIRED and draw(st.booleans()):
            # lean towards the way a retired item goes, so walks reach the recyclers
            others = [o for o in others if o.role == Role.RECYCLER]
        return {"to_org": draw(st.sampled_from([o.id for o in others]))}
    if event_type == "collected":
        # At least the most a recycling input draws (10**12 units): the input may not
        # exceed the collected mass (ledger.materials.check_input_mass).
        return {"site": draw(WORDS), "mass_kg": _mass(draw(st.integers(10**12, 2 * 10**12)))}
    if event_type == "assessed":
        return {
            "soh_pct": f"{draw(st.integers(0, 1000)) / 10:.1f}",
            "grade": draw(st.sampled_from(["reuse", "repurpose", "recycle"])),
        }
    if event_type == "repurposed":
        return {"new_code": code_for(item.kind.value), "application": draw(WORDS)}
    if event_type == "dismantled":
        kinds = sorted(kind.value for kind in CONTAINS[item.kind])
        count = draw(st.integers(0, 2)) if kinds else 0
        return {
            "children": [
                {"kind": k, "code": code_for(k)}
                for k in draw(
                    st.lists(st.sampled_from(kinds or ["x"]), min_size=count, max_size=count)
                )
            ]
        }
    if event_type == "recycled":
        recycled: dict[str, Any] = draw(_recycled())
        return recycled
    assert event_type == "disposed"
    return {"method": draw(WORDS)}


def _expect(model: dict[str, tuple[str, str]], written: Written) -> None:
    """Fold a write into the expected (state, holder) of each item, from the table."""
    for entry in written.entries:
        assert entry.item is not None
        if entry.type == lifecycle.REGISTERED:
            model[entry.item] = ("registered", entry.actor)
            continue
        state, holder = model[entry.item]
        to_state = LIFECYCLE[entry.type].to_state
        model[entry.item] = (
            to_state.value if to_state else state,
            entry.data["to_org"] if entry.type == "transferred" else holder,
        )


@settings(PROPERTY, max_examples=40)
@given(data=st.data())
def test_random_lives_verify_and_replay(store: SqlStore, data: st.DataObject) -> None:
    ledger = Ledger(store, clock=_clock())
    cast = _cast(ledger)
    model: dict[str, tuple[str, str]] = {}
    for kind in data.draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=2)):
        oem = cast[data.draw(st.sampled_from(["oem", "oem2"]))]
        written = _register(ledger, oem, kind)
        _expect(model, written)
        if kind == "battery_pack" and data.draw(st.booleans()):
            _expect(model, _register(ledger, oem, "battery_module", written.item.id))
    for _ in range(data.draw(st.integers(0, 30))):
        # Registration order, not id order: ids carry randomness, and a replay of
        # the same draws must pick the same item.
        item_id = data.draw(st.sampled_from(list(model)))
        with store.reader() as r:
            item = r.item(item_id)
            # the latest entry a correction may name (a correction itself is not one)
            last = [e for e in r.item_entries(item_id) if e.type != "corrected"][-1]
        assert item is not None
        # who may record what now, and a correction of the item's last entry by its author
        may: dict[str, list[str]] = {
            "corrected": [n for n, o in cast.items() if o.id == last.actor]
        }
        for name, org in cast.items():
            for event_type in domain.allowed_events(item, org.as_actor()):
                may.setdefault(event_type, []).append(name)
        event_type = data.draw(st.sampled_from(sorted(may)))
        name = data.draw(st.sampled_from(may[event_type]))
        if event_type == "corrected":
            fields = parse_entry(last.body).data
            field = data.draw(st.sampled_from(sorted(fields)))
            # Corrected values pass the entry's own model and rules again: restate one.
            payload: dict[str, Any] = {"seq": last.seq, "fields": {field: fields[field]}}
        else:
            payload = _payload(data.draw, event_type, item, cast)
        _expect(model, _record(ledger, cast[name], item_id, event_type, payload))
    report = verify_log(ledger.store)
    assert report.ok, report.first_bad
    assert projection_differences(ledger.store) == []
    with store.reader() as r:
        for item_id, expected in model.items():
            item = r.item(item_id)
            assert item is not None
            assert (item.state.value, item.holder) == expected, item_id


# -- tampering ------------------------------------------------------------------


def _remove_guards(store: SqlStore) -> None:
    """What an attacker with database access does first."""
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            conn.execute(sa.text("ALTER TABLE entries DISABLE TRIGGER USER"))
        else:
            conn.execute(sa.text("DROP TRIGGER IF EXISTS entries_no_update"))
            conn.execute(sa.text("DROP TRIGGER IF EXISTS entries_no_delete"))


def _set(store: SqlStore, seq: int, column: str, value: bytes | str) -> None:
    assert column in {"body", "hash"}
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(f"UPDATE entries SET {column} = :v WHERE seq = :s"),  # noqa: S608 - column is one of two names
            {"v": value, "s": seq},
        )


def _populate(ledger: Ledger) -> None:
    """A small log: orgs, keys, items of each kind and some events."""
    cast = _cast(ledger)
    with ledger.store.reader() as r:
        if r.count_items():
            return
    for kind in KINDS:
        item = _register(ledger, cast["oem"], kind).item
        _record(ledger, cast["oem"], item.id, "retired", {"reason": "end of life"})
    pack = _register(ledger, cast["oem"], "battery_pack").item
    _register(ledger, cast["oem"], "battery_module", pack.id)
    _record(ledger, cast["oem"], pack.id, "transferred", {"to_org": cast["recycler"].id})


@settings(PROPERTY, max_examples=100)
@given(data=st.data())
def test_one_changed_byte_is_found_at_its_entry(store: SqlStore, data: st.DataObject) -> None:
    ledger = Ledger(store, clock=_clock())
    _populate(ledger)
    _remove_guards(store)
    with store.reader() as r:
        rows = list(r.iter_entries())
    row = rows[data.draw(st.integers(0, len(rows) - 1), label="seq")]
    column = data.draw(st.sampled_from(["body", "hash"]), label="column")
    original: bytes | str
    if column == "body":
        original = row.body
        offset = data.draw(st.integers(0, len(original) - 1), label="offset")
        new = data.draw(st.integers(0, 255).filter(lambda b: b != original[offset]), label="byte")
        tampered: bytes | str = original[:offset] + bytes([new]) + original[offset + 1 :]
    else:
        original = row.hash
        offset = data.draw(st.integers(0, len(original) - 1), label="offset")
        new_char = data.draw(
            st.sampled_from("0123456789abcdefABCDEF x").filter(lambda ch: ch != original[offset]),
            label="char",
        )
        tampered = original[:offset] + new_char + original[offset + 1 :]
    _set(store, row.seq, column, tampered)
    try:
        report = verify_log(ledger.store)
        assert report.ok is False
        assert report.first_bad is not None
        assert report.first_bad["seq"] == row.seq, report.first_bad
        assert report.size == row.seq
    finally:
        _set(store, row.seq, column, original)
    assert verify_log(ledger.store).ok


def _entry_rows(store: SqlStore) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT seq, hash, ts, actor, item, type, body FROM entries ORDER BY seq")
        )
        return [(*r[:6], bytes(r[6])) for r in rows]


def test_entries_refuse_update_and_delete(store: SqlStore) -> None:
    ledger = Ledger(store, clock=_clock())
    _populate(ledger)
    before = _entry_rows(store)
    statements = [
        "UPDATE entries SET body = body WHERE seq = 1",
        "UPDATE entries SET actor = 'org_evil' WHERE seq = 3",
        "UPDATE entries SET ts = ts",
        "DELETE FROM entries WHERE seq = (SELECT MAX(seq) FROM entries)",
        "DELETE FROM entries",
    ]
    if store.dialect == "postgresql":
        statements.append("TRUNCATE entries")
    for statement in statements:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert _entry_rows(store) == before
    assert_ledger_sound(ledger)


# -- the items projection ---------------------------------------------------------


def _item_rows(store: SqlStore) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT * FROM items ORDER BY id"))]


CORRUPTIONS: dict[str, tuple[str, str]] = {
    "state": ("UPDATE items SET state = 'recycled' WHERE id = :id", "differs in state"),
    "holder": ("UPDATE items SET holder = 'org_thief' WHERE id = :id", "differs in holder"),
    "parent": ("UPDATE items SET parent = NULL WHERE id = :id", "differs in parent"),
    "attributes": (
        'UPDATE items SET attributes = \'{"mass_kg": "1"}\' WHERE id = :id',
        "differs in attributes",
    ),
    "head": ("UPDATE items SET head_seq = 0 WHERE id = :id", "differs in head_seq"),
    "deleted": ("DELETE FROM items WHERE id = :id", "in the log but not in the items table"),
    "invented": (
        "INSERT INTO items (id, kind, code, code_scope, state, holder, manufacturer, "
        "attributes, head, head_seq, created_seq) SELECT :id || 'X', kind, code || 'X', "
        "code_scope, state, holder, manufacturer, attributes, head, head_seq, created_seq "
        "FROM items WHERE id = :id",
        "in the items table but not in the log",
    ),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupted_projection_is_found_and_rebuilt(store: SqlStore, corruption: str) -> None:
    ledger = Ledger(store, clock=_clock())
    _populate(ledger)
    assert projection_differences(ledger.store) == []
    rebuilt, _ = replay(ledger.store)
    with store.reader() as r:
        assert {item.id: item for item in r.iter_items()} == rebuilt
        module = next(item for item in r.iter_items() if item.parent is not None)
    good = _item_rows(store)
    statement, difference = CORRUPTIONS[corruption]
    with store.engine.begin() as conn:
        conn.execute(sa.text(statement), {"id": module.id})
    victim = module.id + ("X" if corruption == "invented" else "")
    assert projection_differences(ledger.store) == [f"{victim}: {difference}"]
    assert rebuild_projection(ledger.store) == len(good)
    assert projection_differences(ledger.store) == []
    assert _item_rows(store) == good
    assert_ledger_sound(ledger)
