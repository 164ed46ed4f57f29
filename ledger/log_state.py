"""The log's state as an overseer reads it: size, head, the latest checkpoint and its witnesses.

Owns ``log_state``: one lookup (no transaction, nothing signed or published) of the
log's size and head, the latest signed checkpoint with the witness cosignature lines
kept beside it, each cosignature verified against the witness keys regulators
registered (C2SP tlog-cosignature/v1, its timestamp read from the verified line).
Signing checkpoints and accepting cosignatures is ``ledger.transparency``'s; checking
the whole chain is ``ledger.verify``'s, a scan of every entry that this read never runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from hashing import HashingError
from hashing.note import open_checkpoint
from hashing.note_keys import Verifier, parse_verifier_key
from ledger.records import CheckpointRecord
from ledger.store.base import Store

__all__ = ["Cosignature", "LogState", "log_state"]


@dataclass(frozen=True)
class Cosignature:
    """A witness's verified cosignature: its key name and when it signed (UTC)."""

    witness: str
    signed_at: datetime


@dataclass(frozen=True)
class LogState:
    """What ``log_state`` read.

    Attributes:
        size: entries in the log.
        head: hex leaf hash of the last entry, None for an empty log.
        checkpoint: the latest signed checkpoint (its note with every cosignature
            line), None before the first.
        cosignatures: the cosignatures on it that verified, oldest first.
        problem: why the cosignatures could not be checked, else None.
    """

    size: int
    head: str | None
    checkpoint: CheckpointRecord | None
    cosignatures: tuple[Cosignature, ...] = ()
    problem: str | None = None

    @property
    def pending(self) -> int:
        """Entries appended since the latest checkpoint."""
        return self.size - (self.checkpoint.size if self.checkpoint else 0)


def log_state(store: Store, log_verifier: Verifier) -> LogState:
    """The log's size and head, and its latest checkpoint with verified cosignatures.

    Args:
        store: the log's store, read once without a transaction.
        log_verifier: the log's own key, whose signature the checkpoint must carry.

    Returns:
        The state; a cosignature that does not verify leaves ``cosignatures`` empty
        and says why in ``problem`` (the stored lines were checked when accepted, so
        this means the store changed beneath the service).
    """
    with store.lookup() as r:
        size = r.size()
        head = r.head()
        latest = r.latest_checkpoint()
        lines = r.cosignature_lines(latest.size) if latest is not None else []
        keys = r.witness_keys() if lines else []
    if latest is None:
        return LogState(size, head[1] if head else None, None)
    note = latest.note + "".join(line + "\n" for line in lines)
    record = CheckpointRecord(latest.size, latest.root, note, latest.created_at)
    try:
        witnesses = [parse_verifier_key(key) for key in keys]
        _, opened = open_checkpoint(note, log_verifier, witnesses)
    except HashingError as exc:
        return LogState(size, head[1] if head else None, record, problem=str(exc))
    stamps = sorted(opened.cosignatures.items(), key=lambda pair: (pair[1], pair[0]))
    cosignatures = tuple(
        Cosignature(name, datetime.fromtimestamp(stamp, UTC)) for name, stamp in stamps
    )
    return LogState(size, head[1] if head else None, record, cosignatures)
