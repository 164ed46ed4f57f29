"""A registration's code is checked before it queues, and the unique index still decides."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import pytest

from api.bootstrap import create_admin
from ledger import items, orgs
from ledger.errors import DuplicateError
from ledger.lifecycle import Role
from ledger.service import Ledger
from ledger.store.sql import SqlStore
from ledger.verify import verify_log


def clock() -> datetime:
    return datetime(2026, 12, 1, tzinfo=UTC)


RAW = {"kind": "pv_module", "code": "PV-CLAIM-1", "attributes": {"mass_kg": "22.5"}}


def test_a_taken_code_is_refused_before_the_write_and_a_raced_one_by_the_index(
    store: SqlStore,
) -> None:
    ledger = Ledger(store, clock=clock)
    admin = create_admin(ledger).org
    oem = ledger.write(lambda tx: orgs.create_org(tx, admin, "Claim OEM", Role.OEM, "CN")).org
    register = partial(items.register, actor=oem, raw=RAW)
    claims = partial(items.claims, actor=oem, raw=RAW)

    with store.lookup() as r:
        free = claims(r)
    assert free == {("pv_module", oem.id, "PV-CLAIM-1")}
    first = ledger.submit(register, items.Written, claims=claims).value
    assert first.item.code == "PV-CLAIM-1"
    with store.reader() as r:
        size = r.size()

    # Taken: refused by the check before the write queues, with the write's own message.
    with pytest.raises(DuplicateError, match="registered already by this manufacturer") as taken:
        ledger.submit(register, items.Written, claims=claims)
    assert taken.value.pointer == "/code"

    # Found free, then taken before the write ran: the unique index refuses it.
    with pytest.raises(DuplicateError):
        ledger.submit(register, items.Written, claims=lambda _r: set(free))
    with store.reader() as r:
        assert r.size() == size
    assert verify_log(store).ok

    # A body the write refuses anyway claims nothing (the write says what is wrong).
    with store.lookup() as r:
        assert items.claims(r, oem, {"kind": "pv_module"}) == set()
        assert items.claims(r, oem, ["not", "an", "object"]) == set()
        assert items.claims(r, oem, {"kind": "battery_pack", "code": "short"}) == set()
