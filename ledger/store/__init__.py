"""Storage: the contract (``base``) and its implementations (``sql``, ``memory``).

``ledger.store.base`` states what the ledger asks of a store as Protocols; the
SQL store (SQLite and PostgreSQL, with its tables and migrations) and the
in-memory store both satisfy it, as ``tests/contract`` checks.
"""

from ledger.store.base import (
    LogReader,
    LogWriter,
    ProjectionReader,
    ProjectionWriter,
    Reader,
    Store,
    Writer,
)

__all__ = [
    "LogReader",
    "LogWriter",
    "ProjectionReader",
    "ProjectionWriter",
    "Reader",
    "Store",
    "Writer",
]
