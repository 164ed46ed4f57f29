"""The in-memory store: the storage contract held in dictionaries.

Owns a store with no database, for domain tests and tools that need a ledger
for a moment. It satisfies ``ledger.store.base.Store`` exactly as the SQL
store does (``tests/contract`` runs both through the same suite): one writer
at a time, a write's changes kept only when it ends without an exception,
savepoints, ``ConcurrentAppendError`` on a stale size, ``DuplicateError`` on a
taken code or org name. A write works on a copy of the state and swaps it in
at commit, so readers never see half a write.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from hashing import (
    NodeId,
    TileId,
    new_perfect_nodes,
    nodes_needed_for_append,
    tile_complete,
    tile_rows,
)
from ledger.chain import Entry, StoredEntry
from ledger.codes import code_scope
from ledger.errors import ConcurrentAppendError, DuplicateError
from ledger.lifecycle import Item, MakerBinding
from ledger.records import CheckpointRecord, IdempotentAnswer, IssuedKey, KeyRecord, OrgRecord
from ledger.site_scans import CloneFinding, SiteScan
from ledger.store import memory_queries
from ledger.store.base import CodeKey
from ledger.store.memory_reports import MemoryReports, ReportState
from ledger.store.query import ItemQuery, PageKey

__all__ = ["MemoryReader", "MemoryStore", "MemoryWriter"]


@dataclass
class _Key:
    record: KeyRecord
    key_hash: str
    issued_seq: int
    revoked_seq: int | None = None


@dataclass
class _State:
    entries: list[StoredEntry] = field(default_factory=list)
    nodes: dict[NodeId, bytes] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)
    codes: dict[CodeKey, str] = field(default_factory=dict)
    orgs: dict[str, tuple[OrgRecord, int]] = field(default_factory=dict)
    keys: dict[str, _Key] = field(default_factory=dict)
    answers: dict[tuple[str, str], IdempotentAnswer] = field(default_factory=dict)
    checkpoints: dict[int, CheckpointRecord] = field(default_factory=dict)
    witnesses: dict[str, tuple[str, str]] = field(default_factory=dict)  # name: (org, vkey)
    cosignatures: dict[tuple[int, str], str] = field(default_factory=dict)
    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)  # id hash: (key, end)
    makers: dict[str, MakerBinding] = field(default_factory=dict)
    site_scans: list[SiteScan] = field(default_factory=list)
    clone_findings: list[CloneFinding] = field(default_factory=list)

    def copy(self) -> _State:
        # Values are frozen records; copying the containers is enough.
        return _State(**{name: copy.copy(value) for name, value in vars(self).items()})


def _code_key(item: Item) -> CodeKey:
    return (item.kind.value, code_scope(item.kind.value, item.manufacturer), item.code)


class MemoryReader:
    """Reads of one state (a snapshot for a reader, the working copy for a writer)."""

    def __init__(self, state: _State) -> None:
        self._s = state

    # -- the log ------------------------------------------------------------------

    def head(self) -> tuple[int, str] | None:
        entries = self._s.entries
        return (len(entries), entries[-1].hash) if entries else None

    def size(self) -> int:
        return len(self._s.entries)

    def entries(self, start: int, limit: int) -> list[StoredEntry]:
        return self._s.entries[start : start + limit]

    def iter_entries(self, batch: int = 5000) -> Iterator[StoredEntry]:
        del batch  # everything is in memory already
        yield from list(self._s.entries)

    def recent_entries(self, limit: int) -> list[StoredEntry]:
        return self._s.entries[::-1][:limit]

    def item_entries(self, item_id: str) -> list[StoredEntry]:
        return [e for e in self._s.entries if e.item == item_id]

    def items_entries(self, item_ids: Sequence[str]) -> dict[str, list[StoredEntry]]:
        return memory_queries.items_entries(self._s.entries, item_ids)

    def nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        found: dict[NodeId, bytes] = {}
        for level, index in ids:
            if level == 0:
                if 0 <= index < len(self._s.entries):
                    found[(0, index)] = bytes.fromhex(self._s.entries[index].hash)
            elif (level, index) in self._s.nodes:
                found[(level, index)] = self._s.nodes[(level, index)]
        return found

    def node_range(self, level: int, start: int, count: int) -> list[bytes]:
        found = self.nodes([(level, start + k) for k in range(count)])
        out = []
        for k in range(count):
            node = found.get((level, start + k))
            if node is None:
                break
            out.append(node)
        return out

    def tiles(self, ids: Sequence[TileId]) -> dict[TileId, bytes]:
        # Every node is kept, so a complete tile is its row of nodes.
        found: dict[TileId, bytes] = {}
        for tile in ids:
            if tile_complete(tile, len(self._s.entries)):
                level, first, count = tile_rows(tile)
                row = self.nodes([(level, first + k) for k in range(count)])
                found[tile] = b"".join(row[(level, first + k)] for k in range(count))
        return found

    # -- the projection -----------------------------------------------------------

    def item(self, item_id: str) -> Item | None:
        return self._s.items.get(item_id)

    def items_by_ids(self, ids: Sequence[str]) -> dict[str, Item]:
        return {i: self._s.items[i] for i in set(ids) if i in self._s.items}

    def items_by_codes(self, codes: Sequence[str], kinds: Sequence[str]) -> list[Item]:
        wanted, kind_set = set(codes), set(kinds)
        return [
            item
            for item in self._s.items.values()
            if item.code in wanted and item.kind.value in kind_set
        ]

    def items_registered_by(self, org_id: str) -> list[Item]:
        found = [i for i in self._s.items.values() if i.manufacturer == org_id]
        return sorted(found, key=lambda i: self._s.created[i.id])

    def existing_codes(self, keys: Sequence[CodeKey]) -> set[CodeKey]:
        return {key for key in keys if key in self._s.codes}

    def children(self, item_id: str) -> list[str]:
        return sorted(i.id for i in self._s.items.values() if i.parent == item_id)

    def iter_items(self) -> Iterator[Item]:
        yield from (self._s.items[i] for i in sorted(self._s.items))

    def query_items(self, query: ItemQuery) -> list[tuple[PageKey, Item]]:
        orgs = {org_id: org for org_id, (org, _) in self._s.orgs.items()}
        s = self._s
        return memory_queries.query_items(query, s.items, s.created, s.entries, orgs)

    def children_of(self, ids: Sequence[str]) -> dict[str, list[str]]:
        return memory_queries.children_of(self._s.items, ids)

    def item_counts(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for item in self._s.items.values():
            key = (item.kind.value, item.state.value)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def count_items(self) -> int:
        return len(self._s.items)

    def org(self, org_id: str) -> OrgRecord | None:
        found = self._s.orgs.get(org_id)
        return None if found is None else found[0]

    def orgs(self) -> list[OrgRecord]:
        return [org for org, _ in sorted(self._s.orgs.values(), key=lambda pair: pair[1])]

    def org_by_name(self, name: str) -> OrgRecord | None:
        return next((o for o, _ in self._s.orgs.values() if o.name == name), None)

    def key_by_hash(self, key_hash: str) -> tuple[KeyRecord, OrgRecord] | None:
        for key in self._s.keys.values():
            if key.key_hash == key_hash:
                org = self.org(key.record.org_id)
                return None if org is None else (key.record, org)
        return None

    def key(self, key_id: str) -> KeyRecord | None:
        found = self._s.keys.get(key_id)
        return None if found is None else found.record

    def api_keys(self, org_id: str | None = None) -> list[IssuedKey]:
        keys = sorted(self._s.keys.values(), key=lambda k: k.issued_seq)
        return [
            IssuedKey(k.record.id, k.record.org_id, k.issued_seq, k.revoked_seq)
            for k in keys
            if org_id is None or k.record.org_id == org_id
        ]

    def latest_checkpoint(self) -> CheckpointRecord | None:
        sizes = self._s.checkpoints
        return sizes[max(sizes)] if sizes else None

    def checkpoint(self, size: int) -> CheckpointRecord | None:
        return self._s.checkpoints.get(size)

    def checkpoints(self) -> list[CheckpointRecord]:
        return [self._s.checkpoints[s] for s in sorted(self._s.checkpoints)]

    def cosignature_lines(self, size: int) -> list[str]:
        found = sorted((w, line) for (s, w), line in self._s.cosignatures.items() if s == size)
        return [line for _, line in found]

    def witness(self, name: str) -> str | None:
        found = self._s.witnesses.get(name)
        return None if found is None else found[1]

    def witness_keys(self, org_id: str | None = None) -> list[str]:
        return [
            vkey
            for _, (org, vkey) in sorted(self._s.witnesses.items())
            if org_id is None or org == org_id
        ]

    def last_cosigned_size(self, witness: str) -> int | None:
        sizes = [s for (s, w) in self._s.cosignatures if w == witness]
        return max(sizes) if sizes else None

    def idempotent_answer(self, org_id: str, key: str) -> IdempotentAnswer | None:
        return self._s.answers.get((org_id, key))

    def passport_session(self, id_hash: str, now: str) -> OrgRecord | None:
        key_id, expires_at = self._s.sessions.get(id_hash, ("", ""))
        key = self._s.keys.get(key_id)
        if key is None or key.revoked_seq is not None or expires_at <= now:
            return None
        return self.org(key.record.org_id)

    def maker(self, code: str) -> MakerBinding | None:
        return self._s.makers.get(code)

    def makers(self) -> list[MakerBinding]:
        return [self._s.makers[code] for code in sorted(self._s.makers)]

    def clone_findings(self) -> list[CloneFinding]:
        return list(self._s.clone_findings)


class MemoryWriter(MemoryReader):
    """Writes to the working copy of one write transaction."""

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        saved = self._s.copy()
        try:
            yield
        except BaseException:
            self._restore(saved)
            raise

    @contextmanager
    def together(self) -> Iterator[None]:
        yield

    def _restore(self, saved: _State) -> None:
        for name, value in vars(saved).items():
            setattr(self._s, name, value)

    def append(self, entries: Sequence[Entry], *, expected_size: int) -> None:
        if not entries:
            return
        if entries[0].seq != expected_size or len(self._s.entries) != expected_size:
            raise ConcurrentAppendError(
                f"entry {entries[0].seq} does not follow a log of {len(self._s.entries)}"
            )
        for entry in entries:
            leaf = bytes.fromhex(entry.hash)
            known = self.nodes(nodes_needed_for_append(entry.seq))

            def get(level: int, index: int, known: dict[NodeId, bytes] = known) -> bytes:
                return known.get((level, index)) or self.nodes([(level, index)])[(level, index)]

            self._s.entries.append(
                StoredEntry(entry.seq, entry.hash, entry.body, entry.item, entry.type, entry.actor)
            )
            for level, index, node in new_perfect_nodes(entry.seq, leaf, get):
                if level > 0:
                    self._s.nodes[(level, index)] = node

    def insert_items(self, items: Sequence[Item]) -> None:
        keys = [_code_key(i) for i in items]
        ids = [i.id for i in items]
        if len(set(ids)) != len(ids) or any(i in self._s.items for i in ids):
            raise DuplicateError("an item with this id exists already")
        if len(set(keys)) != len(keys) or any(k in self._s.codes for k in keys):
            raise DuplicateError("an item with this kind and code exists already")
        for item, key in zip(items, keys, strict=True):
            self._s.items[item.id] = item
            self._s.created[item.id] = item.head_seq
            self._s.codes[key] = item.id

    def update_items(self, items: Sequence[Item]) -> None:
        for item in items:
            if item.id in self._s.items:
                self._s.items[item.id] = item

    def replace_items(self, items: Sequence[Item], created: dict[str, int]) -> None:
        self._s.items = {i.id: i for i in items}
        self._s.created = {i.id: created[i.id] for i in items}
        self._s.codes = {_code_key(i): i.id for i in items}

    def insert_org(self, org: OrgRecord, seq: int) -> None:
        if self.org_by_name(org.name) is not None or org.id in self._s.orgs:
            raise DuplicateError(f"an org named {org.name!r} exists already", pointer="/name")
        self._s.orgs[org.id] = (org, seq)

    def insert_key(self, key_id: str, org_id: str, key_hash: str, seq: int) -> None:
        if key_id in self._s.keys or any(k.key_hash == key_hash for k in self._s.keys.values()):
            raise DuplicateError(f"an API key {key_id} exists already")
        self._s.keys[key_id] = _Key(KeyRecord(key_id, org_id, False), key_hash, seq)

    def revoke_key(self, key_id: str, seq: int) -> None:
        key = self._s.keys.get(key_id)
        if key is not None:
            revoked = KeyRecord(key_id, key.record.org_id, True)
            self._s.keys[key_id] = _Key(revoked, key.key_hash, key.issued_seq, seq)

    def save_idempotent_answer(
        self, org_id: str, key: str, answer: IdempotentAnswer, created_at: str
    ) -> None:
        del created_at
        if (org_id, key) in self._s.answers:
            raise DuplicateError(f"an answer to idempotency key {key!r} is kept already")
        self._s.answers[(org_id, key)] = answer

    def insert_passport_session(self, id_hash: str, key_id: str, expires_at: str, now: str) -> None:
        live = {h: kept for h, kept in self._s.sessions.items() if kept[1] > now}
        self._s.sessions = {**live, id_hash: (key_id, expires_at)}

    def delete_passport_session(self, id_hash: str) -> None:
        self._s.sessions.pop(id_hash, None)

    def insert_maker(self, binding: MakerBinding) -> None:
        if binding.code in self._s.makers:
            raise DuplicateError(f"manufacturer code {binding.code} is bound already")
        self._s.makers[binding.code] = binding

    def replace_makers(self, bindings: Sequence[MakerBinding]) -> None:
        self._s.makers = {b.code: b for b in bindings}

    def insert_checkpoint(self, record: CheckpointRecord) -> None:
        if record.size in self._s.checkpoints:
            raise DuplicateError(f"a checkpoint of size {record.size} exists already")
        self._s.checkpoints[record.size] = record

    def insert_witness(self, name: str, org_id: str, vkey: str, created_at: str) -> None:
        del created_at
        if name in self._s.witnesses:
            raise DuplicateError(f"a witness named {name!r} exists")
        self._s.witnesses[name] = (org_id, vkey)

    def save_cosignature(self, size: int, witness: str, line: str, timestamp: int) -> None:
        del timestamp
        self._s.cosignatures[(size, witness)] = line


class MemoryReportTables(MemoryReader, MemoryReports):
    """The report aggregates beside one snapshot of the log and projection."""

    def __init__(self, state: _State, reports: ReportState) -> None:
        super().__init__(state)
        self._r = reports


class MemoryStore:
    """A store in this process's memory; gone when the process ends."""

    def __init__(self) -> None:
        self._state = _State()
        self._write = threading.Lock()
        self._reports = ReportState()
        self._report_write = threading.Lock()

    @contextmanager
    def reports(self, *, write: bool = False) -> Iterator[MemoryReportTables]:
        if not write:
            yield MemoryReportTables(self._state, self._reports)
            return
        with self._report_write:
            working = self._reports.copy()
            yield MemoryReportTables(self._state, working)
            self._reports = working

    @contextmanager
    def reader(self) -> Iterator[MemoryReader]:
        # A committed state is never changed in place: a reader keeps its snapshot.
        yield MemoryReader(self._state)

    @contextmanager
    def lookup(self) -> Iterator[MemoryReader]:
        yield MemoryReader(self._state)

    @contextmanager
    def writer(self) -> Iterator[MemoryWriter]:
        with self._write:
            working = self._state.copy()
            yield MemoryWriter(working)
            self._state = working

    def record_site_scan(self, scan: SiteScan, since: str) -> CloneFinding | None:
        with self._write:
            working = self._state.copy()
            elsewhere = [
                s
                for s in working.site_scans
                if s.item == scan.item and s.at >= since and s.site != scan.site
            ]
            # The latest; among equal times, the last kept (as the SQL store's id order).
            before = max(reversed(elsewhere), key=lambda s: s.at, default=None)
            working.site_scans.append(scan)
            finding = None if before is None else CloneFinding(scan.item, before, scan)
            if finding is not None:
                working.clone_findings.append(finding)
            self._state = working
        return finding

    def migrate(self) -> None:
        """Nothing to migrate: the state is made in the current shape."""

    def ping(self) -> None:
        """Always reachable."""

    def dispose(self) -> None:
        """Nothing to release."""
