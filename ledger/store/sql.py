"""The SQL store: the log, its projections and keys on SQLite or PostgreSQL.

Owns every SQL statement the ledger runs, the write transaction that holds
the chain head, and the translation of database exceptions into ledger
errors (``raise ... from exc``). It knows nothing of lifecycle rules: the
service decides what to append; this module appends it atomically or not at
all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from hashing import NodeId, new_perfect_nodes, nodes_needed_for_append
from ledger.chain import Entry, StoredEntry
from ledger.codes import code_scope
from ledger.domain import Item, Org, Role, State
from ledger.errors import (
    ConcurrentAppendError,
    DuplicateError,
    StoreUnavailableError,
    ValidationError,
)
from ledger.events import ItemKind
from ledger.store.engine import CHAIN_LOCK_KEY, WRITE_OPTION, make_engine
from ledger.store.tables import (
    ApiKeyRow,
    CheckpointRow,
    CosignatureRow,
    EntryRow,
    IdempotencyRow,
    ItemRow,
    OrgRow,
    TreeNodeRow,
    WitnessRow,
)

_entries = EntryRow.__table__  # type: ignore[attr-defined]
_items = ItemRow.__table__  # type: ignore[attr-defined]
_orgs = OrgRow.__table__  # type: ignore[attr-defined]
_keys = ApiKeyRow.__table__  # type: ignore[attr-defined]
_idem = IdempotencyRow.__table__  # type: ignore[attr-defined]
_nodes = TreeNodeRow.__table__  # type: ignore[attr-defined]
_checkpoints = CheckpointRow.__table__  # type: ignore[attr-defined]
_witnesses = WitnessRow.__table__  # type: ignore[attr-defined]
_cosigs = CosignatureRow.__table__  # type: ignore[attr-defined]

# Statements of the per-request lookups (API key, item, org, children, scans), built
# once: building and cache-keying a statement costs several times its execution.
_ITEM_BY_ID = sa.select(_items).where(_items.c.id == sa.bindparam("id"))
_ITEMS_BY_IDS = sa.select(_items).where(_items.c.id.in_(sa.bindparam("ids", expanding=True)))
_ITEMS_BY_CODES = sa.select(_items).where(
    _items.c.kind.in_(sa.bindparam("kinds", expanding=True))
    & _items.c.code.in_(sa.bindparam("codes", expanding=True))
)
# A scan names at most two spellings of a code: a fixed-arity form of the above
# (padded by repetition) is compiled once, where expanding IN lists are rendered
# on every execution.
_FEW_KINDS, _FEW_CODES = 5, 2
_ITEMS_BY_FEW_CODES = sa.select(_items).where(
    _items.c.kind.in_([sa.bindparam(f"k{i}") for i in range(_FEW_KINDS)])
    & _items.c.code.in_([sa.bindparam(f"c{i}") for i in range(_FEW_CODES)])
)
_CHILDREN = (
    sa.select(_items.c.id).where(_items.c.parent == sa.bindparam("parent")).order_by(_items.c.id)
)
_ORG_BY_ID = sa.select(_orgs).where(_orgs.c.id == sa.bindparam("id"))
_KEY_BY_HASH = (
    sa.select(_keys, _orgs.c.name, _orgs.c.role, _orgs.c.region)
    .join(_orgs, _orgs.c.id == _keys.c.org_id)
    .where(_keys.c.key_hash == sa.bindparam("key_hash"))
)


@dataclass(frozen=True)
class OrgRecord:
    """An org with the fields the API shows."""

    id: str
    name: str
    role: Role
    region: str

    def as_actor(self) -> Org:
        return Org(self.id, self.role, self.name)


@dataclass(frozen=True)
class KeyRecord:
    """An API key row (never the key itself, only its hash)."""

    id: str
    org_id: str
    revoked: bool


@dataclass(frozen=True)
class IdempotentAnswer:
    """The first answer to a POST with an Idempotency-Key."""

    fingerprint: str
    status: int
    response: bytes


@dataclass(frozen=True)
class CheckpointRecord:
    """A signed checkpoint: size, hex root, the signed note, when."""

    size: int
    root: str
    note: str
    created_at: str


def _checkpoint(row: Any) -> CheckpointRecord:
    return CheckpointRecord(row.size, row.root, row.note, row.created_at)


def _item(row: Any) -> Item:
    return Item(
        id=row.id, kind=ItemKind(row.kind), code=row.code, state=State(row.state),
        holder=row.holder, manufacturer=row.manufacturer, parent=row.parent,
        origin=row.origin, attributes=json.loads(row.attributes), head=row.head,
        head_seq=row.head_seq,
    )


def _item_values(item: Item) -> dict[str, Any]:
    return {
        "id": item.id, "kind": item.kind.value, "code": item.code,
        "code_scope": code_scope(item.kind.value, item.manufacturer), "state": item.state.value,
        "holder": item.holder, "manufacturer": item.manufacturer, "parent": item.parent,
        "origin": item.origin, "attributes": json.dumps(item.attributes, sort_keys=True),
        "head": item.head, "head_seq": item.head_seq,
    }


def _stored(row: Any) -> StoredEntry:
    return StoredEntry(row.seq, row.hash, bytes(row.body), row.item, row.type, row.actor)


class Reader:
    """Reads on one connection (inside one transaction)."""

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
        """Stored Merkle nodes by (level, index); level 0 reads the entry hashes."""
        found: dict[NodeId, bytes] = {}
        leaves = sorted({i for level, i in ids if level == 0})
        inner = sorted({(level, i) for level, i in ids if level > 0})
        for start in range(0, len(leaves), 500):
            rows = self.conn.execute(
                sa.select(_entries.c.seq, _entries.c.hash)
                .where(_entries.c.seq.in_(leaves[start : start + 500]))
            )
            found.update(((0, r.seq), bytes.fromhex(r.hash)) for r in rows)
        for start in range(0, len(inner), 200):
            chunk = inner[start : start + 200]
            # Join a VALUES list of the wanted ids: both databases then look each one up by
            # the primary key, where a row-value IN makes SQLite scan the whole table.
            values = ", ".join(f"(:l{n}, :i{n})" for n in range(len(chunk)))
            params: dict[str, int] = {}
            for n, (level, i) in enumerate(chunk):
                params[f"l{n}"], params[f"i{n}"] = level, i
            rows = self.conn.execute(sa.text(
                f"WITH wanted(level, idx) AS (VALUES {values}) "  # noqa: S608 - placeholders only
                "SELECT t.level, t.idx, t.hash FROM wanted JOIN tree_nodes t "
                "ON t.level = wanted.level AND t.idx = wanted.idx"
            ), params)
            found.update(((r.level, r.idx), bytes(r.hash)) for r in rows)
        return found

    def entries(self, start: int, limit: int) -> list[StoredEntry]:
        rows = self.conn.execute(
            sa.select(_entries).where(_entries.c.seq >= start).order_by(_entries.c.seq)
            .limit(limit)
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

    def item(self, item_id: str) -> Item | None:
        row = self.conn.execute(_ITEM_BY_ID, {"id": item_id}).first()
        return None if row is None else _item(row)

    def item_by_code(self, code: str, kind: str | None = None) -> list[Item]:
        query = sa.select(_items).where(_items.c.code == code)
        if kind is not None:
            query = query.where(_items.c.kind == kind)
        return [_item(r) for r in self.conn.execute(query)]

    def items_by_ids(self, ids: Sequence[str]) -> dict[str, Item]:
        """The items among ``ids`` that exist, by id (primary-key lookups, 500 at a time)."""
        found: dict[str, Item] = {}
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), 500):
            rows = self.conn.execute(_ITEMS_BY_IDS, {"ids": wanted[start : start + 500]})
            found.update((r.id, _item(r)) for r in rows)
        return found

    def items_by_codes(self, codes: Sequence[str], kinds: Sequence[str]) -> list[Item]:
        """Items whose (kind, code) is in ``kinds`` x ``codes``: probes of the code index.

        The same code may belong to items of several kinds (and, for PV and
        blade serials, of several manufacturers); the caller decides among them.
        """
        found: list[Item] = []
        wanted, kind_list = sorted(set(codes)), sorted(set(kinds))
        if not wanted or not kind_list:
            return found
        if len(wanted) <= _FEW_CODES and len(kind_list) <= _FEW_KINDS:
            params = {f"k{i}": kind_list[min(i, len(kind_list) - 1)] for i in range(_FEW_KINDS)}
            params.update({f"c{i}": wanted[min(i, len(wanted) - 1)] for i in range(_FEW_CODES)})
            return [_item(r) for r in self.conn.execute(_ITEMS_BY_FEW_CODES, params)]
        for start in range(0, len(wanted), 500):
            rows = self.conn.execute(
                _ITEMS_BY_CODES, {"kinds": kind_list, "codes": wanted[start : start + 500]}
            )
            found.extend(_item(r) for r in rows)
        return found

    def items_registered_by(self, org_id: str) -> list[Item]:
        """Items whose manufacturer (the org that registered them) is ``org_id``, oldest first."""
        rows = self.conn.execute(
            sa.select(_items).where(_items.c.manufacturer == org_id)
            .order_by(_items.c.created_seq)
        )
        return [_item(r) for r in rows]

    def existing_codes(
        self, keys: Sequence[tuple[str, str, str]]
    ) -> set[tuple[str, str, str]]:
        """Which of the (kind, code scope, code) keys are registered already."""
        found: set[tuple[str, str, str]] = set()
        if len(set(keys)) == 1:
            # One code (every single registration): probe the unique index.
            kind, scope, code = keys[0]
            row = self.conn.execute(
                sa.select(_items.c.id).where(
                    (_items.c.kind == kind) & (_items.c.code_scope == scope)
                    & (_items.c.code == code)
                )
            ).first()
            return set() if row is None else {(kind, scope, code)}
        codes = sorted({code for _, _, code in keys})
        for start in range(0, len(codes), 500):
            rows = self.conn.execute(
                sa.select(_items.c.kind, _items.c.code_scope, _items.c.code).where(
                    _items.c.code.in_(codes[start : start + 500])
                )
            )
            found.update((r.kind, r.code_scope, r.code) for r in rows)
        return found & set(keys)

    def children(self, item_id: str) -> list[str]:
        rows = self.conn.execute(_CHILDREN, {"parent": item_id})
        return [r.id for r in rows]

    def iter_items(self) -> Iterator[Item]:
        for row in self.conn.execute(sa.select(_items).order_by(_items.c.id)):
            yield _item(row)

    def item_counts(self) -> dict[tuple[str, str], int]:
        """Number of items per (kind, state)."""
        rows = self.conn.execute(
            sa.select(_items.c.kind, _items.c.state, sa.func.count())
            .group_by(_items.c.kind, _items.c.state)
        )
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def recent_entries(self, limit: int) -> list[StoredEntry]:
        rows = self.conn.execute(
            sa.select(_entries).order_by(_entries.c.seq.desc()).limit(limit)
        )
        return [_stored(r) for r in rows]

    def count_items(self) -> int:
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(_items)).scalar_one())

    def org(self, org_id: str) -> OrgRecord | None:
        row = self.conn.execute(_ORG_BY_ID, {"id": org_id}).first()
        return None if row is None else OrgRecord(row.id, row.name, Role(row.role), row.region)

    def orgs(self) -> list[OrgRecord]:
        rows = self.conn.execute(sa.select(_orgs).order_by(_orgs.c.created_seq))
        return [OrgRecord(r.id, r.name, Role(r.role), r.region) for r in rows]

    def org_by_name(self, name: str) -> OrgRecord | None:
        row = self.conn.execute(sa.select(_orgs).where(_orgs.c.name == name)).first()
        return None if row is None else OrgRecord(row.id, row.name, Role(row.role), row.region)

    def key_by_hash(self, key_hash: str) -> tuple[KeyRecord, OrgRecord] | None:
        row = self.conn.execute(_KEY_BY_HASH, {"key_hash": key_hash}).first()
        if row is None:
            return None
        key = KeyRecord(row.id, row.org_id, row.revoked_seq is not None)
        return key, OrgRecord(row.org_id, row.name, Role(row.role), row.region)

    def key(self, key_id: str) -> KeyRecord | None:
        row = self.conn.execute(sa.select(_keys).where(_keys.c.id == key_id)).first()
        return None if row is None else KeyRecord(row.id, row.org_id, row.revoked_seq is not None)

    def latest_checkpoint(self) -> CheckpointRecord | None:
        row = self.conn.execute(
            sa.select(_checkpoints).order_by(_checkpoints.c.size.desc()).limit(1)
        ).first()
        return None if row is None else _checkpoint(row)

    def checkpoint(self, size: int) -> CheckpointRecord | None:
        row = self.conn.execute(
            sa.select(_checkpoints).where(_checkpoints.c.size == size)
        ).first()
        return None if row is None else _checkpoint(row)

    def checkpoints(self) -> list[CheckpointRecord]:
        rows = self.conn.execute(sa.select(_checkpoints).order_by(_checkpoints.c.size))
        return [_checkpoint(r) for r in rows]

    def cosignature_lines(self, size: int) -> list[str]:
        rows = self.conn.execute(
            sa.select(_cosigs.c.line).where(_cosigs.c.size == size).order_by(_cosigs.c.witness)
        )
        return [r.line for r in rows]

    def witness(self, name: str) -> str | None:
        row = self.conn.execute(sa.select(_witnesses).where(_witnesses.c.name == name)).first()
        return None if row is None else str(row.vkey)

    def witness_keys(self, org_id: str | None = None) -> list[str]:
        query = sa.select(_witnesses.c.vkey).order_by(_witnesses.c.name)
        if org_id is not None:
            query = query.where(_witnesses.c.org_id == org_id)
        return [r.vkey for r in self.conn.execute(query)]

    def last_cosigned_size(self, witness: str) -> int | None:
        value = self.conn.execute(
            sa.select(sa.func.max(_cosigs.c.size)).where(_cosigs.c.witness == witness)
        ).scalar()
        return None if value is None else int(value)

    def idempotent_answer(self, org_id: str, key: str) -> IdempotentAnswer | None:
        row = self.conn.execute(
            sa.select(_idem).where((_idem.c.org_id == org_id) & (_idem.c.key == key))
        ).first()
        if row is None:
            return None
        return IdempotentAnswer(row.fingerprint, row.status, bytes(row.response))


class Writer(Reader):
    """Writes inside the transaction that holds the chain head."""

    def _insert(self, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows in this transaction; on PostgreSQL many rows go through
        COPY, several times faster than one bind per row (LIMITS.md, row 6).

        Raises:
            IntegrityError: a unique key clashes (also when COPY finds it).
        """
        if not rows:
            return
        if self.conn.dialect.name != "postgresql" or len(rows) < 64:
            self.conn.execute(table.insert(), list(rows))
            return
        columns = list(rows[0])
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        raw = self.conn.connection.driver_connection
        assert raw is not None  # noqa: S101 - a connection inside a transaction is live
        try:
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityError(statement, None, exc) from exc

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an exception undoes only what ran inside it."""
        with self.conn.begin_nested():
            yield

    def append(self, entries: Sequence[Entry], *, expected_size: int) -> None:
        """Insert entries that continue a log of ``expected_size`` entries.

        Raises:
            ConcurrentAppendError: the head moved (a unique seq or hash clash).
        """
        if not entries:
            return
        if entries[0].seq != expected_size:
            raise ConcurrentAppendError(
                f"entry {entries[0].seq} does not follow a log of {expected_size}"
            )
        rows = [
            {"seq": e.seq, "hash": e.hash, "ts": e.ts, "actor": e.actor, "item": e.item,
             "type": e.type, "body": e.body}
            for e in entries
        ]
        try:
            self._insert(_entries, rows)
        except IntegrityError as exc:
            raise ConcurrentAppendError(
                f"another writer appended at seq {entries[0].seq} first"
            ) from exc
        self._extend_tree(entries)

    def _extend_tree(self, entries: Sequence[Entry]) -> None:
        """Store the Merkle nodes the new leaves complete (same transaction)."""
        known = self.nodes(nodes_needed_for_append(entries[0].seq))
        new_rows = []
        for entry in entries:
            leaf = bytes.fromhex(entry.hash)

            def get(level: int, index: int) -> bytes:
                node = known.get((level, index))
                if node is None:
                    node = self.nodes([(level, index)])[(level, index)]
                return node

            for level, index, node in new_perfect_nodes(entry.seq, leaf, get):
                known[(level, index)] = node
                if level > 0:
                    new_rows.append({"level": level, "idx": index, "hash": node})
        self._insert(_nodes, new_rows)

    def insert_items(self, items: Sequence[Item]) -> None:
        """Add new projection rows (one per ``registered`` entry).

        Raises:
            DuplicateError: a (kind, code) registered concurrently.
        """
        if not items:
            return
        rows = [{**_item_values(i), "created_seq": i.head_seq} for i in items]
        try:
            self._insert(_items, rows)
        except IntegrityError as exc:
            raise DuplicateError("an item with this kind and code exists already") from exc

    def update_item(self, item: Item) -> None:
        values = _item_values(item)
        del values["id"]
        self.conn.execute(_items.update().where(_items.c.id == item.id).values(**values))

    def update_items(self, items: Sequence[Item]) -> None:
        """Rewrite many projection rows with one prepared statement (executemany)."""
        if not items:
            return
        columns = [c for c in _item_values(items[0]) if c != "id"]
        statement = (
            _items.update().where(_items.c.id == sa.bindparam("_id"))
            .values({c: sa.bindparam(f"_{c}") for c in columns})
        )
        rows = []
        for item in items:
            values = _item_values(item)
            rows.append({f"_{c}": values[c] for c in ("id", *columns)})
        for start in range(0, len(rows), 1000):
            self.conn.execute(statement, rows[start : start + 1000])

    def insert_org(self, org: OrgRecord, seq: int) -> None:
        try:
            self.conn.execute(
                _orgs.insert().values(id=org.id, name=org.name, role=org.role.value,
                                      region=org.region, created_seq=seq)
            )
        except IntegrityError as exc:
            raise DuplicateError(f"an org named {org.name!r} exists already",
                                 pointer="/name") from exc

    def insert_key(self, key_id: str, org_id: str, key_hash: str, seq: int) -> None:
        self.conn.execute(
            _keys.insert().values(id=key_id, org_id=org_id, key_hash=key_hash, created_seq=seq)
        )

    def revoke_key(self, key_id: str, seq: int) -> None:
        self.conn.execute(_keys.update().where(_keys.c.id == key_id).values(revoked_seq=seq))

    def save_idempotent_answer(
        self, org_id: str, key: str, answer: IdempotentAnswer, created_at: str
    ) -> None:
        self.conn.execute(
            _idem.insert().values(org_id=org_id, key=key, fingerprint=answer.fingerprint,
                                  status=answer.status, response=answer.response,
                                  created_at=created_at)
        )

    def insert_checkpoint(self, record: CheckpointRecord) -> None:
        self.conn.execute(_checkpoints.insert().values(
            size=record.size, root=record.root, note=record.note, created_at=record.created_at))

    def insert_witness(self, name: str, org_id: str, vkey: str, created_at: str) -> None:
        self.conn.execute(_witnesses.insert().values(name=name, org_id=org_id, vkey=vkey,
                                                     created_at=created_at))

    def save_cosignature(self, size: int, witness: str, line: str, timestamp: int) -> None:
        """Keep one cosignature per (checkpoint, witness): the newest."""
        self.conn.execute(
            _cosigs.delete().where((_cosigs.c.size == size) & (_cosigs.c.witness == witness))
        )
        self.conn.execute(_cosigs.insert().values(size=size, witness=witness, line=line,
                                                  timestamp=timestamp))

    def replace_items(self, items: Sequence[Item], created: dict[str, int]) -> None:
        """Replace the whole projection (rebuild from the log)."""
        self.conn.execute(_items.delete())
        rows = [{**_item_values(i), "created_seq": created[i.id]} for i in items]
        for start in range(0, len(rows), 1000):
            self.conn.execute(_items.insert(), rows[start : start + 1000])


class SqlStore:
    """The ledger's storage on one database URL (SQLite or PostgreSQL)."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, pool_size=pool_size)
        self.dialect = self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic)."""
        from alembic import command
        from alembic.config import Config

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
    def reader(self) -> Iterator[Reader]:
        """A read-only view in one transaction."""
        with self._guard(), self.engine.connect() as conn, conn.begin():
            yield Reader(conn)

    @contextmanager
    def lookup(self) -> Iterator[Reader]:
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
            yield Reader(conn.execution_options(isolation_level="AUTOCOMMIT"))

    @contextmanager
    def writer(self) -> Iterator[Writer]:
        """A write transaction holding the chain head; commits on success.

        Only one writer at a time, across processes: SQLite takes its write
        lock at BEGIN IMMEDIATE, PostgreSQL a transaction advisory lock. Any
        exception rolls everything back, so a failed write leaves nothing.
        """
        with self._guard(), self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                if self.dialect == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"),
                                 {"k": CHAIN_LOCK_KEY})
                yield Writer(conn)

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
