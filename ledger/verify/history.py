"""One item's history, checked on its own: its entries, its chain and their inclusion.

Owns ``verify_item_history``, the check both the offline auditor (``retrace audit --item``)
and the passport page run: every entry passes the one entry check
(``ledger.verify.entry.check_entry``) against the hash it is given with; the entries are
about the item, in ``seq`` order, chained by ``item_prev`` from its registration; each
entry the checkpoint covers is proved in it (RFC 9162 §2.1.3.2); and the last one is the
item's recorded head, when that is known. Opening the checkpoint (its signature) is the
caller's (``ledger.verify.trust``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hashing import Checkpoint, HashingError, verify_inclusion
from ledger.chain import StoredEntry
from ledger.errors import AuditFailure
from ledger.verify.entry import check_entry

__all__ = ["ItemReport", "verify_item_history"]


@dataclass(frozen=True)
class ItemReport:
    """What ``verify_item_history`` checked.

    Attributes:
        item: the item's id.
        entries: how many entries its history has.
        proven: entries proved to be in the checkpoint.
        newer_than_checkpoint: entries the checkpoint does not cover yet.
    """

    item: str
    entries: int
    proven: int
    newer_than_checkpoint: int


def verify_item_history(
    item_id: str,
    rows: Sequence[StoredEntry],
    checkpoint: Checkpoint,
    proofs: Mapping[int, Sequence[str]],
    *,
    head: str | None = None,
) -> ItemReport:
    """Check an item's history against a checkpoint whose signature was checked.

    Args:
        item_id: the item.
        rows: its entries in ``seq`` order: the bytes, and the hash and columns a store
            (or a server) gives with them.
        checkpoint: the signed checkpoint the proofs lead to.
        proofs: inclusion proofs (hex, bottom-up) by ``seq`` for the entries it covers.
        head: the hash of the item's last entry as a store records it, if known.

    Returns:
        What was checked.

    Raises:
        AuditFailure: naming the first entry that fails (``seq``), or the item.
    """
    # Imported here: the domain brings pydantic, which the offline audit's worker
    # processes (they import this package) do not need.
    from ledger.lifecycle import REGISTERED

    if not rows:
        raise AuditFailure(f"item {item_id}", "the item has no entries")
    items: dict[str, str] = {}
    link: str | None = None
    last_seq = -1
    proven = newer = 0
    for row in rows:
        if row.seq <= last_seq:
            raise AuditFailure(f"item {item_id}", f"entry seq {row.seq} is out of order")
        columns = (row.seq, row.item, row.type, row.actor)
        hexed = check_entry(row.body, row.seq, items, row.hash, columns)
        if row.item != item_id:
            raise AuditFailure.at_entry(row.seq, f"the entry is about {row.item}, not {item_id}")
        if link is None and row.type != REGISTERED:
            raise AuditFailure.at_entry(
                row.seq, f"the first entry of an item is {REGISTERED}, not {row.type}"
            )
        if row.seq < checkpoint.size:
            _check_inclusion(row.seq, bytes.fromhex(hexed), checkpoint, proofs.get(row.seq))
            proven += 1
        else:
            newer += 1
        link, last_seq = hexed, row.seq
    if head is not None and link != head:
        raise AuditFailure(
            f"item {item_id}",
            "the item's recorded head is not the hash of its last entry "
            "(an entry is missing or was replaced)",
        )
    return ItemReport(item_id, len(rows), proven, newer)


def _check_inclusion(
    seq: int, leaf: bytes, checkpoint: Checkpoint, path: Sequence[str] | None
) -> None:
    if path is None:
        raise AuditFailure.at_entry(
            seq, f"no inclusion proof, though checkpoint {checkpoint.size} covers it"
        )
    try:
        nodes = [bytes.fromhex(node) for node in path]
        verify_inclusion(seq, checkpoint.size, leaf, nodes, checkpoint.root)
    except (HashingError, ValueError, TypeError) as exc:
        raise AuditFailure.at_entry(
            seq, f"not proved in the checkpoint of size {checkpoint.size}: {exc}"
        ) from None
