"""The group commit: concurrent writes of a process share transactions.

A leader takes the queue once its transaction holds the chain, so the writes that
queued while another writer (another process, on PostgreSQL) held it all go into
one commit; a refusal undoes only its own write; every writer is answered only
after the commit's callback ran (read-your-writes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from ledger import orgs
from ledger.chain import Entry
from ledger.commit import GroupCommit, Tx
from ledger.errors import ConflictError, LedgerError
from ledger.ids import IdSource
from ledger.lifecycle import Role
from ledger.store.base import Store
from ledger.store.memory import MemoryStore
from ledger.store.sql import SqlStore
from ledger.verify import verify_log

WRITERS = 6


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def any_store(request: pytest.FixtureRequest, backend: str) -> Store:
    if backend == "memory":
        return MemoryStore()
    found: SqlStore = request.getfixturevalue("store")  # SQLite or PostgreSQL
    return found


def _group(store: Store, committed: list[list[Entry]]) -> GroupCommit:
    return GroupCommit(store, lambda: datetime.now(UTC), IdSource(), on_commit=committed.append)


def _make_org(name: str) -> Callable[[Tx], str]:
    def write(tx: Tx) -> str:
        return orgs.create_org(tx, None, name, Role.OEM, "CN").org.id

    return write


def _queued(group: GroupCommit, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(group._queue) < count:  # the test waits for the queue to fill
        assert time.monotonic() < deadline, "the writers did not queue"
        time.sleep(0.005)


def _run_all(
    group: GroupCommit, writes: list[Callable[[Tx], str]]
) -> tuple[list[threading.Thread], dict[int, str | BaseException]]:
    results: dict[int, str | BaseException] = {}

    def run(n: int) -> None:
        try:
            results[n] = group.run(writes[n])
        except LedgerError as exc:
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(writes))]
    for thread in threads:
        thread.start()
    return threads, results


def test_writes_queued_while_the_chain_is_held_share_one_commit(any_store: Store) -> None:
    committed: list[list[Entry]] = []
    group = _group(any_store, committed)
    with any_store.writer():  # another writer holds the chain
        threads, results = _run_all(group, [_make_org(f"OEM {n}") for n in range(WRITERS)])
        _queued(group, WRITERS)  # the leader waits for the chain, its own write still queued
        time.sleep(0.05)
    for thread in threads:
        thread.join(10)
    assert len(committed) == 1
    made = [e for e in committed[0] if e.type == "org_created"]
    assert len(made) == len(results) == WRITERS
    assert all(isinstance(r, str) for r in results.values())
    assert verify_log(any_store).ok


def test_a_refused_write_in_a_batch_undoes_only_itself(any_store: Store) -> None:
    committed: list[list[Entry]] = []
    group = _group(any_store, committed)
    names = ["OEM A", "OEM B", "OEM A", "OEM C"]  # the second "OEM A" is refused
    with any_store.writer():
        threads, results = _run_all(group, [_make_org(name) for name in names])
        _queued(group, len(names))
        time.sleep(0.05)
    for thread in threads:
        thread.join(10)
    refused = [r for r in results.values() if isinstance(r, BaseException)]
    assert len(refused) == 1
    assert isinstance(refused[0], ConflictError)
    assert [sum(e.type == "org_created" for e in batch) for batch in committed] == [3]
    assert verify_log(any_store).ok


def test_every_writer_is_answered_after_the_commit_callback() -> None:
    store = MemoryStore()
    called = threading.Event()
    saw: list[bool] = []

    def on_commit(entries: list[Entry]) -> None:
        time.sleep(0.05)
        if entries:
            called.set()

    group = GroupCommit(store, lambda: datetime.now(UTC), IdSource(), on_commit=on_commit)

    def write(n: int) -> None:
        group.run(_make_org(f"OEM {n}"))
        saw.append(called.is_set())

    with store.writer():
        threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
        for thread in threads:
            thread.start()
        _queued(group, WRITERS)
    for thread in threads:
        thread.join(10)
    assert saw == [True] * WRITERS


def test_a_failing_callback_leaves_no_writer_waiting() -> None:
    store = MemoryStore()
    calls: list[int] = []

    def on_commit(entries: list[Entry]) -> None:
        calls.append(len(entries))
        if len(calls) == 1:
            raise RuntimeError("the callback failed")

    group = GroupCommit(store, lambda: datetime.now(UTC), IdSource(), on_commit=on_commit)
    with pytest.raises(RuntimeError):
        group.run(_make_org("OEM 1"))
    assert group.run(_make_org("OEM 2"))
    assert calls == [2, 2]  # an org and its first key
