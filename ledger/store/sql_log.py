"""The log on SQL: entries and the perfect Merkle subtrees they complete.

Owns the ``entries`` and ``tree_nodes`` statements of ``ledger.store.sql``: the
head, range reads, the entries of many items at once, and ``append`` at an
expected size, which stores the entries and the subtrees they complete in the
caller's transaction. There is no update and no delete (the tables refuse both
by trigger as well). Also what every SQL module shares: ``insert_rows`` to
write many rows (``insert_tuples`` when they are made as tuples; on PostgreSQL
by COPY in binary), ``among`` and ``batches`` to read by many keys.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError

from hashing import (
    HASH_SIZE,
    NodeId,
    TileId,
    new_perfect_nodes,
    nodes_needed_for_append,
    tile_rows,
    tiles_completed,
)
from ledger.chain import Entry, StoredEntry
from ledger.errors import ChainIntegrityError, ConcurrentAppendError
from ledger.store.nodes import NodeMemo
from ledger.store.sql_together import Held
from ledger.store.tables import EntryRow, TreeNodeRow, TreeTileRow

_entries = EntryRow.__table__  # type: ignore[attr-defined]
_nodes = TreeNodeRow.__table__  # type: ignore[attr-defined]
_tiles = TreeTileRow.__table__  # type: ignore[attr-defined]
# The columns of the rows ``LogAppends.append`` writes, in their tuples' order.
_ENTRY = ("seq", "hash", "ts", "actor", "item", "type", "body")
_NODE = ("level", "idx", "hash")

DIALECTS = ("sqlite", "postgresql")
# SQLite: the values of one IN list, each a bound parameter (well under its limit).
_IN_LIST = 500
# Fewer rows than this go as one INSERT through SQLAlchemy (``insert_rows``).
_FEW = 64


def among(column: Any, dialect: str) -> Any:
    """``column`` equal to one of the values of the parameter ``among``, one of
    ``batches``: ``= ANY`` of one array on PostgreSQL (an IN list is parsed anew
    for each length of it), an IN list elsewhere."""
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam("among", type_=ARRAY(sa.String)))
    return column.in_(sa.bindparam("among", expanding=True))


def batches(conn: Connection, values: Iterable[str]) -> list[list[str]]:
    """``values``, distinct and sorted, as the ``among`` of as few statements as
    ``conn``'s database takes: one on PostgreSQL, ``_IN_LIST`` values each elsewhere."""
    wanted = sorted(set(values))
    step = len(wanted) if conn.dialect.name == "postgresql" else _IN_LIST
    return [wanted[at : at + step] for at in range(0, len(wanted), max(step, 1))]


# The entries of many items, in seq order (``LogRows.items_entries``).
_ITEMS_ENTRIES = {
    d: sa.select(_entries).where(among(_entries.c.item, d)).order_by(_entries.c.seq)
    for d in DIALECTS
}


