"""The SQL store: the log and its projection on SQLite or PostgreSQL.

Owns the transactions (the write one holds the chain head across processes),
the schema migrations, and the translation of database exceptions into ledger
errors (``raise ... from exc``). The statements are ``sql_log``'s (entries and
tree nodes), ``sql_items``'s (the writes of items), ``sql_sessions``'s
(passport sessions), ``sql_makers``'s (manufacturer codes), ``sql_queries``'s
(item queries), ``sql_scans``'s (scans that name a site, kept in short
transactions of their own) and ``sql_projection``'s (everything else). It knows
nothing of lifecycle rules: the ledger decides what to append; this appends it
atomically or not at all. Satisfies ``ledger.store.base.Store``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from ledger.errors import (
    ConcurrentAppendError,
    DuplicateError,
    StoreUnavailableError,
    ValidationError,
)
from ledger.site_scans import CloneFinding, SiteScan
from ledger.store.engine import (
    CHAIN_LOCK_KEY,
    WRITE_OPTION,
    make_engine,
    make_private_folder,
    sqlite_folder,
)
from ledger.store.nodes import NodeMemo
from ledger.store.sql_items import ItemWrites
from ledger.store.sql_log import LogAppends, LogRows
from ledger.store.sql_makers import MakerRows, MakerWrites
from ledger.store.sql_projection import ProjectionRows, ProjectionWrites
from ledger.store.sql_queries import QueryRows
from ledger.store.sql_reports import ReportRows, report_transaction
from ledger.store.sql_scans import ScanRows, keep_site_scan
from ledger.store.sql_sessions import SessionRows, SessionWrites
from ledger.store.sql_together import Held, statement

__all__ = ["SqlReader", "SqlStore", "SqlWriter"]

# The chain lock, then the head: two statements, one round trip (simple query protocol).
_LOCK_AND_HEAD = (
    f"SELECT pg_advisory_xact_lock({CHAIN_LOCK_KEY}); "  # noqa: S608 - a constant of ours
    "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1"
)


class SqlReader(LogRows, ProjectionRows, SessionRows, MakerRows, QueryRows, ScanRows):
    """Reads on one connection (inside one transaction, or none for a lookup)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn


class SqlReportTables(SqlReader, ReportRows):
    """The report aggregates and the log beside them, in one transaction."""


class SqlWriter(
    LogAppends, ProjectionWrites, ItemWrites, SessionWrites, MakerWrites, QueryRows, ScanRows
):
    """Writes inside the transaction that holds the chain head."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # A savepoint asked for and not yet begun, and the one begun.
    _savepoint_wanted = False
    _nested: sa.NestedTransaction | None = None

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an exception undoes only what ran inside it.

        It begins at the first write inside it. Most writes of a group commit
        only read until the batch is flushed, and so save two round trips each.
        """
        self._savepoint_wanted, self._nested = True, None
        try:
            yield
        except BaseException:
            self._end_savepoint(keep=False)
            self._size = None  # an append inside may have been undone: read it again
            raise
        self._end_savepoint(keep=True)

    def _end_savepoint(self, *, keep: bool) -> None:
        nested, self._savepoint_wanted, self._nested = self._nested, False, None
        if nested is None:
            return
        if keep:
            nested.commit()
        else:
            nested.rollback()

    def _writing(self) -> None:
        if self._savepoint_wanted and self._nested is None:
            self._nested = self.conn.begin_nested()

    def lock_chain(self) -> None:
        """Take the chain lock (PostgreSQL) and read the head in one round trip.

        Two statements in one query string: the second runs, with a snapshot of
        its own, once the first holds the lock, so it reads the head that no
        other writer can move until this transaction ends.
        """
        with self._raw().cursor() as cursor:
            cursor.execute(_LOCK_AND_HEAD)
            cursor.nextset()
            row = cursor.fetchone()
        self._primed = (None if row is None else (row[0] + 1, row[1]),)

    @contextmanager
    def together(self) -> Iterator[None]:
        """The inserts and updates inside are held and sent at the end as one
        statement (PostgreSQL: one round trip); a clash surfaces there, as the
        same errors. Elsewhere they are sent as they come."""
        if self.conn.dialect.name != "postgresql":
            yield
            return
        held: list[Held] = []
        self._held = held
        try:
            yield
        finally:
            self._held = None
        sql, params = statement(held, self.conn.dialect)
        if not sql:
            return
        try:
            with self._raw().cursor() as cursor:
                cursor.execute(sql, params)
        except psycopg.errors.UniqueViolation as exc:
            constraint = exc.diag.constraint_name or ""
            if constraint.startswith("uq_items"):
                raise DuplicateError("an item with this kind and code exists already") from exc
            raise ConcurrentAppendError("another writer appended first") from exc

    def _raw(self) -> psycopg.Connection[Any]:
        raw = self.conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)  # noqa: S101 - the PostgreSQL driver
        return raw


