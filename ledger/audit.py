"""Auditing the entries and the tree with no server and no database.

Owns what checks a stream of entries' canonical bytes, in ``seq`` order:

* ``TreeFrontier``: the RFC 6962 root of a growing list of leaves, keeping only the
  O(log n) right frontier (one perfect-subtree hash per 1 bit of the size);
* ``check_block``: one run of consecutive entries checked as ``ledger.chain.ChainVerifier``
  checks them (field types, RFC 8785 form, sequence, ``prev`` and ``item_prev`` links)
  as far as the run itself allows, with the aligned perfect subtrees of its leaves. A pure
  function of its arguments, so blocks may be checked in other processes;
* ``LogAuditor``: joins blocks in order: the links into earlier blocks, the frontier, and
  each signed checkpoint's root, compared as the stream passes that checkpoint's size.

Every check raises ``AuditFailure`` naming the first thing wrong: an entry's seq, or a
checkpoint's size, and why. Checking signatures, keys and consistency proofs is
``ledger.audit_trust``'s job; reading bundles and servers is the CLI's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from hashing import EMPTY_ROOT, Checkpoint, HashingError, canonical_json
from ledger.chain import ZERO_HASH, parse_entry

__all__ = [
    "AuditFailure",
    "AuditSummary",
    "BlockResult",
    "LogAuditor",
    "SignedCheckpoint",
    "TreeFrontier",
    "check_block",
    "check_text_block",
    "checkpoint_failure",
    "entry_failure",
]

_LEAF = b"\x00"
_NODE = b"\x01"


class AuditFailure(Exception):
    """The first thing an audit found wrong: what (``subject``) and why (``reason``)."""

    def __init__(
        self, subject: str, reason: str, *, seq: int | None = None, size: int | None = None
    ) -> None:
        super().__init__(f"{subject}: {reason}")
        self.subject = subject
        self.reason = reason
        self.seq = seq
        self.size = size


def entry_failure(seq: int, reason: str) -> AuditFailure:
    """A finding about the entry at ``seq``."""
    return AuditFailure(f"seq {seq}", reason, seq=seq)


def checkpoint_failure(size: int | str, reason: str) -> AuditFailure:
    """A finding about the checkpoint of ``size`` (or a note named ``size``)."""
    return AuditFailure(f"checkpoint {size}", reason, size=size if isinstance(size, int) else None)


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint whose log signature and known cosignatures verified."""

    checkpoint: Checkpoint
    note: str
    cosigners: tuple[str, ...] = ()
    unknown_signers: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.checkpoint.root


# --- the tree ----------------------------------------------------------------------------


class TreeFrontier:
    """The right frontier of an RFC 6962 tree: enough to extend it and to compute its root.

    Holds one perfect-subtree hash per 1 bit of ``size``, largest (leftmost) first: after
    n leaves, O(log n) hashes, whatever n.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Resume a frontier saved with ``hashes`` after ``size`` leaves.

        Raises:
            ValueError: the hashes do not fit a tree of that size.
        """
        if size < 0 or len(hashes) != size.bit_count() or any(len(h) != 32 for h in hashes):
            raise ValueError(
                f"a tree of {size} leaves has {max(size, 0).bit_count()} frontier hashes "
                "of 32 bytes"
            )
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> None:
        """Add the leaf hash at index ``size``."""
        self.append_subtree(leaf, 0)

    def append_subtree(self, node: bytes, level: int) -> None:
        """Add a perfect subtree of ``2**level`` leaves starting at index ``size``.

        Raises:
            ValueError: ``size`` is not a multiple of ``2**level``.
        """
        if self.size & ((1 << level) - 1):
            raise ValueError(f"a subtree of 2**{level} leaves cannot start at {self.size}")
        stack = self.hashes
        stack.append(node)
        count = self.size >> level
        self.size += 1 << level
        sha = hashlib.sha256
        while count & 1:  # merge one subtree per trailing 1 bit
            right = stack.pop()
            stack.append(sha(_NODE + stack.pop() + right).digest())
            count >>= 1

    def root(self) -> bytes:
        """The Merkle Tree Hash of the leaves so far (RFC 9162 §2.1.1)."""
        if not self.hashes:
            return EMPTY_ROOT
        sha = hashlib.sha256
        root = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            root = sha(_NODE + left + root).digest()
        return root

    def copy(self) -> TreeFrontier:
        return TreeFrontier(self.size, self.hashes)


