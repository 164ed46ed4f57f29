"""Database engines for SQLite (the embedded default) and PostgreSQL.

Owns connection settings that the ledger's guarantees rest on: SQLite runs in
WAL mode with ``synchronous=FULL`` (an acknowledged entry survives a power
cut) and writers take the database lock up front (``BEGIN IMMEDIATE``), so
two processes never read the same chain head; PostgreSQL writers take a
transaction-scoped advisory lock for the same reason. A SQLite database file
is created 0600 before SQLite opens it (SQLite gives its ``-wal`` and ``-shm``
files the same mode), in a folder created 0700: key hashes, sealed answers and
sessions are no other local user's to read or replace.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

# The write option a Connection carries when it must hold the chain head.
WRITE_OPTION = "retrace_write"
# Key of the PostgreSQL advisory lock that serializes appends (any constant
# works as long as every writer uses the same one): "RTRC" in ASCII.
CHAIN_LOCK_KEY = 0x52545243
# Key of the advisory lock that serializes refreshes of the report aggregates
# (``ledger.store.sql_reports``): "RTRR".
REPORT_LOCK_KEY = 0x52545252


def normalize_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs; leave others as they are."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def sqlite_folder(url: str) -> Path | None:
    """The folder a SQLite file database lives in (None for other databases)."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:":
        return None
    return Path(database).expanduser().parent


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` and any missing parent, each 0700 (existing ones stay as they are)."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)


def _create_private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 unless it exists (SQLite opens an empty file as a
    new database). A missing folder is left to SQLite to report."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except (FileExistsError, FileNotFoundError):
        return
    try:
        os.fchmod(fd, 0o600)  # exactly, whatever the umask took away
    finally:
        os.close(fd)


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for ``url`` with the ledger's connection settings (connects lazily)."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        _configure_sqlite(engine)
        folder = sqlite_folder(url)
        if folder is not None and "uri" not in parsed.query:
            path = folder / Path(str(parsed.database)).expanduser().name

            @event.listens_for(engine, "do_connect")
            def _private(_dialect: Any, _record: Any, _args: Any, _params: Any) -> None:
                _create_private_file(path)

        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size)
    _ping_after_idle(engine)
    return engine


# A pooled connection unused for longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 1.0


def _ping_after_idle(engine: Engine) -> None:
    """Ping a pooled PostgreSQL connection only when it has sat idle.

    A ping on every checkout (``pool_pre_ping``) is a round trip on every
    request, a third of a warm read's time. A connection back in the pool a
    moment ago is as alive as a ping would show; one idle for a while may have
    outlived a server restart, so it is pinged, and a dead one is replaced
    before anyone uses it. A connection that dies while in use fails that one
    request (503) and leaves the pool.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            # The dialect's ping leaves the connection as it found it (no
            # transaction open, autocommit as it was).
            engine.dialect.do_ping(dbapi_conn)
        except psycopg.Error as exc:
            raise DisconnectionError(f"pooled connection is dead: {exc}") from exc


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is deferred).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
