"""Idempotent writes on the in-memory store: a retry gives back the first result.

The kept answer is the write's own result, sealed; these tests read it back and
compare it with the first, field for field, for each kind of result.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from ledger import items, orgs
from ledger.errors import IdempotencyConflictError, ValidationError
from ledger.idempotency import Idempotency
from ledger.lifecycle import Role
from ledger.records import IdempotentAnswer, OrgRecord
from ledger.service import Ledger
from ledger.store.memory import MemoryStore

SECRET = b"s" * 32


def _ledger(secret: bytes = SECRET, store: MemoryStore | None = None) -> Ledger:
    return Ledger(store or MemoryStore(), clock=lambda: datetime.now(UTC), answer_secret=secret)


def _oem(ledger: Ledger) -> OrgRecord:
    return ledger.write(lambda tx: orgs.create_org(tx, None, "OEM", Role.OEM, "CN")).org


def test_a_retried_registration_gives_the_first_result_and_writes_nothing() -> None:
    ledger = _ledger()
    oem = _oem(ledger)
    key = Idempotency(oem.id, "k", "fingerprint")
    raw = {"kind": "pv_module", "code": "PV-1"}
    first = ledger.submit(lambda tx: items.register(tx, oem, raw), items.Written, key)
    with ledger.store.reader() as r:
        size = r.size()
    again = ledger.submit(lambda tx: items.register(tx, oem, raw), items.Written, key)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.value == first.value
    with ledger.store.reader() as r:
        assert r.size() == size


def test_a_bulk_result_with_refusals_is_given_back_with_the_same_refusals() -> None:
    ledger = _ledger()
    oem = _oem(ledger)
    unreadable = ValidationError("line 3 is not JSON", pointer="/2")
    lines = [
        {"kind": "pv_module", "code": "PV-1"},
        {"kind": "battery_pack", "code": "X"},
        unreadable,
    ]
    key = Idempotency(oem.id, "bulk", "fp")
    first = ledger.submit(lambda tx: items.register_many(tx, oem, lines), items.Registered, key)
    again = ledger.submit(lambda tx: items.register_many(tx, oem, lines), items.Registered, key)
    assert again.replayed
    assert [r.line for r in again.value.results] == [0, 1, 2]
    assert again.value.accepted == first.value.accepted == 1
    for kept, given in zip(again.value.results, first.value.results, strict=True):
        assert (kept.item, kept.code, kept.entry) == (given.item, given.code, given.entry)
        if given.error is None:
            assert kept.error is None
        else:
            assert kept.error is not None
            assert type(kept.error) is type(given.error)
            assert kept.error.describe() == given.error.describe()


def test_a_new_api_key_is_given_back_but_kept_only_sealed() -> None:
    store = MemoryStore()
    ledger = _ledger(store=store)
    admin = ledger.write(lambda tx: orgs.create_org(tx, None, "Admin", Role.ADMIN, "CN")).org
    key = Idempotency(admin.id, "org", "fp")
    first = ledger.submit(
        lambda tx: orgs.create_org(tx, admin, "Recycler", Role.RECYCLER, "CN"), orgs.Created, key
    )
    again = ledger.submit(
        lambda tx: orgs.create_org(tx, admin, "Recycler", Role.RECYCLER, "CN"), orgs.Created, key
    )
    assert again.replayed
    assert again.value.api_key == first.value.api_key
    with store.reader() as r:
        kept = r.idempotent_answer(admin.id, "org")
    assert kept is not None
    assert first.value.api_key.encode() not in kept.sealed


def test_the_same_key_for_another_request_is_refused() -> None:
    ledger = _ledger()
    oem = _oem(ledger)
    ledger.submit(
        lambda tx: items.register(tx, oem, {"kind": "pv_module", "code": "PV-1"}),
        items.Written,
        Idempotency(oem.id, "k", "one request"),
    )
    with pytest.raises(IdempotencyConflictError, match="different request"):
        ledger.submit(
            lambda tx: items.register(tx, oem, {"kind": "pv_module", "code": "PV-2"}),
            items.Written,
            Idempotency(oem.id, "k", "another request"),
        )


def test_an_answer_kept_under_another_secret_or_format_is_not_given_back() -> None:
    store = MemoryStore()
    ledger = _ledger(store=store)
    oem = _oem(ledger)
    key = Idempotency(oem.id, "k", "fp")
    raw = {"kind": "pv_module", "code": "PV-1"}
    ledger.submit(lambda tx: items.register(tx, oem, raw), items.Written, key)
    other = _ledger(b"t" * 32, store=store)
    with pytest.raises(IdempotencyConflictError, match="cannot be given again"):
        other.submit(lambda tx: items.register(tx, oem, raw), items.Written, key)
    with store.writer() as w:
        w.save_idempotent_answer(oem.id, "old", IdempotentAnswer("fp", 201, b"{}"), "now")
    with pytest.raises(IdempotencyConflictError, match="cannot be given again"):
        ledger.submit(
            lambda tx: items.register(tx, oem, raw), items.Written, Idempotency(oem.id, "old", "fp")
        )


def test_concurrent_retries_with_one_key_write_once() -> None:
    ledger = _ledger()
    oem = _oem(ledger)
    key = Idempotency(oem.id, "k", "fp")
    raw = {"kind": "pv_module", "code": "PV-1"}
    results: list[items.Written] = []
    replays: list[bool] = []

    def retry() -> None:
        outcome = ledger.submit(lambda tx: items.register(tx, oem, raw), items.Written, key)
        results.append(outcome.value)
        replays.append(outcome.replayed)

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(replays) == [False] + [True] * 7
    assert all(r == results[0] for r in results)
    with ledger.store.reader() as r:
        assert r.count_items() == 1
