"""One write's working state, and the answers writes give.

Owns ``Tx`` (the entries and projection rows of one write transaction,
linked in memory and stored at flush, with marks to undo a refused write in
a group commit), the idempotent-answer seal, and how an item is shown.
``ledger/service.py`` drives these; nothing here decides a lifecycle rule.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger import codes, domain
from ledger.chain import ZERO_HASH, Entry, build_entry
from ledger.domain import Item
from ledger.errors import IdempotencyConflictError, LedgerError
from ledger.store.sql import Writer


@dataclass(frozen=True)
class Idempotency:
    """An ``Idempotency-Key`` and the fingerprint of the request it came with."""

    org_id: str
    key: str
    fingerprint: str


class AnswerSeal:
    """AES-256-GCM for stored idempotent answers, a key per (org, Idempotency-Key).

    The key is HKDF-SHA256 of the service secret, so a copy of the database
    alone reveals no API key that an org-creation answer carried.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the answer secret needs at least 32 bytes")
        self._secret = secret

    def _aead(self, idempotency: Idempotency) -> AESGCM:
        info = b"retrace idempotent answer v1\n" + idempotency.org_id.encode() + b"\n"
        key = HKDF(
            algorithm=SHA256(), length=32, salt=None, info=info + idempotency.key.encode()
        ).derive(self._secret)
        return AESGCM(key)

    def seal(self, idempotency: Idempotency, plain: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead(idempotency).encrypt(
            nonce, plain, idempotency.fingerprint.encode()
        )

    def open(self, idempotency: Idempotency, sealed: bytes) -> bytes:
        """Raises:
        IdempotencyConflictError: the stored answer cannot be opened (another
            service secret), so it cannot be replayed.
        """
        try:
            return self._aead(idempotency).decrypt(
                sealed[:12], sealed[12:], idempotency.fingerprint.encode()
            )
        except InvalidTag:
            raise IdempotencyConflictError(
                "the first answer to this Idempotency-Key cannot be replayed here; use a new key"
            ) from None


@dataclass(frozen=True)
class Answer:
    """A rendered answer: status, JSON bytes, and whether it is a replay."""

    status: int
    body: bytes
    replayed: bool = False


@dataclass(frozen=True)
class Written:
    """The item after a write and the entries the write appended."""

    item: Item
    entries: list[Entry]


@dataclass
class Job:
    """One queued write of a group commit, and what became of it."""

    op: Callable[[Any], Any]
    render: Callable[[Any], tuple[int, Any]]
    idempotency: Idempotency | None
    answer: Answer | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass(frozen=True)
class Mark:
    size: int
    prev: str
    entries: int
    new_items: dict[str, Item]
    changed: dict[str, Item]
    sets: tuple[set[tuple[str, str, str]], ...]


@dataclass
class Tx:
    """Entries and projection rows of one write, linked in memory, stored at flush."""

    writer: Writer
    now: datetime
    size: int = 0
    prev: str = ZERO_HASH
    entries: list[Entry] = field(default_factory=list)
    new_items: dict[str, Item] = field(default_factory=dict)
    changed: dict[str, Item] = field(default_factory=dict)
    codes: set[tuple[str, str, str]] = field(default_factory=set)
    known_free: set[tuple[str, str, str]] = field(default_factory=set)
    taken: set[tuple[str, str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        head = self.writer.head()
        if head is not None:
            self.size, self.prev = head
        self.start = self.size

    def mark(self) -> Mark:
        """The in-memory state to go back to if the next write is refused."""
        return Mark(
            self.size,
            self.prev,
            len(self.entries),
            dict(self.new_items),
            dict(self.changed),
            (set(self.codes), set(self.known_free), set(self.taken)),
        )

    def restore(self, mark: Mark) -> None:
        self.size, self.prev = mark.size, mark.prev
        del self.entries[mark.entries :]
        self.new_items, self.changed = mark.new_items, mark.changed
        codes, known_free, taken = mark.sets
        self.codes, self.known_free, self.taken = set(codes), set(known_free), set(taken)

    def item(self, item_id: str) -> Item | None:
        found = self.new_items.get(item_id) or self.changed.get(item_id)
        return found if found is not None else self.writer.item(item_id)

    def append(
        self,
        actor: str,
        item: Item | None,
        item_id: str | None,
        entry_type: str,
        data: dict[str, Any],
    ) -> Entry:
        entry = build_entry(
            seq=self.size,
            now=self.now,
            actor=actor,
            item=item_id,
            type=entry_type,
            data=data,
            prev=self.prev,
            item_prev=(item.head if item is not None else None) if item_id else None,
        )
        self.entries.append(entry)
        self.size += 1
        self.prev = entry.hash
        if item_id is not None:
            updated = domain.apply_entry(
                item, entry_type, actor, item_id, data, head=entry.hash, seq=entry.seq
            )
            if item_id in self.new_items or item is None:
                self.new_items[item_id] = updated
            else:
                self.changed[item_id] = updated
        return entry

    def children(self, item_id: str) -> list[str]:
        """Children of an item, those added in this write included."""
        new = {i.id for i in self.new_items.values() if i.parent == item_id}
        return sorted(set(self.writer.children(item_id)) | new)

    def view(self, written: Written) -> dict[str, Any]:
        """A write's result as the API shows it: item, its entry, all entries."""
        item = written.item
        return {
            "item": render_item(item, self.children(item.id)),
            "entry": written.entries[0].to_wire(),
            "entries": [e.to_wire() for e in written.entries],
        }

    def flush(self) -> None:
        self.writer.append(self.entries, expected_size=self.start)
        self.writer.insert_items(list(self.new_items.values()))
        self.writer.update_items(list(self.changed.values()))


def render_item(item: Item, children: Sequence[str]) -> dict[str, Any]:
    """An item as clients rely on it (DESIGN.md's shape, plus the decoded code)."""
    decoded: dict[str, str] | None = None
    if item.kind.value in codes.BATTERY_KINDS:
        try:
            decoded = codes.parse_battery_code(item.code, item.kind.value).describe()
        except LedgerError:
            decoded = None
    return {
        "id": item.id,
        "kind": item.kind.value,
        "code": item.code,
        "state": item.state.value,
        "holder": item.holder,
        "manufacturer": item.manufacturer,
        "parent": item.parent,
        "origin": item.origin,
        "children": list(children),
        "attributes": item.attributes,
        "decoded": decoded,
        "terminal": item.state in domain.TERMINAL,
        "head": item.head,
        "head_seq": item.head_seq,
    }
