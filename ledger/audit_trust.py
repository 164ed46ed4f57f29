"""What ties a log to its key and to what an auditor saw before; one item's history.

Owns the checks an auditor makes around the entries (``ledger.audit`` checks the entries
and the tree):

* ``open_checkpoints``: every checkpoint's log signature and every cosignature from known
  witnesses (C2SP tlog-checkpoint, tlog-cosignature/v1), and one root per size;
* ``check_log_key`` and ``check_consistent``: trust on first use of a log key, and the
  RFC 9162 consistency proof that a newer checkpoint extends a trusted one, so a history
  rewritten after it was seen is caught even when it is internally consistent;
* ``verify_item_history``: one item's entries, its chain and their inclusion proofs.

Each check raises ``AuditFailure`` naming the checkpoint's size or the entry's seq, and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hashing import (
    ALG_ED25519,
    Checkpoint,
    HashingError,
    Verifier,
    canonical_json,
    leaf_hash,
    open_checkpoint,
    parse_checkpoint,
    parse_verifier_key,
    split_note,
    verify_consistency,
    verify_inclusion,
)
from ledger.audit import AuditFailure, SignedCheckpoint, checkpoint_failure, entry_failure
from ledger.chain import parse_entry

__all__ = [
    "ItemReport",
    "check_consistent",
    "check_log_key",
    "entry_bytes",
    "open_checkpoint_note",
    "open_checkpoints",
    "verify_item_history",
]


def _claimed_size(note: str) -> int | None:
    """The size a note's body states, read without trusting it (for messages)."""
    try:
        return parse_checkpoint(split_note(note)[0]).size
    except HashingError:
        return None


def open_checkpoint_note(
    note: str, log_key: Verifier, witnesses: Sequence[Verifier] = (), *, label: str | None = None
) -> SignedCheckpoint:
    """Check one signed checkpoint: the log's signature, origin, and known cosignatures.

    Args:
        note: the signed note, with any cosignature lines.
        log_key: the log's verifier key.
        witnesses: known witness keys; each of their lines must verify, others are ignored.
        label: how to name the checkpoint when its body cannot be read (a file name).

    Raises:
        AuditFailure: naming the checkpoint's size (or ``label``) and why.
    """
    try:
        checkpoint, opened = open_checkpoint(note, log_key, witnesses)
    except HashingError as exc:
        size = _claimed_size(note)
        raise checkpoint_failure(size if size is not None else label or "?", str(exc)) from None
    known = {(w.name, w.key_hash) for w in witnesses}
    cosigners = tuple(s.name for s in opened.signatures if (s.name, s.key_hash) in known)
    unknown = tuple(s.name for s in opened.unverified)
    return SignedCheckpoint(checkpoint, note, cosigners, unknown)


def open_checkpoints(
    notes: Iterable[tuple[str, str]], log_key: Verifier, witnesses: Sequence[Verifier] = ()
) -> list[SignedCheckpoint]:
    """Open every checkpoint; one root per size.

    Args:
        notes: ``(label, note)`` pairs; the label names a note whose body is unreadable.
        log_key: the log's verifier key.
        witnesses: known witness keys.

    Returns:
        The checkpoints by increasing size, one per size.

    Raises:
        AuditFailure: the smallest checkpoint that does not verify, or two signed
            checkpoints of one size with different roots (the log showed two histories).
    """
    by_size: dict[int, SignedCheckpoint] = {}
    failures: list[tuple[int, AuditFailure]] = []
    for label, note in notes:
        try:
            signed = open_checkpoint_note(note, log_key, witnesses, label=label)
        except AuditFailure as exc:
            failures.append((exc.size if exc.size is not None else -1, exc))
            continue
        other = by_size.get(signed.size)
        if other is not None and other.root != signed.root:
            failures.append(
                (
                    signed.size,
                    checkpoint_failure(
                        signed.size,
                        f"two signed checkpoints of this size have different roots "
                        f"({other.root.hex()[:16]}… and {signed.root.hex()[:16]}…): the log showed "
                        "two histories",
                    ),
                )
            )
        elif other is None or len(signed.cosigners) > len(other.cosigners):
            by_size[signed.size] = signed
    if failures:
        raise min(failures, key=lambda pair: pair[0])[1]
    return [by_size[size] for size in sorted(by_size)]