def insert_rows(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows in this transaction; many rows go past SQLAlchemy's per-row
    parameter processing: on PostgreSQL through COPY, on SQLite through the
    driver's own ``executemany``, each several times faster than one bind per row
    through the ORM layer (LIMITS.md, row 6). Every row has the same keys in the
    same order, and the values are the column types' own (no conversion).

    Raises:
        IntegrityError: a unique key clashes (also when COPY finds it).
    """
    if len(rows) < _FEW:
        if rows:
            conn.execute(table.insert(), list(rows))
        return
    insert_tuples(conn, table, tuple(rows[0]), [tuple(row.values()) for row in rows])


def insert_tuples(
    conn: Connection, table: sa.Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """``insert_rows`` of rows given as tuples of the values of ``columns``, so
    that a writer of many rows makes no dict for each.

    Raises:
        IntegrityError: a unique key clashes (also when COPY finds it).
    """
    if len(rows) < _FEW:
        if rows:
            conn.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    if conn.dialect.name == "sqlite":
        _sqlite_rows(conn, table, columns, rows)
        return
    statement, types = _copy_statement(table, columns)
    raw = conn.connection.driver_connection
    assert raw is not None  # noqa: S101 - a connection inside a transaction is live
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            if types:
                copy.set_types(types)
            for row in rows:
                copy.write_row(row)
    except psycopg.errors.IntegrityError as exc:
        raise IntegrityError(statement, None, exc) from exc


# Column types COPY writes in PostgreSQL's binary form (subclasses before their base).
_BINARY: tuple[tuple[type[Any], str], ...] = (
    (sa.SmallInteger, "int2"),
    (sa.BigInteger, "int8"),
    (sa.Integer, "int4"),
    (sa.LargeBinary, "bytea"),
    (sa.String, "text"),
)
_COPIES: dict[tuple[str, tuple[str, ...]], tuple[str, list[str]]] = {}


def _copy_statement(table: sa.Table, columns: tuple[str, ...]) -> tuple[str, list[str]]:
    """The COPY of ``columns`` into ``table`` and the type of each column: in binary
    when every column's type is one of ``_BINARY`` (the driver writes no text, a body
    no hex, and the server parses neither), else in text, with no types."""
    key = (table.name, columns)
    found = _COPIES.get(key)
    if found is None:
        names = ", ".join(columns)
        types = [_binary_type(table.c[c].type) for c in columns]
        if all(types):
            found = (f"COPY {table.name} ({names}) FROM STDIN (FORMAT BINARY)", types)
        else:
            found = (f"COPY {table.name} ({names}) FROM STDIN", [])
        _COPIES[key] = found
    return found


def _binary_type(column_type: Any) -> str:
    if isinstance(column_type, sa.TypeDecorator):  # SQLModel's AutoString: a String
        column_type = column_type.impl_instance
    return next((name for kind, name in _BINARY if isinstance(column_type, kind)), "")


def _sqlite_rows(
    conn: Connection, table: sa.Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    marks = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - our own table and column names
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)  # noqa: S101 - the SQLite driver
    try:
        raw.executemany(statement, rows)
    except sqlite3.IntegrityError as exc:
        raise IntegrityError(statement, None, exc) from exc


def _stored(row: Any) -> StoredEntry:
    return StoredEntry(row.seq, row.hash, bytes(row.body), row.item, row.type, row.actor)


class LogRows:
    """Reads of the log on one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def head(self) -> tuple[int, str] | None:
        """(size of the log, hash of its last entry), or None when empty."""
        row = self.conn.execute(
            sa.select(_entries.c.seq, _entries.c.hash).order_by(_entries.c.seq.desc()).limit(1)
        ).first()
        return None if row is None else (row.seq + 1, row.hash)

    def size(self) -> int:
        head = self.head()
        return 0 if head is None else head[0]

    def nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """Stored Merkle nodes by (level, index); level 0 reads the entry hashes.

        One statement for up to 200 nodes (a proof needs about 2 log2 n): the
        leaves from ``entries`` and the subtrees from ``tree_nodes``, each
        found by its primary key.
        """
        found: dict[NodeId, bytes] = {}
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), 200):
            chunk = wanted[start : start + 200]
            leaves = [i for level, i in chunk if level == 0]
            inner = [(level, i) for level, i in chunk if level > 0]
            params: dict[str, int] = {}
            parts, with_ = [], ""
            if leaves:
                marks = ", ".join(f":s{n}" for n in range(len(leaves)))
                params.update({f"s{n}": i for n, i in enumerate(leaves)})
                parts.append(
                    "SELECT 0 AS level, seq AS idx, hash AS hex, NULL AS hash "  # noqa: S608
                    f"FROM entries WHERE seq IN ({marks})"
                )
            if inner:
                # Join a VALUES list of the wanted ids: both databases then look each one
                # up by the primary key, where a row-value IN makes SQLite scan the table.
                values = ", ".join(f"(:l{n}, :i{n})" for n in range(len(inner)))
                for n, (level, i) in enumerate(inner):
                    params[f"l{n}"], params[f"i{n}"] = level, i
                with_ = f"WITH wanted(level, idx) AS (VALUES {values}) "
                parts.append(
                    "SELECT t.level, t.idx, NULL, t.hash FROM wanted JOIN tree_nodes t "
                    "ON t.level = wanted.level AND t.idx = wanted.idx"
                )
            rows = self.conn.execute(sa.text(with_ + " UNION ALL ".join(parts)), params)
            for level, index, hex_hash, node in rows:
                found[(level, index)] = bytes.fromhex(hex_hash) if level == 0 else bytes(node)
        return found

    def tiles(self, ids: Sequence[TileId]) -> dict[TileId, bytes]:
        """Stored complete tiles by (tile level, index), in one statement."""
        if not ids:
            return {}
        wanted = sorted(set(ids))
        values = ", ".join(f"(:l{n}, :i{n})" for n in range(len(wanted)))
        params: dict[str, int] = {}
        for n, (level, index) in enumerate(wanted):
            params[f"l{n}"], params[f"i{n}"] = level, index
        rows = self.conn.execute(
            sa.text(
                f"WITH wanted(level, idx) AS (VALUES {values}) "  # noqa: S608 - marks only
                "SELECT t.level, t.idx, t.hashes FROM wanted JOIN tree_tiles t "
                "ON t.level = wanted.level AND t.idx = wanted.idx"
            ),
            params,
        )
        return {(level, index): bytes(hashes) for level, index, hashes in rows}

    def node_range(self, level: int, start: int, count: int) -> list[bytes]:
        """The stored nodes ``(level, start) … (level, start + count - 1)`` in order."""
        if level == 0:
            rows = self.conn.execute(
                sa.select(_entries.c.hash)
                .where(_entries.c.seq >= start, _entries.c.seq < start + count)
                .order_by(_entries.c.seq)
            )
            return [bytes.fromhex(h) for (h,) in rows]
        rows = self.conn.execute(
            sa.select(_nodes.c.hash)
            .where(_nodes.c.level == level, _nodes.c.idx >= start, _nodes.c.idx < start + count)
            .order_by(_nodes.c.idx)
        )
        return [bytes(h) for (h,) in rows]

    def entries(self, start: int, limit: int) -> list[StoredEntry]:
        rows = self.conn.execute(
            sa.select(_entries).where(_entries.c.seq >= start).order_by(_entries.c.seq).limit(limit)
        )
        return [_stored(r) for r in rows]

    def iter_entries(self, batch: int = 5000) -> Iterator[StoredEntry]:
        """Every entry in seq order, read in batches (keyset pagination)."""
        start = 0
        while True:
            chunk = self.entries(start, batch)
            yield from chunk
            if len(chunk) < batch:
                return
            start = chunk[-1].seq + 1

    def item_entries(self, item_id: str) -> list[StoredEntry]:
        rows = self.conn.execute(
            sa.select(_entries).where(_entries.c.item == item_id).order_by(_entries.c.seq)
        )
        return [_stored(r) for r in rows]

    def items_entries(self, item_ids: Sequence[str]) -> dict[str, list[StoredEntry]]:
        """The entries of each of these items that has any, in seq order: one
        statement on PostgreSQL, one per ``_IN_LIST`` items elsewhere."""
        statement = _ITEMS_ENTRIES[self.conn.dialect.name]
        found: dict[str, list[StoredEntry]] = {}
        for batch in batches(self.conn, item_ids):
            for row in self.conn.execute(statement, {"among": batch}):
                found.setdefault(row.item, []).append(_stored(row))
        return found

    def recent_entries(self, limit: int) -> list[StoredEntry]:
        rows = self.conn.execute(sa.select(_entries).order_by(_entries.c.seq.desc()).limit(limit))
        return [_stored(r) for r in rows]


