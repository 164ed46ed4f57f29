"""The one check of a log entry: its bytes, its hash and its links.

Owns ``check_entries`` (``check_entry`` for one entry), which every verifier runs on every
entry (the server's ``verify``, the offline audit of a bundle, a live audit and an item's
history): the bytes are the RFC 8785 form of the entry format's fields with their types
(``ledger.chain.parse_entry``'s rules) within the limits of ``ledger.limits.ENTRY``,
hash to the claimed leaf hash, agree with what a
store indexed, sit at the expected ``seq`` and link to the entry before (``prev``) and to
the item's previous entry (``item_prev``). A failure is an ``AuditFailure`` naming the
entry's seq and why. Runs of entries go first through the same checks over a whole batch at
once: ``ledger.verify.typed.check_typed`` (the lines decoded into typed structs), then, for a
batch it does not pass, ``ledger.verify.batch.check_batch`` (into dicts); a batch neither
passes is checked here, one entry at a time, which finds the first failure and says why.

Also owns ``entry_bytes``: the canonical bytes of an entry as the API returns it.
Keeping the state (the head, each item's last hash) is the caller's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from hashing import LEAF_PREFIX, HashingError, canonical_json
from ledger.chain import FORMAT_VERSION, parse_entry
from ledger.errors import AuditFailure
from ledger.limits import Excess, entry_excess
from ledger.verify.batch import check_batch
from ledger.verify.typed import check_typed

__all__ = [
    "Columns",
    "EntryRun",
    "FirstLinks",
    "check_entries",
    "check_entry",
    "entry_bytes",
]

Columns = tuple[int, str | None, str, str]
"""What a store indexed of an entry: ``(seq, item, type, actor)``."""

FirstLinks = dict[str, tuple[int, str | None]]
"""Item to ``(seq, item_prev)`` of its first entry in a run checked apart."""

_ORDER = ("actor", "data", "item", "item_prev", "prev", "seq", "sig", "ts", "type", "v")
_NONE = type(None)
# The types of the fields in ``_ORDER`` (``ledger.chain.parse_entry``'s rules).
_SHAPES = frozenset(
    (str, dict, item, item_prev, str, int, sig, str, str, int)
    for item in (str, _NONE)
    for item_prev in (str, _NONE)
    for sig in (dict, _NONE)
)
_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_BATCH = 128  # entries per whole-batch check: small enough to stay in the CPU cache


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
        or fields["v"] != FORMAT_VERSION
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
    """Why ``line`` is not an entry, in ``parse_entry``'s words."""
    try:
        parse_entry(line)
    except ValueError as exc:
        return f"stored bytes are invalid: {exc}"
    return "stored bytes are not a canonical entry"


def _limit_reason(excess: Excess) -> str:
    return (
        f"the entry breaks its {excess.limit} limit ({excess.bound}) at "
        f"{excess.pointer()}: {excess.detail}"
    )


def _prev_reason(seq: int, prev: str, head: str) -> str:
    if seq == 0:
        return "the first entry's prev is not the zero hash"
    return (
        f"prev {prev[:16]}… is not the hash of entry {seq - 1} ({head[:16]}…): "
        f"entry {seq - 1} or this link was altered"
    )


def item_link_reason(item: str, last: str | None) -> str:
    """Why an entry's ``item_prev`` is wrong, given the item's last hash (None: unseen)."""
    if last is None:
        return f"item_prev of item {item} links to an entry, but this is its first entry"
    return f"item_prev of item {item} does not link to its previous entry ({last[:16]}…)"


def prev_link_failure(seq: int, prev: str, head: str) -> AuditFailure:
    """The finding for entry ``seq`` whose ``prev`` is not ``head``."""
    return AuditFailure.at_entry(seq, _prev_reason(seq, prev, head))


@dataclass
class EntryRun:
    """What ``check_entries`` found in a run of entries from ``start``.

    Attributes:
        count: entries that passed, from ``start``; the run stops at a failure.
        leaves: their leaf hashes, in order.
        first_prev: the first entry's ``prev``, when ``prev`` was not known.
        head: hex hash of the last entry that passed (``prev`` if none did).
        failure: the first entry that failed, and why.
    """

    count: int
    leaves: list[bytes]
    first_prev: str | None
    head: str | None
    failure: AuditFailure | None


