"""Manufacturer code bindings in the ledger, over the in-memory store.

A binding is a ``maker_bound`` entry with no item; the rule it feeds refuses an
OEM's battery code whose manufacturer code is bound to another org; a replay
of the log gives the bindings back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ledger import items, makers, orgs
from ledger.errors import DuplicateError, MakerCodeError, NotFoundError, ValidationError
from ledger.lifecycle import MAKER_BOUND, MakerBinding, Role
from ledger.projection import projection_differences, rebuild_projection
from ledger.records import OrgRecord
from ledger.service import Ledger
from ledger.store.memory import MemoryStore

# GB/T 34014 packs of CAT and of NHY (2021-03-04).
CAT_PACK = "CATPB01A1B2C3DB340000001"
NHY_PACK = "NHYPB01A1B2C3DB340000002"


def _cast() -> tuple[Ledger, dict[str, OrgRecord]]:
    ledger = Ledger(MemoryStore(), clock=lambda: datetime.now(UTC))

    def create(actor: OrgRecord | None, name: str, role: Role) -> OrgRecord:
        return ledger.write(lambda tx: orgs.create_org(tx, actor, name, role, "CN")).org

    admin = create(None, "Admin", Role.ADMIN)
    cast = {"admin": admin}
    for name, role in (("oem", Role.OEM), ("oem2", Role.OEM), ("recycler", Role.RECYCLER)):
        cast[name] = create(admin, name, role)
    return ledger, cast


def _bind(ledger: Ledger, actor: OrgRecord, raw: Any) -> makers.Bound:
    return ledger.write(lambda tx: makers.bind_maker(tx, actor, raw))


def _register(ledger: Ledger, actor: OrgRecord, code: str) -> items.Written:
    raw = {"kind": "battery_pack", "code": code}
    return ledger.write(lambda tx: items.register(tx, actor, raw))


def test_a_binding_is_an_entry_without_an_item() -> None:
    ledger, cast = _cast()
    bound = _bind(ledger, cast["admin"], {"code": "CAT", "org": cast["oem"].id})
    entry = bound.entry
    assert (entry.type, entry.item, entry.item_prev, entry.actor) == (
        MAKER_BOUND,
        None,
        None,
        cast["admin"].id,
    )
    assert entry.data == {"code": "CAT", "org": cast["oem"].id}
    assert bound.binding == MakerBinding("CAT", cast["oem"].id, entry.seq)
    assert makers.list_makers(ledger.store) == [bound.binding]
    assert makers.binding_of(entry.type, entry.data, entry.seq) == bound.binding
    assert makers.binding_of("org_created", entry.data, entry.seq) is None


@pytest.mark.parametrize(
    ("raw", "error", "pointer"),
    [
        ({"code": "CAT", "org": "org_nobody"}, NotFoundError, "/org"),
        ({"code": "cat", "org": "{oem}"}, ValidationError, "/code"),
        ({"code": "CAT", "org": "{recycler}"}, ValidationError, "/org"),
        ({"code": "CAT", "org": "{oem}", "extra": 1}, ValidationError, "/extra"),
    ],
)
def test_bad_bindings_are_refused(
    raw: dict[str, Any], error: type[Exception], pointer: str
) -> None:
    ledger, cast = _cast()
    raw = {
        k: v.format(**{n: o.id for n, o in cast.items()}) if isinstance(v, str) else v
        for k, v in raw.items()
    }
    with pytest.raises(error) as refused:
        _bind(ledger, cast["admin"], raw)
    assert getattr(refused.value, "pointer", None) == pointer
    assert makers.list_makers(ledger.store) == []


def test_a_code_is_bound_once() -> None:
    ledger, cast = _cast()
    _bind(ledger, cast["admin"], {"code": "CAT", "org": cast["oem"].id})
    with pytest.raises(DuplicateError) as refused:
        _bind(ledger, cast["admin"], {"code": "CAT", "org": cast["oem2"].id})
    assert refused.value.extra["bound_to"] == cast["oem"].id


def test_an_oem_registers_only_codes_bound_to_it_or_to_nobody() -> None:
    ledger, cast = _cast()
    _bind(ledger, cast["admin"], {"code": "CAT", "org": cast["oem"].id})
    with pytest.raises(MakerCodeError) as refused:
        _register(ledger, cast["oem2"], CAT_PACK)
    assert (refused.value.pointer, refused.value.extra["rule"]) == ("/code", "maker-code-bound")
    assert refused.value.extra["bound_to"] == cast["oem"].id
    assert _register(ledger, cast["oem"], CAT_PACK).item.manufacturer == cast["oem"].id
    assert _register(ledger, cast["oem2"], NHY_PACK).item.code == NHY_PACK  # unbound


def test_a_replay_of_the_log_rebuilds_the_bindings() -> None:
    ledger, cast = _cast()
    for code, org in (("NHY", "oem2"), ("CAT", "oem")):
        _bind(ledger, cast["admin"], {"code": code, "org": cast[org].id})
    bound = makers.list_makers(ledger.store)
    assert [b.code for b in bound] == ["CAT", "NHY"]
    assert projection_differences(ledger.store) == []
    with ledger.store.writer() as w:
        w.replace_makers([])
    assert projection_differences(ledger.store) == ["manufacturer codes: 0 bound, 2 in the log"]
    rebuild_projection(ledger.store)
    assert makers.list_makers(ledger.store) == bound
    assert projection_differences(ledger.store) == []