class LogAppends(LogRows):
    """The log's one write, inside the transaction that holds the chain head."""

    def _writing(self) -> None:
        """Called before each write (the writer begins a pending savepoint there)."""

    # Inside ``SqlWriter.together``: the writes held until the end of the block.
    _held: list[Held] | None = None

    # The log's size as this transaction knows it. Under the write lock it moves
    # only by this transaction's appends, so once read it needs no second query.
    _size: int | None = None
    # The head read with the lock (PostgreSQL), given once to the first caller.
    _primed: tuple[tuple[int, str] | None] | None = None
    # Committed nodes of this process (the store's), and the ones this transaction made.
    memo: NodeMemo | None = None
    made: dict[NodeId, bytes] | None = None

    def head(self) -> tuple[int, str] | None:
        if self._primed is not None:
            (head,), self._primed = self._primed, None
        else:
            head = super().head()
        self._size = 0 if head is None else head[0]
        return head

    def append(self, entries: Sequence[Entry], *, expected_size: int) -> None:
        """Insert entries that continue a log of ``expected_size`` entries.

        Raises:
            ConcurrentAppendError: the head moved (a unique seq clash).
        """
        self._writing()
        if not entries:
            return
        # A log shorter than expected would otherwise take the entries with a gap
        # before them: the unique seq catches only a log that is longer.
        size = self._size if self._size is not None else self.size()
        if entries[0].seq != expected_size or size != expected_size:
            raise ConcurrentAppendError(f"entry {entries[0].seq} does not follow a log of {size}")
        node_rows, made = self._tree_rows(entries)
        tile_rows_ = [
            {"level": tile[0], "idx": tile[1], "hashes": self._tile_hashes(tile, made)}
            for tile in tiles_completed(made)
        ]
        rows = [(e.seq, e.hash, e.ts, e.actor, e.item, e.type, e.body) for e in entries]
        if self._held is not None:
            self._held += [
                Held("insert", _entries, [dict(zip(_ENTRY, r, strict=True)) for r in rows]),
                Held("insert", _nodes, [dict(zip(_NODE, r, strict=True)) for r in node_rows]),
                Held("insert", _tiles, tile_rows_),
            ]
        else:
            try:
                insert_tuples(self.conn, _entries, _ENTRY, rows)
            except IntegrityError as exc:
                raise ConcurrentAppendError(
                    f"another writer appended at seq {entries[0].seq} first"
                ) from exc
            insert_tuples(self.conn, _nodes, _NODE, node_rows)
            insert_rows(self.conn, _tiles, tile_rows_)
        self._size = expected_size + len(entries)
        if self.made is not None:
            self.made.update(made)

    def _tile_hashes(self, tile: TileId, made: dict[NodeId, bytes]) -> bytes:
        """The 256 row hashes of a tile this append completes: made here, in the
        memo, or (for the part other processes made) read in one range."""
        level, first, count = tile_rows(tile)
        memo = self.memo if self.memo is not None else NodeMemo(0)
        found = [made.get((level, first + k)) or memo.get((level, first + k)) for k in range(count)]
        gap = [k for k, h in enumerate(found) if h is None]
        if gap:
            read = self.node_range(level, first + gap[0], gap[-1] - gap[0] + 1)
            for k in gap:
                found[k] = read[k - gap[0]] if k - gap[0] < len(read) else None
        hashes = b"".join(h for h in found if h is not None)
        if len(hashes) != count * HASH_SIZE:
            raise ChainIntegrityError(f"tree level {level} lacks nodes of tile {tile}")
        return hashes

    def _tree_rows(
        self, entries: Sequence[Entry]
    ) -> tuple[list[tuple[int, int, bytes]], dict[NodeId, bytes]]:
        """The Merkle node rows the new leaves complete, and every node they make."""
        memo = self.memo if self.memo is not None else NodeMemo(0)
        needed = nodes_needed_for_append(entries[0].seq)
        known = memo.known(needed)
        missing = [wanted for wanted in needed if wanted not in known]
        if missing:
            read = self.nodes(missing)
            known.update(read)
            memo.add(read)  # read under the chain lock: committed
        made: dict[NodeId, bytes] = {}
        new_rows = []

        def get(level: int, index: int) -> bytes:
            # Past the first entry, a node left of the batch may be needed too.
            node = known.get((level, index)) or memo.get((level, index))
            if node is None:
                node = self.nodes([(level, index)])[(level, index)]
                memo.add({(level, index): node})
            return node

        for entry in entries:
            leaf = bytes.fromhex(entry.hash)
            for level, index, node in new_perfect_nodes(entry.seq, leaf, get):
                known[(level, index)] = node
                made[(level, index)] = node
                if level > 0:
                    new_rows.append((level, index, node))
        return new_rows, made
