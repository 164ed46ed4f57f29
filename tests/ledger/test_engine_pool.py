"""PostgreSQL connections in the pool: pinged only after sitting idle, and a dead one
never costs more than the one request that was using it."""

from __future__ import annotations

import psycopg
import pytest

from ledger.errors import StoreUnavailableError
from ledger.store import engine
from ledger.store.sql import SqlStore
from tests.conftest import PG_ADMIN_URL


def backend_pid(store: SqlStore) -> int:
    with store.lookup() as r:
        return int(r.conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def terminate(pid: int) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.parametrize("backend", ["postgresql"])
def test_an_idle_connection_that_died_is_replaced_before_use(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = backend_pid(store)
    terminate(first)
    monkeypatch.setattr(engine, "IDLE_PING_SECONDS", 0.0)  # every connection counts as idle
    second = backend_pid(store)
    assert second != first  # pinged, found dead, replaced: no error
    # A live connection, pinged, comes back as it was: reads and writes go on.
    assert backend_pid(store) == second
    with store.writer() as w:
        assert w.size() == 0
    with store.reader() as r:
        assert r.size() == 0
    assert backend_pid(store) == second


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_connection_back_a_moment_ago_is_not_pinged_and_a_dead_one_fails_once(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "IDLE_PING_SECONDS", 3600.0)
    first = backend_pid(store)
    assert backend_pid(store) == first  # the same connection, reused without a ping
    terminate(first)
    with pytest.raises(StoreUnavailableError):
        backend_pid(store)
    assert backend_pid(store) != first  # the pool let the dead one go
