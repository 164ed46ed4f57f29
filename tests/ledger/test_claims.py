"""A registration's code is checked with the other writes of its batch, in one read."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa

from api.bootstrap import create_admin
from ledger import items, orgs
from ledger.chain import Entry
from ledger.errors import DuplicateError, LedgerError
from ledger.lifecycle import Role
from ledger.records import OrgRecord
from ledger.service import Ledger
from ledger.store.sql import SqlStore
from ledger.verify import verify_log


def clock() -> datetime:
    return datetime(2026, 12, 1, tzinfo=UTC)


RAW = {"kind": "pv_module", "code": "PV-CLAIM-1", "attributes": {"mass_kg": "22.5"}}


def test_a_claimed_code_is_read_from_the_body_alone() -> None:
    oem = OrgRecord(id="org_claims", name="Claim OEM", role=Role.OEM, region="CN")
    assert items.claimed_codes(oem, RAW) == {("pv_module", oem.id, "PV-CLAIM-1")}
    # A body the write refuses anyway claims nothing (the write says what is wrong).
    assert items.claimed_codes(oem, {"kind": "pv_module"}) == frozenset()
    assert items.claimed_codes(oem, ["not", "an", "object"]) == frozenset()
    assert items.claimed_codes(oem, {"kind": "battery_pack", "code": "short"}) == frozenset()


def test_a_taken_code_is_refused_and_the_log_left_as_it_was(store: SqlStore) -> None:
    ledger = Ledger(store, clock=clock)
    admin = create_admin(ledger).org
    oem = ledger.write(lambda tx: orgs.create_org(tx, admin, "Claim OEM", Role.OEM, "CN")).org
    register = partial(items.register, actor=oem, raw=RAW)
    claims = items.claimed_codes(oem, RAW)
    first = ledger.submit(register, items.Written, claims=claims).value
    assert first.item.code == "PV-CLAIM-1"
    with store.reader() as r:
        size = r.size()
    with pytest.raises(DuplicateError, match="registered already by this manufacturer") as taken:
        ledger.submit(register, items.Written, claims=claims)
    assert taken.value.pointer == "/code"
    # Claims that leave the code out: the write's own read still finds it taken.
    with pytest.raises(DuplicateError):
        ledger.submit(register, items.Written)
    with store.reader() as r:
        assert r.size() == size
    assert verify_log(store).ok


def test_a_batch_reads_its_codes_once(store: SqlStore) -> None:
    commits: list[list[Entry]] = []
    ledger = Ledger(store, clock=clock, on_commit=commits.append)
    admin = create_admin(ledger).org
    oem = ledger.write(lambda tx: orgs.create_org(tx, admin, "Batch OEM", Role.OEM, "CN")).org
    taken = {**RAW, "code": "PV-TAKEN"}
    ledger.submit(partial(items.register, actor=oem, raw=taken), items.Written)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(" ".join(statement.split()))

    # Sixteen writes queue while the chain is held elsewhere, so they share one
    # transaction: twelve new codes, two taken already, one new code claimed twice.
    wanted = [f"PV-BATCH-{n}" for n in range(12)] + ["PV-TAKEN"] * 2 + ["PV-TWICE"] * 2
    outcomes: dict[int, str] = {}

    def write(n: int, code: str) -> None:
        raw = {**RAW, "code": code}
        try:
            ledger.submit(
                partial(items.register, actor=oem, raw=raw),
                items.Written,
                claims=items.claimed_codes(oem, raw),
            )
            outcomes[n] = "ok"
        except LedgerError as exc:
            outcomes[n] = exc.code

    before = len(commits)
    threads = [threading.Thread(target=write, args=pair) for pair in enumerate(wanted)]
    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        with store.writer():
            for thread in threads:
                thread.start()
            waited = time.monotonic() + 30
            while len(ledger.commit._queue) < len(wanted) and time.monotonic() < waited:
                time.sleep(0.01)
        for thread in threads:
            thread.join()
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    assert len(commits) - before == 1
    # No write read its own code (one probe of the unique index each); the batch read
    # them all at once: an IN list on SQLite, on PostgreSQL one statement of index
    # probes sent by the driver itself (``ledger.store.sql_projection``).
    assert [q for q in statements if "items.code_scope =" in q] == []
    if store.dialect == "sqlite":
        assert len([q for q in statements if "items.code IN" in q]) == 1
    assert [outcomes[n] for n in range(12)] == ["ok"] * 12
    assert [outcomes[n] for n in (12, 13)] == ["duplicate", "duplicate"]
    assert sorted(outcomes[n] for n in (14, 15)) == ["duplicate", "ok"]
    assert verify_log(store).ok
