"""The storage contract: what the ledger asks of a store, as ``typing.Protocol``s.

Two parts, kept apart on purpose:

* **the log** (``LogReader``, ``LogWriter``): the entries and the perfect Merkle
  subtrees they complete. It has a head, a range read and one write, ``append``
  at the size the writer expects (a lost race is a ``ConcurrentAppendError``,
  never a fork). There is no update and no delete: the interface itself is
  append-only.
* **the projection** (``ProjectionReader``, ``ProjectionWriter``): what can be
  recomputed from the log or lives beside it: items, orgs, API keys,
  checkpoints, witnesses and their cosignatures, idempotent answers, passport
  sessions, manufacturer code bindings, the scans that named a site and the
  cloned labels they revealed (``ledger.site_scans``).

A ``Store`` hands out a ``Reader`` (one consistent view), a ``lookup`` (a few
independent reads, no transaction needed) and a ``Writer`` (the one write
transaction that holds the chain head: everything written in it is kept
together or not at all). Implementations: ``ledger.store.sql`` (SQLite and
PostgreSQL) and ``ledger.store.memory``; ``tests/contract`` holds them to this.
Stores raise only ``LedgerError``s (``StoreUnavailableError``,
``ConcurrentAppendError``, ``DuplicateError``, ``ValidationError``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from hashing import NodeId, TileId
from ledger.chain import Entry, StoredEntry
from ledger.lifecycle import Item, MakerBinding
from ledger.records import CheckpointRecord, IdempotentAnswer, IssuedKey, KeyRecord, OrgRecord
from ledger.site_scans import CloneFinding, SiteScan
from ledger.store.query import ItemQuery, PageKey

__all__ = [
    "CellKey",
    "CodeKey",
    "LogReader",
    "LogWriter",
    "ProjectionReader",
    "ProjectionWriter",
    "Reader",
    "ReportMember",
    "ReportTables",
    "Store",
    "Writer",
]

CodeKey = tuple[str, str, str]
"""(kind, code scope, code): the key that makes an item code unique."""


class LogReader(Protocol):
    """Reads of the append-only log."""

    def head(self) -> tuple[int, str] | None:
        """(size of the log, hash of its last entry), or None when empty."""
        ...

    def size(self) -> int: ...

    def entries(self, start: int, limit: int) -> list[StoredEntry]:
        """Up to ``limit`` entries from seq ``start``, in seq order."""
        ...

    def iter_entries(self, batch: int = 5000) -> Iterator[StoredEntry]:
        """Every entry in seq order, read ``batch`` at a time."""
        ...

    def recent_entries(self, limit: int) -> list[StoredEntry]:
        """The newest ``limit`` entries, newest first."""
        ...

    def item_entries(self, item_id: str) -> list[StoredEntry]:
        """An item's entries in seq order."""
        ...

    def items_entries(self, item_ids: Sequence[str]) -> dict[str, list[StoredEntry]]:
        """The entries of each of these items that has any, in seq order, by item."""
        ...

    def nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """Stored Merkle nodes by (level, index); level 0 is the entries' hashes.
        Ids not stored are absent from the answer."""
        ...

    def node_range(self, level: int, start: int, count: int) -> list[bytes]:
        """The stored nodes ``(level, start) … (level, start + count - 1)`` in order,
        as many as are stored from ``start`` on (level 0: the entries' hashes)."""
        ...

    def tiles(self, ids: Sequence[TileId]) -> dict[TileId, bytes]:
        """Stored complete tiles (``hashing.tiles``): 256 row hashes, concatenated.
        Tiles not stored (not yet complete) are absent from the answer."""
        ...


class LogWriter(LogReader, Protocol):
    """The one write of the log."""

    def append(self, entries: Sequence[Entry], *, expected_size: int) -> None:
        """Add entries that continue a log of ``expected_size`` entries, and the
        perfect subtrees they complete.

        Raises:
            ConcurrentAppendError: the log is not of that size (another writer won).
        """
        ...


