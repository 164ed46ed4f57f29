"""Bulk registration (``ledger.items.register_many``): lines read beforehand with
no transaction (``prepare_registrations``, as a bulk request reads its next
chunk) stand or fall exactly as lines read under the chain lock, and a refused
line leaves nothing behind, its code included."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.bootstrap import create_admin
from ledger import items, orgs
from ledger.errors import LedgerError
from ledger.lifecycle import Role
from ledger.records import OrgRecord
from ledger.service import Ledger
from ledger.store.sql import SqlStore
from ledger.verify import verify_log


def clock() -> datetime:
    return datetime(2026, 12, 2, tzinfo=UTC)


def pv(code: Any, **extra: Any) -> dict[str, Any]:
    return {"kind": "pv_module", "code": code, **extra}


UNKNOWN = "itm_01JD8Z3K5V7W9XQRSTABCDEFGH"
LINES: list[Any] = [
    pv("PV-ok-1"),
    pv("PV bad", parent=UNKNOWN),  # the parent is looked for before the code
    pv("PV bad"),
    pv("PV-ok-1"),  # taken by the first line
    {"kind": "cassette", "code": "C-1"},
    pv(""),
    ["not", "an", "object"],
    pv("PV-late", attributes={"production_date": "2999-01-01"}),
    pv("PV-late"),  # the line before was refused: its code is free
    {"kind": "battery_pack", "code": "NHY" + "X" * 21},
    pv("PV-ok-2", attributes={"mass_kg": "22.5", "materials": {"cu": "30"}}),
]


def outcome(results: items.Registered) -> list[tuple[Any, ...]]:
    """Each line's refusal (kind, message, pointer, rule), or its code if registered."""
    shown: list[tuple[Any, ...]] = []
    for line in results.results:
        error = line.error
        if error is None:
            shown.append((line.line, "registered", line.code))
        else:
            assert isinstance(error, LedgerError)
            shown.append((line.line, type(error).__name__, str(error), error.pointer))
    return shown


def test_prepared_lines_are_refused_as_lines_read_under_the_lock(store: SqlStore) -> None:
    ledger = Ledger(store, clock=clock)
    admin = create_admin(ledger).org

    def oem(name: str) -> OrgRecord:
        return ledger.write(lambda tx: orgs.create_org(tx, admin, name, Role.OEM, "CN")).org

    # PV serials are unique per manufacturer: each OEM registers the same lines.
    raw, prepared = oem("Raw OEM"), oem("Prepared OEM")
    as_sent = ledger.write(lambda tx: items.register_many(tx, raw, LINES))
    read_before = items.prepare_registrations(LINES)
    assert all(isinstance(v, items.ReadRegistration | LedgerError) for v in read_before)
    as_read = ledger.write(lambda tx: items.register_many(tx, prepared, read_before))

    assert outcome(as_read) == outcome(as_sent)
    shown = {line[0]: line[1:] for line in outcome(as_sent)}
    assert shown[0] == ("registered", "PV-ok-1")
    assert shown[1][0] == "NotFoundError"
    assert shown[1][2] == "/parent"
    assert shown[2][0] == "InvalidCodeError"
    assert shown[2][2] == "/code"
    assert shown[3][0] == "DuplicateError"
    assert shown[7][0] == "ImplausibleError"
    assert shown[8] == ("registered", "PV-late")
    assert shown[9][0] == "InvalidCodeError"
    assert shown[10][0] == "ImplausibleError"
    assert as_sent.accepted == as_read.accepted == 2
    assert verify_log(store).ok


def test_a_chunk_read_twice_is_registered_once(store: SqlStore) -> None:
    """A batch that fails as a whole runs each write again alone: lines read
    beforehand can be used again, and give the same refusals."""
    ledger = Ledger(store, clock=clock)
    admin = create_admin(ledger).org
    oem = ledger.write(lambda tx: orgs.create_org(tx, admin, "OEM", Role.OEM, "CN")).org
    read = items.prepare_registrations([pv("PV-1"), pv("PV x")])
    first = ledger.write(lambda tx: items.register_many(tx, oem, read))
    again = ledger.write(lambda tx: items.register_many(tx, oem, read))
    assert [r.error is None for r in first.results] == [True, False]
    assert [type(r.error).__name__ for r in again.results] == [
        "DuplicateError",
        "InvalidCodeError",
    ]
    assert outcome(again)[1] == outcome(first)[1]