class SqlStore:
    """The ledger's storage on one database URL (SQLite or PostgreSQL)."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, pool_size=pool_size)
        self.dialect = self.engine.dialect.name
        self.memo = NodeMemo()

    def migrate(self) -> None:
        """Create the database's folder (SQLite; 0700) and bring the schema to the
        newest revision (Alembic)."""
        from alembic import command
        from alembic.config import Config

        folder = sqlite_folder(self.url)
        if folder is not None:
            make_private_folder(folder)
        cfg = Config()
        cfg.set_main_option("script_location", str(files("ledger.store") / "migrations"))
        with self._guard(), self.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()

    def schema_revision(self) -> str | None:
        with self._guard(), self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    @contextmanager
    def reader(self) -> Iterator[SqlReader]:
        """A read-only view in one transaction."""
        with self._guard(), self.engine.connect() as conn, conn.begin():
            yield SqlReader(conn)

    @contextmanager
    def lookup(self) -> Iterator[SqlReader]:
        """A few independent reads, each seeing the latest commit, with no transaction.

        On PostgreSQL this saves the BEGIN and COMMIT round trips of ``reader``
        (a scan's key check and item lookup need no common snapshot); SQLite's
        BEGIN costs no round trip, so there it is ``reader``.
        """
        if self.dialect != "postgresql":
            with self.reader() as r:
                yield r
            return
        with self._guard(), self.engine.connect() as conn:
            yield SqlReader(conn.execution_options(isolation_level="AUTOCOMMIT"))

    @contextmanager
    def writer(self) -> Iterator[SqlWriter]:
        """A write transaction holding the chain head; commits on success.

        Only one writer at a time, across processes: SQLite takes its write
        lock at BEGIN IMMEDIATE, PostgreSQL a transaction advisory lock. Any
        exception rolls everything back, so a failed write leaves nothing.
        """
        with self._guard(), self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            writer = SqlWriter(conn)
            writer.memo, writer.made = self.memo, {}
            with conn.begin():
                if self.dialect == "postgresql":
                    writer.lock_chain()
                yield writer
            # Committed: the nodes this transaction made may now be remembered.
            self.memo.add(writer.made)

    def record_site_scan(self, scan: SiteScan, since: str) -> CloneFinding | None:
        """Keep a scan and its finding (``sql_scans``) in a transaction of their own.

        Not the writer's: no chain lock is taken, so a scan never waits for
        appends on PostgreSQL (SQLite has one write lock, held for a moment).
        """
        with self._guard(), self.engine.connect() as conn:
            # On SQLite: BEGIN IMMEDIATE, so the read sees every scan kept before.
            conn = conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                return keep_site_scan(conn, scan, since)

    @contextmanager
    def reports(self, *, write: bool = False) -> Iterator[SqlReportTables]:
        """The report aggregates in one transaction (``ledger.store.base.ReportTables``);
        ``write``: holding their lock, never the chain's."""
        with self._guard(), report_transaction(self.engine, write=write) as conn:
            yield SqlReportTables(conn)

    def ping(self) -> None:
        with self._guard(), self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise StoreUnavailableError(f"database unavailable: {exc.orig}") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise StoreUnavailableError("database connection lost") from exc
            if "NUL (0x00)" in str(exc.orig):  # PostgreSQL text cannot hold U+0000
                raise ValidationError("text may not contain the NUL character (U+0000)") from exc
            raise
