"""The projection on SQL: items, orgs, keys, checkpoints, witnesses, answers.

Owns the statements of ``ledger.store.sql`` for everything beside the log, but
the writes of items (``sql_items``). Rows become the ledger's own values
(``ledger.lifecycle.Item``, ``ledger.records``) here and nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from ledger.errors import DuplicateError
from ledger.events import ItemKind
from ledger.lifecycle import Item, Role, State
from ledger.records import CheckpointRecord, IdempotentAnswer, IssuedKey, KeyRecord, OrgRecord
from ledger.store.base import CodeKey
from ledger.store.sql_log import DIALECTS, among, batches
from ledger.store.sql_together import Held
from ledger.store.tables import (
    ApiKeyRow,
    CheckpointRow,
    CosignatureRow,
    IdempotencyRow,
    ItemRow,
    OrgRow,
    WitnessRow,
)

_items = ItemRow.__table__  # type: ignore[attr-defined]
_orgs = OrgRow.__table__  # type: ignore[attr-defined]
_keys = ApiKeyRow.__table__  # type: ignore[attr-defined]
_idem = IdempotencyRow.__table__  # type: ignore[attr-defined]
_checkpoints = CheckpointRow.__table__  # type: ignore[attr-defined]
_witnesses = WitnessRow.__table__  # type: ignore[attr-defined]
_cosigs = CosignatureRow.__table__  # type: ignore[attr-defined]

# Statements of the per-request lookups (API key, item, org, children, scans), built
# once: building and cache-keying a statement costs several times its execution.
_ITEM_BY_ID = sa.select(_items).where(_items.c.id == sa.bindparam("id"))
_ITEMS_BY_IDS = {d: sa.select(_items).where(among(_items.c.id, d)) for d in DIALECTS}
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
_CODES_IN = sa.select(_items.c.kind, _items.c.code_scope, _items.c.code).where(
    _items.c.code.in_(sa.bindparam("codes", expanding=True))
)
_CODE_ONE = sa.select(_items.c.id).where(
    (_items.c.kind == sa.bindparam("kind"))
    & (_items.c.code_scope == sa.bindparam("scope"))
    & (_items.c.code == sa.bindparam("code"))
)
# The same probe for many keys in one statement (PostgreSQL). LATERAL with LIMIT
# keeps it a nested loop of index probes whatever the statistics say; a join or
# an IN list is planned from them, and before ANALYZE reads the whole table. The
# keys go as three JSON arrays of text, which orjson writes in a fraction of the
# time the driver takes to write three arrays of text (about 3 µs a key).
_CODE_PROBES = (
    "SELECT w.kind, w.scope, w.code"
    " FROM ROWS FROM (json_array_elements_text(%s::json), json_array_elements_text(%s::json),"
    " json_array_elements_text(%s::json)) AS w(kind, scope, code)"
    " CROSS JOIN LATERAL (SELECT 1 FROM items i WHERE i.code = w.code AND i.kind = w.kind"
    " AND i.code_scope = w.scope LIMIT 1) AS hit"
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


def _checkpoint(row: Any) -> CheckpointRecord:
    return CheckpointRecord(row.size, row.root, row.note, row.created_at)


def _item(row: Any) -> Item:
    return Item(
        id=row.id,
        kind=ItemKind(row.kind),
        code=row.code,
        state=State(row.state),
        holder=row.holder,
        manufacturer=row.manufacturer,
        parent=row.parent,
        origin=row.origin,
        attributes=json.loads(row.attributes),
        head=row.head,
        head_seq=row.head_seq,
    )


class ProjectionRows:
    """Reads of the projection on one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def item(self, item_id: str) -> Item | None:
        row = self.conn.execute(_ITEM_BY_ID, {"id": item_id}).first()
        return None if row is None else _item(row)

    def items_by_ids(self, ids: Sequence[str]) -> dict[str, Item]:
        """The items among ``ids`` that exist, by id (primary-key lookups, ``batches``)."""
        found: dict[str, Item] = {}
        for batch in batches(self.conn, ids):
            rows = self.conn.execute(_ITEMS_BY_IDS[self.conn.dialect.name], {"among": batch})
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
            sa.select(_items).where(_items.c.manufacturer == org_id).order_by(_items.c.created_seq)
        )
        return [_item(r) for r in rows]

    def existing_codes(self, keys: Sequence[CodeKey]) -> set[CodeKey]:
        """Which of the (kind, code scope, code) keys are registered already.

        Each key is one probe of the unique (code, kind, code_scope) index, so
        the cost is the same at any size of the log. PostgreSQL gets the probes
        in one statement per five thousand keys.
        """
        wanted = sorted(set(keys))
        if not wanted:
            return set()
        if len(wanted) == 1:
            # One code (every single registration): one probe of the unique index.
            row = self.conn.execute(
                _CODE_ONE, dict(zip(("kind", "scope", "code"), wanted[0], strict=True))
            ).first()
            return set() if row is None else {wanted[0]}
        if self.conn.dialect.name == "postgresql":
            return self._existing_codes_probed(wanted)
        found: set[CodeKey] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self.conn.execute(_CODES_IN, {"codes": sorted({code for _, _, code in chunk})})
            found.update((r.kind, r.code_scope, r.code) for r in rows)
        return found & set(wanted)

    def _existing_codes_probed(self, wanted: list[CodeKey]) -> set[CodeKey]:
        raw = self.conn.connection.driver_connection
        assert raw is not None  # noqa: S101 - a connection inside a transaction is live
        found: set[CodeKey] = set()
        with raw.cursor() as cursor:
            for start in range(0, len(wanted), 5000):
                columns = zip(*wanted[start : start + 5000], strict=True)
                cursor.execute(_CODE_PROBES, [orjson.dumps(c).decode() for c in columns])
                found.update(cursor.fetchall())
        return found

    def children(self, item_id: str) -> list[str]:
        rows = self.conn.execute(_CHILDREN, {"parent": item_id})
        return [r.id for r in rows]

    def iter_items(self) -> Iterator[Item]:
        for row in self.conn.execute(sa.select(_items).order_by(_items.c.id)):
            yield _item(row)

    def item_counts(self) -> dict[tuple[str, str], int]:
        """Number of items per (kind, state)."""
        rows = self.conn.execute(
            sa.select(_items.c.kind, _items.c.state, sa.func.count()).group_by(
                _items.c.kind, _items.c.state
            )
        )
        return {(r[0], r[1]): int(r[2]) for r in rows}

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

    def api_keys(self, org_id: str | None = None) -> list[IssuedKey]:
        query = sa.select(_keys).order_by(_keys.c.created_seq)
        if org_id is not None:
            query = query.where(_keys.c.org_id == org_id)
        rows = self.conn.execute(query)
        return [IssuedKey(r.id, r.org_id, r.created_seq, r.revoked_seq) for r in rows]

    def latest_checkpoint(self) -> CheckpointRecord | None:
        row = self.conn.execute(
            sa.select(_checkpoints).order_by(_checkpoints.c.size.desc()).limit(1)
        ).first()
        return None if row is None else _checkpoint(row)

    def checkpoint(self, size: int) -> CheckpointRecord | None:
        row = self.conn.execute(sa.select(_checkpoints).where(_checkpoints.c.size == size)).first()
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
        # The ``status`` column holds the answer's format (``IdempotentAnswer.format``).
        return IdempotentAnswer(row.fingerprint, row.status, bytes(row.response))


