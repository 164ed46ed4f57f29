"""Table models (SQLModel) shared by SQLite and PostgreSQL.

``entries`` is the log itself and is only ever inserted into (PostgreSQL and
SQLite both refuse UPDATE and DELETE on it by trigger, see the migrations).
``items`` is a projection of the log that ``rebuild`` can recompute. ``orgs``
and ``api_keys`` mirror the org and key entries of the log, so the audit
covers who was allowed to write. ``idempotency_keys`` keeps the first result
of a write made under an idempotency key, sealed (its ``status`` column holds
the format of the kept result, ``ledger.idempotency.ANSWER_FORMAT``).
``passport_sessions`` binds a browser's passport session (kept as the SHA-256
of its id) to the API key it was opened with, until it expires.
``maker_codes`` mirrors the ``maker_bound`` entries of the log: each GB/T 34014
manufacturer code and the OEM org it is bound to.
``site_scans`` keeps the scans that named a site and ``clone_findings`` the
cloned labels they revealed (``ledger.site_scans``); neither comes from the log.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel


class EntryRow(SQLModel, table=True):
    __tablename__ = "entries"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: str = Field(max_length=64)
    ts: str = Field(max_length=32)
    actor: str = Field(max_length=40)
    item: str | None = Field(default=None, max_length=40, index=True)
    type: str = Field(max_length=32)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


_HAS_PARENT = text("parent IS NOT NULL")
_HAS_ORIGIN = text("origin IS NOT NULL")


class ItemRow(SQLModel, table=True):
    __tablename__ = "items"
    __table_args__ = (
        # Code first: scans (code, some kinds) and registrations (all three) probe it.
        UniqueConstraint("code", "kind", "code_scope", name="uq_items_code_kind_scope"),
        # The page order of item queries (``ledger.store.query``), alone and
        # within the values of the filters most queries name.
        Index("ix_items_created", "created_seq", "id"),
        Index("ix_items_state_created", "state", "created_seq", "id"),
        Index("ix_items_holder_created", "holder", "created_seq", "id"),
        Index("ix_items_manufacturer_created", "manufacturer", "created_seq", "id"),
        # Only the items that have one: most have neither, and every lookup is by equality.
        Index("ix_items_parent", "parent", postgresql_where=_HAS_PARENT, sqlite_where=_HAS_PARENT),
        Index("ix_items_origin", "origin", postgresql_where=_HAS_ORIGIN, sqlite_where=_HAS_ORIGIN),
    )

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=20)
    code: str = Field(max_length=64)
    # "" for battery codes (unique per kind), the manufacturer for PV and blade serials.
    code_scope: str = Field(default="", max_length=40)
    state: str = Field(max_length=16)
    holder: str = Field(max_length=40)
    manufacturer: str = Field(max_length=40)
    parent: str | None = Field(default=None, max_length=40)
    origin: str | None = Field(default=None, max_length=40)
    attributes: str = Field(default="{}")
    head: str = Field(max_length=64)
    head_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_seq: int = Field(sa_column=Column(BigInteger, nullable=False))


class ItemCustodyRow(SQLModel, table=True):
    """An org made, holds or held the item (kept by triggers on ``items``; the
    projection's rebuild fills it again, ``ItemWrites.replace_items``)."""

    __tablename__ = "item_custody"

    org: str = Field(primary_key=True, max_length=40)
    created_seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    item: str = Field(primary_key=True, max_length=40)


class OrgRow(SQLModel, table=True):
    __tablename__ = "orgs"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200, unique=True)
    role: str = Field(max_length=16)
    region: str = Field(max_length=64)
    created_seq: int = Field(sa_column=Column(BigInteger, nullable=False))


class ApiKeyRow(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=40)
    org_id: str = Field(max_length=40, index=True)
    key_hash: str = Field(max_length=64, unique=True)
    created_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    revoked_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class IdempotencyRow(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_created", "created_at"),)

    org_id: str = Field(primary_key=True, max_length=40)
    key: str = Field(primary_key=True, max_length=200)
    fingerprint: str = Field(max_length=64)
    status: int
    response: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: str = Field(max_length=32)


class TreeNodeRow(SQLModel, table=True):
    """A perfect Merkle subtree: the hash of leaves [idx·2^level, (idx+1)·2^level).

    Level 0 (the leaves) is not stored here: it is ``entries.hash``. Rows are
    written in the same transaction as the entries that complete them, so a
    proof never reads a tree that disagrees with the log.
    """

    __tablename__ = "tree_nodes"

    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class TreeTileRow(SQLModel, table=True):
    """A complete tile of 256 hashes (``hashing.tiles``): nodes ``(8·level, 256·idx + k)``.

    Written in the transaction whose entries complete it, beside the single
    nodes of ``tree_nodes``: proofs read a few tiles where they would read
    dozens of scattered nodes.
    """

    __tablename__ = "tree_tiles"

    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hashes: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CheckpointRow(SQLModel, table=True):
    """A signed checkpoint (C2SP tlog-checkpoint note) the log published."""

    __tablename__ = "checkpoints"

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: str = Field(max_length=64)
    note: str
    created_at: str = Field(max_length=32)


class WitnessRow(SQLModel, table=True):
    """A regulator's witness key (C2SP tlog-cosignature/v1)."""

    __tablename__ = "witnesses"

    name: str = Field(primary_key=True, max_length=200)
    org_id: str = Field(max_length=40, index=True)
    vkey: str = Field(max_length=400)
    created_at: str = Field(max_length=32)


class CosignatureRow(SQLModel, table=True):
    """A witness's cosignature line on one checkpoint."""

    __tablename__ = "cosignatures"

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    witness: str = Field(primary_key=True, max_length=200)
    line: str
    timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))


class PassportSessionRow(SQLModel, table=True):
    __tablename__ = "passport_sessions"

    id_hash: str = Field(primary_key=True, max_length=64)
    key_id: str = Field(max_length=40, index=True)
    expires_at: str = Field(max_length=32, index=True)


class MakerCodeRow(SQLModel, table=True):
    """A GB/T 34014 manufacturer code bound to an OEM org by the entry ``seq``."""

    __tablename__ = "maker_codes"

    code: str = Field(primary_key=True, max_length=3)
    org_id: str = Field(max_length=40, index=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))


# BIGINT on PostgreSQL; SQLite only autoincrements an INTEGER PRIMARY KEY.
_SERIAL = BigInteger().with_variant(Integer(), "sqlite")


class SiteScanRow(SQLModel, table=True):
    """A scan that named a site and resolved to ``item``: who scanned it where, when."""

    __tablename__ = "site_scans"
    # A new scan reads the item's latest scan: one index range.
    __table_args__ = (Index("ix_site_scans_item_at", "item", "at"),)

    id: int | None = Field(
        default=None, sa_column=Column(_SERIAL, primary_key=True, autoincrement=True)
    )
    item: str = Field(max_length=40)
    site: str = Field(max_length=200)
    org_id: str = Field(max_length=40)
    at: str = Field(max_length=32)


class CloneFindingRow(SQLModel, table=True):
    """Two scans of one item at two sites within the cloned-label window (a, then b)."""

    __tablename__ = "clone_findings"

    id: int | None = Field(
        default=None, sa_column=Column(_SERIAL, primary_key=True, autoincrement=True)
    )
    item: str = Field(max_length=40, index=True)
    site_a: str = Field(max_length=200)
    org_a: str = Field(max_length=40)
    at_a: str = Field(max_length=32)
    site_b: str = Field(max_length=200)
    org_b: str = Field(max_length=40)
    at_b: str = Field(max_length=32)