def check_log_key(served: str, trusted: str | None) -> Verifier:
    """The log's verifier key: trusted on first use, and the same key ever after.

    Raises:
        AuditFailure: the key is malformed, not an Ed25519 note key, or differs from the
            trusted one.
    """
    try:
        verifier = parse_verifier_key(served.strip())
    except HashingError as exc:
        raise AuditFailure("log key", f"not a verifier key: {exc}") from None
    if verifier.alg != ALG_ED25519:
        raise AuditFailure("log key", "the log key is not an Ed25519 note key")
    if trusted is not None and served.strip() != trusted.strip():
        raise AuditFailure(
            "log key",
            f"the log now signs with {served.strip()}, but "
            f"{trusted.strip()} was trusted before: the key changed",
        )
    return verifier


def check_consistent(older: Checkpoint, newer: Checkpoint, proof: Sequence[bytes]) -> None:
    """Check that ``newer`` extends ``older`` (RFC 9162 §2.1.4.2).

    A tree of size 0 is extended by every tree; equal sizes need equal roots.

    Raises:
        AuditFailure: naming the newer checkpoint: the log rewrote its history.
    """
    if older.size == 0:
        return
    if newer.size < older.size:
        raise checkpoint_failure(newer.size, f"the log shrank from {older.size} entries")
    try:
        verify_consistency(older.size, newer.size, proof, older.root, newer.root)
    except HashingError as exc:
        raise checkpoint_failure(
            newer.size,
            f"it is not an extension of the trusted checkpoint of size "
            f"{older.size} ({exc}): the log has rewritten its history",
        ) from None


def entry_bytes(wire: Mapping[str, Any]) -> bytes:
    """The canonical bytes of an entry as the API returns it (its fields without ``hash``).

    Raises:
        ValueError: the fields cannot be canonicalized.
    """
    try:
        return canonical_json({k: v for k, v in wire.items() if k != "hash"})
    except HashingError as exc:
        raise ValueError(f"cannot canonicalize: {exc}") from None


# --- one item's history ------------------------------------------------------------------


@dataclass(frozen=True)
class ItemReport:
    """What ``verify_item_history`` checked."""

    item: str
    entries: int
    proven: int
    newer_than_checkpoint: int


def verify_item_history(
    item_id: str,
    entries: Sequence[Mapping[str, Any]],
    proofs: Sequence[Mapping[str, Any]],
    checkpoint: Checkpoint,
) -> ItemReport:
    """Check an item's history against a checkpoint whose signature was checked.

    Each entry's hash must be the leaf hash of its canonical bytes and the entry must be
    about ``item_id``; the ``item_prev`` links must chain the entries in order from the
    item's first entry; and each entry the checkpoint covers must carry an inclusion
    proof to the checkpoint's root (RFC 9162 §2.1.3.2).

    Raises:
        AuditFailure: naming the first entry that fails.
    """
    if len(proofs) != len(entries):
        raise AuditFailure(f"item {item_id}", f"{len(entries)} entries but {len(proofs)} proofs")
    if not entries:
        raise AuditFailure(f"item {item_id}", "the history has no entries")
    link: str | None = None
    last_seq = -1
    proven = newer = 0
    for wire, proof in zip(entries, proofs, strict=True):
        seq = wire.get("seq")
        if type(seq) is not int or seq <= last_seq:
            raise AuditFailure(f"item {item_id}", f"entry seq {seq!r} is out of order")
        try:
            entry = parse_entry(entry_bytes(wire))
        except ValueError as exc:
            raise entry_failure(seq, f"not a valid entry: {exc}") from None
        if entry.hash != wire.get("hash"):
            raise entry_failure(
                seq,
                f"its bytes hash to {entry.hash[:16]}…, but the server "
                f"says {str(wire.get('hash'))[:16]}…",
            )
        if entry.item != item_id:
            raise entry_failure(seq, f"the entry is about {entry.item}, not {item_id}")
        if entry.item_prev != link:
            raise entry_failure(
                seq,
                "item_prev does not link to the item's previous entry"
                if link is not None
                else "the item's first entry has an item_prev",
            )
        if proof.get("seq") != seq:
            raise entry_failure(seq, "the proofs are not in the order of the entries")
        path = proof.get("proof")
        if seq < checkpoint.size:
            if not isinstance(path, list):
                raise entry_failure(
                    seq, f"no inclusion proof, though checkpoint {checkpoint.size} covers it"
                )
            try:
                verify_inclusion(
                    seq,
                    checkpoint.size,
                    leaf_hash(entry.body),
                    [bytes.fromhex(p) for p in path],
                    checkpoint.root,
                )
            except (HashingError, ValueError, TypeError) as exc:
                raise entry_failure(
                    seq, f"inclusion proof in checkpoint {checkpoint.size} fails: {exc}"
                ) from None
            proven += 1
        else:
            newer += 1
        link, last_seq = entry.hash, seq
    return ItemReport(item_id, len(entries), proven, newer)