class ProjectionReader(Protocol):
    """Reads of what sits beside the log."""

    def item(self, item_id: str) -> Item | None: ...

    def items_by_ids(self, ids: Sequence[str]) -> dict[str, Item]: ...

    def items_by_codes(self, codes: Sequence[str], kinds: Sequence[str]) -> list[Item]:
        """Items whose (kind, code) is in ``kinds`` x ``codes``."""
        ...

    def items_registered_by(self, org_id: str) -> list[Item]:
        """Items whose manufacturer is ``org_id``, oldest first."""
        ...

    def existing_codes(self, keys: Sequence[CodeKey]) -> set[CodeKey]:
        """Which of ``keys`` are registered already."""
        ...

    def children(self, item_id: str) -> list[str]:
        """Ids of the items whose parent is ``item_id``, sorted."""
        ...

    def iter_items(self) -> Iterator[Item]:
        """Every item, by id."""
        ...

    def query_items(self, query: ItemQuery) -> list[tuple[PageKey, Item]]:
        """Up to ``query.limit`` items that match, by (created_seq, id), after ``query.after``."""
        ...

    def children_of(self, ids: Sequence[str]) -> dict[str, list[str]]:
        """The sorted children of each of ``ids`` that has any."""
        ...

    def item_counts(self) -> dict[tuple[str, str], int]:
        """Number of items per (kind, state)."""
        ...

    def count_items(self) -> int: ...

    def org(self, org_id: str) -> OrgRecord | None: ...

    def orgs(self) -> list[OrgRecord]:
        """Every org, oldest first."""
        ...

    def org_by_name(self, name: str) -> OrgRecord | None: ...

    def key_by_hash(self, key_hash: str) -> tuple[KeyRecord, OrgRecord] | None: ...

    def key(self, key_id: str) -> KeyRecord | None: ...

    def api_keys(self, org_id: str | None = None) -> list[IssuedKey]:
        """Every API key (or one org's), in the order they were issued."""
        ...

    def latest_checkpoint(self) -> CheckpointRecord | None: ...

    def checkpoint(self, size: int) -> CheckpointRecord | None: ...

    def checkpoints(self) -> list[CheckpointRecord]:
        """Every checkpoint, smallest first."""
        ...

    def cosignature_lines(self, size: int) -> list[str]:
        """Cosignature lines on the checkpoint of ``size``, by witness name."""
        ...

    def witness(self, name: str) -> str | None:
        """A witness's verifier key by name."""
        ...

    def witness_keys(self, org_id: str | None = None) -> list[str]:
        """Verifier keys of every witness (or of one org's), by name."""
        ...

    def last_cosigned_size(self, witness: str) -> int | None: ...

    def idempotent_answer(self, org_id: str, key: str) -> IdempotentAnswer | None: ...

    def passport_session(self, id_hash: str, now: str) -> OrgRecord | None:
        """The org of a passport session that ends after ``now`` and whose key is
        not revoked (``ledger.sessions``)."""
        ...

    def maker(self, code: str) -> MakerBinding | None:
        """The binding of a GB/T 34014 manufacturer code, or None."""
        ...

    def makers(self) -> list[MakerBinding]:
        """Every manufacturer code binding, by code."""
        ...

    def clone_findings(self) -> list[CloneFinding]:
        """Every cloned-label finding (``ledger.site_scans``), in the order they were made."""
        ...


class ProjectionWriter(ProjectionReader, Protocol):
    """Writes of what sits beside the log (in the transaction of the entries)."""

    def insert_items(self, items: Sequence[Item]) -> None:
        """Raises:
        DuplicateError: an item with the same (kind, code scope, code) exists.
        """
        ...

    def update_items(self, items: Sequence[Item]) -> None: ...

    def replace_items(self, items: Sequence[Item], created: dict[str, int]) -> None:
        """Replace the whole items projection (a rebuild from the log)."""
        ...

    def insert_org(self, org: OrgRecord, seq: int) -> None:
        """Raises:
        DuplicateError: the name is taken.
        """
        ...

    def insert_key(self, key_id: str, org_id: str, key_hash: str, seq: int) -> None: ...

    def revoke_key(self, key_id: str, seq: int) -> None: ...

    def save_idempotent_answer(
        self, org_id: str, key: str, answer: IdempotentAnswer, created_at: str
    ) -> None: ...

    def insert_checkpoint(self, record: CheckpointRecord) -> None: ...

    def insert_passport_session(self, id_hash: str, key_id: str, expires_at: str, now: str) -> None:
        """Keep a passport session; sessions that ended before ``now`` are dropped."""
        ...

    def delete_passport_session(self, id_hash: str) -> None: ...

    def insert_maker(self, binding: MakerBinding) -> None:
        """Raises:
        DuplicateError: the code is bound already.
        """
        ...

    def replace_makers(self, bindings: Sequence[MakerBinding]) -> None:
        """Replace every binding (a rebuild from the log)."""
        ...

    def insert_witness(self, name: str, org_id: str, vkey: str, created_at: str) -> None: ...

    def save_cosignature(self, size: int, witness: str, line: str, timestamp: int) -> None:
        """Keep one cosignature per (checkpoint, witness): the newest."""
        ...