class ProjectionWrites(ProjectionRows):
    """Writes of the projection, in the transaction of the entries."""

    def _writing(self) -> None:
        """Called before each write (the writer begins a pending savepoint there)."""

    # Inside ``SqlWriter.together``: the writes held until the end of the block.
    _held: list[Held] | None = None

    def insert_org(self, org: OrgRecord, seq: int) -> None:
        self._writing()
        try:
            self.conn.execute(
                _orgs.insert().values(
                    id=org.id,
                    name=org.name,
                    role=org.role.value,
                    region=org.region,
                    created_seq=seq,
                )
            )
        except IntegrityError as exc:
            raise DuplicateError(
                f"an org named {org.name!r} exists already", pointer="/name"
            ) from exc

    def insert_key(self, key_id: str, org_id: str, key_hash: str, seq: int) -> None:
        self._writing()
        try:
            self.conn.execute(
                _keys.insert().values(id=key_id, org_id=org_id, key_hash=key_hash, created_seq=seq)
            )
        except IntegrityError as exc:
            raise DuplicateError(f"an API key {key_id} exists already") from exc

    def revoke_key(self, key_id: str, seq: int) -> None:
        self._writing()
        self.conn.execute(_keys.update().where(_keys.c.id == key_id).values(revoked_seq=seq))

    def save_idempotent_answer(
        self, org_id: str, key: str, answer: IdempotentAnswer, created_at: str
    ) -> None:
        self._writing()
        try:
            self.conn.execute(
                _idem.insert().values(
                    org_id=org_id,
                    key=key,
                    fingerprint=answer.fingerprint,
                    status=answer.format,
                    response=answer.sealed,
                    created_at=created_at,
                )
            )
        except IntegrityError as exc:
            raise DuplicateError(f"an answer to idempotency key {key!r} is kept already") from exc

    def insert_checkpoint(self, record: CheckpointRecord) -> None:
        self._writing()
        try:
            self.conn.execute(
                _checkpoints.insert().values(
                    size=record.size,
                    root=record.root,
                    note=record.note,
                    created_at=record.created_at,
                )
            )
        except IntegrityError as exc:
            raise DuplicateError(f"a checkpoint of size {record.size} exists already") from exc

    def insert_witness(self, name: str, org_id: str, vkey: str, created_at: str) -> None:
        self._writing()
        try:
            self.conn.execute(
                _witnesses.insert().values(
                    name=name, org_id=org_id, vkey=vkey, created_at=created_at
                )
            )
        except IntegrityError as exc:
            raise DuplicateError(f"a witness named {name!r} exists") from exc

    def save_cosignature(self, size: int, witness: str, line: str, timestamp: int) -> None:
        """Keep one cosignature per (checkpoint, witness): the newest."""
        self._writing()
        self.conn.execute(
            _cosigs.delete().where((_cosigs.c.size == size) & (_cosigs.c.witness == witness))
        )
        self.conn.execute(
            _cosigs.insert().values(size=size, witness=witness, line=line, timestamp=timestamp)
        )