# --- one block of entries ----------------------------------------------------------------

_ORDER = ("actor", "data", "item", "item_prev", "prev", "seq", "sig", "ts", "type", "v")
_NONE = type(None)
# The type of each field in ``_ORDER`` (``ledger.chain.parse_entry``'s rules).
_SHAPES = frozenset(
    (str, dict, item, item_prev, str, int, sig, str, str, int)
    for item in (str, _NONE)
    for item_prev in (str, _NONE)
    for sig in (dict, _NONE)
)
_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_UNSEEN = ""  # never an entry hash

Subtrees = list[tuple[int, bytes]]
"""Aligned perfect subtrees ``(level, hash)``, left to right."""


def _no_float(value: dict[str, Any] | list[Any]) -> bool:
    """True unless a binary float is somewhere inside ``value``."""
    for item in value.values() if isinstance(value, dict) else value:
        kind: type[Any] = type(item)
        if kind is str or kind is int or kind is bool or item is None:
            continue
        if kind is not dict and kind is not list:
            return False
        if not _no_float(item):
            return False
    return True


def _is_entry(fields: Any, line: bytes) -> bool:
    """Whether parsed ``line`` has the entry format's fields and is its RFC 8785 form.

    The same verdict as ``ledger.chain.parse_entry``, faster: keys in canonical order with
    the right types, then the canonical bytes. For ASCII text without floats, orjson's
    sorted output is RFC 8785's (``hashing.canonical`` explains why), so it is compared
    directly; anything else goes through ``canonical_json``.
    """
    if (
        type(fields) is not dict
        or tuple(fields) != _ORDER
        or tuple(map(type, fields.values())) not in _SHAPES
        or fields["v"] != 1
    ):
        return False
    sig = fields["sig"]
    if line.isascii() and _no_float(fields["data"]) and (sig is None or _no_float(sig)):
        try:
            return orjson.dumps(fields, option=_SORTED) == line
        except orjson.JSONEncodeError:
            return False
    try:
        return canonical_json(fields) == line
    except HashingError:
        return False


def _format_reason(line: bytes) -> str:
    """Why ``line`` is not an entry, in ``ChainVerifier``'s words."""
    try:
        parse_entry(line)
    except ValueError as exc:
        return f"stored bytes are invalid: {exc}"
    return "stored bytes are not a canonical entry"


def _prev_reason(seq: int, prev: str, head: str) -> str:
    if seq == 0:
        return "the first entry's prev is not the zero hash"
    return (
        f"prev {prev[:16]}… is not the hash of entry {seq - 1} ({head[:16]}…): "
        f"entry {seq - 1} or this link was altered"
    )


def _item_reason(item: str, last: str | None) -> str:
    if last is None:
        return f"item_prev of item {item} links to an entry, but this is its first entry"
    return f"item_prev of item {item} does not link to its previous entry ({last[:16]}…)"


@dataclass
class BlockResult:
    """What ``check_block`` found in entries ``[start, start + count)``.

    Attributes:
        start: seq of the first entry.
        count: entries that passed, from ``start``; the block stops at a failure.
        first_prev: the first entry's ``prev`` (checked by whoever knows entry start - 1).
        head: hex hash of the last entry that passed.
        first_links: item to (seq, ``item_prev``) of its first entry in the block.
        last_links: item to the hash of its last entry in the block.
        subtrees: aligned perfect subtrees over the leaves that passed.
        snapshots: for each requested size inside the block, the subtrees up to it.
        failure: the first entry that failed inside the block: (seq, reason).
    """

    start: int
    count: int = 0
    first_prev: str | None = None
    head: str | None = None
    first_links: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    last_links: dict[str, str] = field(default_factory=dict)
    subtrees: Subtrees = field(default_factory=list)
    snapshots: dict[int, Subtrees] = field(default_factory=dict)
    failure: tuple[int, str] | None = None