class Reader(LogReader, ProjectionReader, Protocol):
    """One consistent view of the log and its projection."""


class Writer(LogWriter, ProjectionWriter, Protocol):
    """The write transaction that holds the chain head."""

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested transaction: an exception inside undoes only what it wrote."""
        ...

    def together(self) -> AbstractContextManager[None]:
        """Writes inside may be held and sent together at its end, where their
        errors then surface (as the same ``LedgerError``s). Nothing inside may
        read what is written inside."""
        ...


CellKey = tuple[str, str, str]
"""(scope, report, key): one row's sums as one org (or ``*``, everyone) sees them."""


@dataclass(frozen=True)
class ReportMember:
    """One item's part in one report row: the seqs it rests on, its measures and
    the orgs (besides regulators) that may see it."""

    item: str
    report: str
    key: str
    seqs: tuple[int, ...]
    measures: Mapping[str, Any]
    viewers: tuple[str, ...]


class ReportTables(Reader, Protocol):
    """The aggregate tables in one transaction, beside the log and projection."""

    def report_mark(self) -> int:
        """How many entries of the log the aggregates cover."""
        ...

    def set_report_mark(self, upto: int) -> None: ...

    def clear_reports(self) -> None:
        """Drop every part and sum, and the mark back to 0."""
        ...

    def members_of(self, items: Sequence[str]) -> list[ReportMember]:
        """Every part of these items, in any report."""
        ...

    def change_members(
        self, dropped: Sequence[ReportMember], added: Sequence[ReportMember]
    ) -> None:
        """Drop the parts ``dropped`` (by item, report and key), then keep ``added``."""
        ...

    def row_members(
        self,
        report: str,
        key: str | None = None,
        up_to: str | None = None,
        *,
        after_item: str | None = None,
        limit: int | None = None,
    ) -> list[ReportMember]:
        """The parts of one row (``key``), of every row (neither), or of the rows
        whose key sorts at or below ``up_to``; by key, then item; of one row, only
        items after ``after_item`` and at most ``limit`` of them."""
        ...

    def cells(self, scope: str, report: str) -> dict[str, dict[str, str]]:
        """Every row of ``report`` as ``scope`` sees it: key to sums."""
        ...

    def cells_at(self, keys: Sequence[CellKey]) -> dict[CellKey, dict[str, str]]:
        """The sums kept at these keys (missing keys: none kept)."""
        ...

    def write_cells(self, cells: Mapping[CellKey, Mapping[str, str] | None]) -> None:
        """Keep these sums (``None``: drop the row)."""
        ...

    def items_from(self, origins: Sequence[str]) -> list[str]:
        """The items whose ``origin`` is one of ``origins``."""
        ...

    def entries_of(self, items: Sequence[str]) -> dict[str, list[Any]]:
        """Every entry of these items (``StoredEntry``), in seq order, by item."""
        ...

    def touched(self, start: int, limit: int) -> tuple[int, dict[str, int]]:
        """How many entries there are among the ``limit`` from seq ``start``, and
        the items they name, each with the last of their seqs that names it."""
        ...


class Store(Protocol):
    """Where the log and its projection live."""

    def reader(self) -> AbstractContextManager[Reader]: ...

    def lookup(self) -> AbstractContextManager[Reader]:
        """A few independent reads, each seeing the latest commit."""
        ...

    def writer(self) -> AbstractContextManager[Writer]:
        """The write transaction: one writer at a time, commit on success, nothing
        kept on an exception."""
        ...

    def record_site_scan(self, scan: SiteScan, since: str) -> CloneFinding | None:
        """Keep ``scan`` and, when the item's latest scan at another site is no
        earlier than ``since``, the finding of the two (that scan, then this one).

        A short transaction of its own, not the writer's (a scan is no log entry),
        durable when this returns; scans of one item are kept one at a time, so
        each sees the one before it.
        """
        ...

    def migrate(self) -> None:
        """Bring the schema to the newest revision (nothing to do in memory)."""
        ...

    def reports(self, *, write: bool = False) -> AbstractContextManager[ReportTables]:
        """The report aggregates in one transaction (``ReportTables``); ``write``:
        holding their own lock, never the chain's."""
        ...

    def ping(self) -> None:
        """Raises:
        StoreUnavailableError: the store cannot be reached.
        """
        ...

    def dispose(self) -> None: ...
