"""The store under contract: every test in this directory runs on each implementation.

``backend`` here overrides the one of ``tests/conftest.py`` (SQLite and
PostgreSQL) with a third value, ``memory``, so the ids read ``[memory]``,
``[sqlite]``, ``[postgresql]``. The SQL stores get their fresh migrated
database from ``tests/conftest.py``'s ``database_url`` (requested only for them:
the memory store needs none); without PostgreSQL its tests skip, except in CI.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.store.base import Store
from ledger.store.memory import MemoryStore
from ledger.store.sql import SqlStore

STORES = ["memory", "sqlite", "postgresql"]


def memory_store() -> Store:
    """A ``MemoryStore`` as a ``Store``: mypy checks it satisfies the Protocol."""
    return MemoryStore()


def sql_store(url: str) -> Store:
    """A ``SqlStore`` as a ``Store``: mypy checks it satisfies the Protocol."""
    return SqlStore(url)


@pytest.fixture(params=STORES)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def contract_store(backend: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """An empty store of ``backend``, disposed of after the test."""
    if backend == "memory":
        store = memory_store()
    else:
        store = sql_store(str(request.getfixturevalue("database_url")))
    yield store
    store.dispose()