def _levels(start: int, leaves: list[bytes]) -> list[tuple[int, list[bytes]]]:
    """Every perfect subtree inside leaves ``[start, start + len(leaves))``, by level.

    Level L is ``(index of its first node, hashes)``, node i covering leaves
    ``[i * 2**L, (i + 1) * 2**L)`` (global alignment: the block may start anywhere).
    """
    sha = hashlib.sha256
    levels = [(start, leaves)]
    first, row = start, leaves
    while len(row) > 1:
        skip = first & 1  # a node whose left sibling is outside the block
        row = [sha(_NODE + row[i] + row[i + 1]).digest() for i in range(skip, len(row) - 1, 2)]
        first = (first + skip) >> 1
        if not row:
            break
        levels.append((first, row))
    return levels


def _cover(levels: list[tuple[int, list[bytes]]], low: int, high: int) -> Subtrees:
    """The aligned perfect subtrees covering leaves ``[low, high)``, left to right."""
    out: Subtrees = []
    while low < high:
        level = min((low & -low).bit_length() - 1 if low else 64, len(levels) - 1)
        while low + (1 << level) > high:
            level -= 1
        first, row = levels[level]
        out.append((level, row[(low >> level) - first]))
        low += 1 << level
    return out


def check_block(start: int, lines: Sequence[bytes], stops: Sequence[int] = ()) -> BlockResult:
    """Check the entries ``start, start + 1, …`` as far as they can be checked alone.

    Args:
        start: the first line's seq.
        lines: canonical entry bytes, without newlines.
        stops: sizes in ``(start, start + len(lines)]`` at which to snapshot the subtrees
            (the sizes of signed checkpoints).

    Returns:
        The block's result; ``failure`` is set at the first entry that is wrong.
    """
    # One loop with everything local: this is the audit's hot path.
    sha = hashlib.sha256
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    is_entry = _is_entry
    result = BlockResult(start)
    first, last = result.first_links, result.last_links
    leaves: list[bytes] = []
    push = leaves.append
    seq, head = start, None
    for line in lines:
        try:
            fields = loads(line)
        except decode_error:
            fields = None
        if not is_entry(fields, line):
            result.failure = (seq, _format_reason(line))
            break
        if fields["seq"] != seq:
            result.failure = (
                seq,
                f"expected entry {seq} here, found seq {fields['seq']}: entries were dropped, "
                "repeated or reordered",
            )
            break
        if head is None:
            result.first_prev = fields["prev"]
        elif fields["prev"] != head:
            result.failure = (seq, _prev_reason(seq, fields["prev"], head))
            break
        digest = sha(_LEAF + line).digest()
        head = digest.hex()
        item = fields["item"]
        if item is not None:
            known = last.get(item, _UNSEEN)
            if known is _UNSEEN:
                first[item] = (seq, fields["item_prev"])
            elif fields["item_prev"] != known:
                result.failure = (seq, _item_reason(item, known))
                break
            last[item] = head
        elif fields["item_prev"] is not None:
            result.failure = (seq, "an entry with no item has an item_prev")
            break
        push(digest)
        seq += 1
    result.count = seq - start
    result.head = head
    if leaves:
        levels = _levels(start, leaves)
        result.subtrees = _cover(levels, start, seq)
        for stop in stops:
            if start < stop <= seq:
                result.snapshots[stop] = _cover(levels, start, stop)
    return result


# --- the whole stream --------------------------------------------------------------------


@dataclass(frozen=True)
class AuditSummary:
    """What an audit checked."""

    size: int
    head: str
    root: bytes
    checkpoints: int
    items: int
    unchecked_item_links: int = 0