def check_entries(
    lines: Sequence[bytes],
    start: int,
    prev: str | None,
    items: dict[str, str],
    first_links: FirstLinks | None = None,
    claimed: Sequence[str] | None = None,
    columns: Sequence[Columns] | None = None,
) -> EntryRun:
    """Check consecutive entries from ``start``, each as an entry of the log must be.

    Per entry, in this order (the first check that fails is reported): the claimed leaf
    hash, the limits of ``ledger.limits.ENTRY`` (the server writes nothing beyond them),
    the entry format and its RFC 8785 form, the indexed columns, the seq, ``prev``,
    and ``item_prev`` (null for an entry with no item).

    Args:
        lines: the entries' bytes as stored (no newlines).
        start: the seq of the first.
        prev: the hash (hex) of entry ``start - 1`` (the zero hash for entry 0), or None
            when it is not known here (a run checked apart from the entries before it,
            or one entry of an item's history).
        items: item to the hash (hex) of its last entry; updated as entries pass.
        first_links: for a run checked apart from the entries before it: an item not in
            ``items`` has its first ``(seq, item_prev)`` recorded here, to be checked by
            whoever knows the earlier entries. When None, ``items`` holds every item seen
            since entry 0 and an item's first entry must have a null ``item_prev``.
        claimed: the leaf hash (hex) a store or server gives for each entry.
        columns: what a store indexed of each entry (``seq, item, type, actor``).

    Returns:
        The run's result; ``failure`` names the first entry that is wrong.
    """
    # Batches go through the whole-batch checks (``ledger.verify.typed``, then
    # ``ledger.verify.batch``); a batch neither passes is checked entry by entry, which
    # finds the first failure and its reason.
    leaves: list[bytes] = []
    head, first_prev = prev, None
    done, total = 0, len(lines)
    while done < total:
        end = min(done + _BATCH, total)
        known = None if claimed is None else claimed[done:end]
        indexed = None if columns is None else columns[done:end]
        part = lines[done:end]
        batch = check_typed(part, start + done, head, items, first_links, known, indexed)
        if batch is None:
            batch = check_batch(part, start + done, head, items, first_links, known, indexed)
        if batch is None:
            count, head, found, reason = _check_each(
                part, start + done, head, items, first_links, known, indexed, leaves
            )
            if done == 0 and prev is None:
                first_prev = found
            if reason is not None:
                failure = AuditFailure.at_entry(start + done + count, reason)
                return EntryRun(done + count, leaves, first_prev, head, failure)
        else:
            digests, hexes, found = batch
            leaves += digests
            head = hexes[-1]
            if done == 0 and prev is None:
                first_prev = found
        done = end
    return EntryRun(total, leaves, first_prev, head, None)


def _check_each(
    lines: Sequence[bytes],
    start: int,
    prev: str | None,
    items: dict[str, str],
    first_links: FirstLinks | None,
    claimed: Sequence[str] | None,
    columns: Sequence[Columns] | None,
    leaves: list[bytes],
) -> tuple[int, str | None, str | None, str | None]:
    """``check_entries`` one entry at a time, appending the leaf hashes to ``leaves``.

    Returns:
        Entries that passed, the hash of the last (``prev`` if none did), the first
        entry's ``prev`` (when ``prev`` is None), and why the next one failed (None: none).
    """
    sha = hashlib.sha256
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    is_entry = _is_entry
    push = leaves.append
    seq, head, first_prev = start, prev, None
    reason = None
    for line in lines:
        digest = sha(LEAF_PREFIX + line).digest()
        hexed = digest.hex()
        if claimed is not None and claimed[seq - start] != hexed:
            stored = claimed[seq - start]
            reason = f"stored hash {stored[:16]}… differs from the hash of its bytes {hexed[:16]}…"
            break
        try:
            fields = loads(line)
        except decode_error:
            fields = None
        else:
            excess = entry_excess(fields, len(line))
            if excess is not None:
                reason = _limit_reason(excess)
                break
        if not is_entry(fields, line):
            reason = _format_reason(line)
            break
        if columns is not None:
            reason = _columns_reason(fields, columns[seq - start])
            if reason is not None:
                break
        if fields["seq"] != seq:
            reason = (
                f"expected entry {seq} here, found seq {fields['seq']}: entries were dropped, "
                "repeated or reordered"
            )
            break
        if head is None:
            first_prev = fields["prev"]
        elif fields["prev"] != head:
            reason = _prev_reason(seq, fields["prev"], head)
            break
        item = fields["item"]
        if item is not None:
            last = items.get(item)
            if last is None:
                if first_links is not None:
                    first_links[item] = (seq, fields["item_prev"])
                elif fields["item_prev"] is not None:
                    reason = item_link_reason(item, None)
                    break
            elif fields["item_prev"] != last:
                reason = item_link_reason(item, last)
                break
            items[item] = hexed
        elif fields["item_prev"] is not None:
            reason = "an entry with no item has an item_prev"
            break
        head = hexed
        push(digest)
        seq += 1
    return seq - start, head, first_prev, reason


def check_entry(
    line: bytes,
    seq: int,
    items: dict[str, str],
    claimed: str | None = None,
    columns: Columns | None = None,
) -> str:
    """``check_entries`` of one entry whose ``prev`` is not checked here.

    Returns:
        The entry's leaf hash (hex).

    Raises:
        AuditFailure: naming ``seq`` and the first check that fails.
    """
    run = check_entries(
        [line],
        seq,
        None,
        items,
        claimed=None if claimed is None else [claimed],
        columns=None if columns is None else [columns],
    )
    if run.failure is not None:
        raise run.failure
    return run.leaves[0].hex()


def _columns_reason(fields: dict[str, Any], columns: Columns) -> str | None:
    if fields["seq"] != columns[0]:
        return f"bytes say seq {fields['seq']}, row says {columns[0]}"
    if (fields["item"], fields["type"], fields["actor"]) != columns[1:]:
        return "indexed columns (item, type, actor) differ from the signed bytes"
    return None


def entry_bytes(wire: Mapping[str, Any]) -> bytes:
    """The canonical bytes of an entry as the API returns it (its fields without ``hash``).

    Raises:
        ValueError: the fields cannot be canonicalized.
    """
    try:
        return canonical_json({k: v for k, v in wire.items() if k != "hash"})
    except HashingError as exc:
        raise ValueError(f"cannot canonicalize: {exc}") from None
