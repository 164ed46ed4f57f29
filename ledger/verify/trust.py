"""What ties a log to its key and to what an auditor saw before.

Owns the checks an auditor makes around the entries (``ledger.verify.audit`` checks the
entries and the tree):

* ``open_checkpoint_note`` and ``open_checkpoints``: every checkpoint's log signature and
  every cosignature from known witnesses (C2SP tlog-checkpoint, tlog-cosignature/v1), and
  one root per size;
* ``check_log_key`` and ``check_consistent``: trust on first use of a log key, and the
  RFC 9162 consistency proof that a newer checkpoint extends a trusted one, so a history
  rewritten after it was seen is caught even when it is internally consistent.

Each check raises ``AuditFailure`` naming the checkpoint's size or the log key, and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hashing import (
    ALG_ED25519,
    Checkpoint,
    HashingError,
    Verifier,
    open_checkpoint,
    parse_checkpoint,
    parse_verifier_key,
    split_note,
    verify_consistency,
)
from ledger.errors import AuditFailure

__all__ = [
    "SignedCheckpoint",
    "check_consistent",
    "check_log_key",
    "open_checkpoint_note",
    "open_checkpoints",
]


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
        raise AuditFailure.at_checkpoint(
            size if size is not None else label or "?", str(exc)
        ) from None
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
                    AuditFailure.at_checkpoint(
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

    Args:
        served: the key the log (or a bundle) presents.
        trusted: the key trusted before (pinned, or remembered), or None.

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
        raise AuditFailure.at_checkpoint(newer.size, f"the log shrank from {older.size} entries")
    try:
        verify_consistency(older.size, newer.size, proof, older.root, newer.root)
    except HashingError as exc:
        raise AuditFailure.at_checkpoint(
            newer.size,
            f"it is not an extension of the trusted checkpoint of size "
            f"{older.size} ({exc}): the log has rewritten its history",
        ) from None