@dataclass
class LogAuditor:
    """Checks entries streamed in ``seq`` order against each other and the checkpoints.

    Feed canonical entry bytes (no newline) with ``feed``, or join blocks checked
    elsewhere (``check_block`` with ``stops``' sizes) with ``join``, then call ``finish``.
    Memory is the O(log n) frontier plus one hash per item (for the ``item_prev`` links).

    To resume after ``size`` verified entries, pass ``size``, ``head`` and that tree's
    ``frontier``; links from new entries to items last seen before then cannot be checked
    and are counted in ``unchecked_item_links``.
    """

    checkpoints: Sequence[SignedCheckpoint] = ()
    size: int = 0
    head: str = ZERO_HASH
    frontier: TreeFrontier = field(default_factory=TreeFrontier)
    unchecked_item_links: int = 0

    def __post_init__(self) -> None:
        if self.frontier.size != self.size:
            raise ValueError("the frontier is not of the resumed size")
        self._resumed = self.size > 0
        self._items: dict[str, str] = {}
        self._pending = sorted(self.checkpoints, key=lambda c: c.size)
        if self._pending and self._pending[0].size < self.size:
            raise ValueError("a checkpoint is older than the resumed position")
        while self._pending and self._pending[0].size == self.size:
            self._check_root(self._pending.pop(0), self.frontier.root())

    @staticmethod
    def _check_root(signed: SignedCheckpoint, root: bytes) -> None:
        if root != signed.root:
            raise checkpoint_failure(
                signed.size,
                f"the entries give root {root.hex()[:16]}…, but the log signed "
                f"{signed.root.hex()[:16]}… for this size",
            )

    def stops(self, count: int, start: int | None = None) -> list[int]:
        """Checkpoint sizes inside the block of ``count`` entries from ``start``."""
        first = self.size if start is None else start
        return [c.size for c in self._pending if first < c.size <= first + count]

    def feed(self, lines: Sequence[bytes]) -> None:
        """Check the next entries.

        Raises:
            AuditFailure: the first entry (by seq) or checkpoint that is wrong.
        """
        self.join(check_block(self.size, lines, self.stops(len(lines))))

    def join(self, block: BlockResult) -> None:
        """Add the next block: links into earlier entries, tree, checkpoints.

        Raises:
            AuditFailure: the first entry (by seq) or checkpoint that is wrong, counting
                a checkpoint as coming just before the entry at its size.
        """
        if block.start != self.size:
            raise ValueError(f"block starts at {block.start}, the audit is at {self.size}")
        findings: list[tuple[float, AuditFailure]] = []
        if block.failure is not None:
            findings.append((block.failure[0], entry_failure(*block.failure)))
        if block.first_prev is not None and block.first_prev != self.head:
            reason = _prev_reason(block.start, block.first_prev, self.head)
            findings.append((block.start, entry_failure(block.start, reason)))
        items, unchecked = self._items, 0
        for item, (seq, link) in block.first_links.items():
            last = items.get(item)
            if link != last:
                if last is None and self._resumed:
                    unchecked += 1
                else:
                    findings.append((seq, entry_failure(seq, _item_reason(item, last))))
        for size, subtrees in block.snapshots.items():
            signed = next(c for c in self._pending if c.size == size)
            frontier = self.frontier.copy()
            for level, node in subtrees:
                frontier.append_subtree(node, level)
            try:
                self._check_root(signed, frontier.root())
            except AuditFailure as exc:
                findings.append((size - 0.5, exc))
        if findings:
            raise min(findings, key=lambda pair: pair[0])[1]
        self.unchecked_item_links += unchecked
        items.update(block.last_links)
        for level, node in block.subtrees:
            self.frontier.append_subtree(node, level)
        self.size += block.count
        if block.head is not None:
            self.head = block.head
        while self._pending and self._pending[0].size <= self.size:
            self._pending.pop(0)

    def finish(self) -> AuditSummary:
        """Close the audit: every checkpoint must have been reached.

        Raises:
            AuditFailure: a checkpoint covers more entries than were fed.
        """
        if self._pending:
            signed = self._pending[0]
            raise checkpoint_failure(
                signed.size,
                f"it covers {signed.size} entries, but there are only {self.size}: entries "
                "are missing from the end",
            )
        return AuditSummary(
            self.size,
            self.head,
            self.frontier.root(),
            len(self.checkpoints),
            len(self._items),
            self.unchecked_item_links,
        )


def check_text_block(start: int, text: bytes, stops: Sequence[int] = ()) -> BlockResult:
    """``check_block`` of newline-separated entries (no final newline): one object to send
    to another process instead of one per line."""
    return check_block(start, text.split(b"\n"), stops)
