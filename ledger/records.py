"""Value types of what the ledger keeps beside the entries: orgs, keys, checkpoints.

Owns the plain records that stores return and the ledger passes around. Every
record is frozen and knows nothing of the table or the dictionary that holds
it; the log entries themselves are ``ledger.chain``'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.lifecycle import Org, Role

__all__ = ["CheckpointRecord", "IdempotentAnswer", "IssuedKey", "KeyRecord", "OrgRecord"]


@dataclass(frozen=True)
class OrgRecord:
    """An org with the fields the API shows."""

    id: str
    name: str
    role: Role
    region: str

    def as_actor(self) -> Org:
        return Org(self.id, self.role, self.name)


@dataclass(frozen=True)
class KeyRecord:
    """An API key (never the key itself, only its hash is stored)."""

    id: str
    org_id: str
    revoked: bool


@dataclass(frozen=True)
class IssuedKey:
    """An API key as listed: its org and the log entries that issued and revoked it."""

    id: str
    org_id: str
    issued_seq: int
    revoked_seq: int | None

    @property
    def revoked(self) -> bool:
        return self.revoked_seq is not None


@dataclass(frozen=True)
class IdempotentAnswer:
    """The first answer to a write that carried an idempotency key, sealed.

    Attributes:
        fingerprint: what the request was (a retry must match it).
        format: how ``sealed`` is encoded (``ledger.idempotency.ANSWER_FORMAT``).
        sealed: the encoded answer, encrypted (``ledger.idempotency.AnswerSeal``).
    """

    fingerprint: str
    format: int
    sealed: bytes


@dataclass(frozen=True)
class CheckpointRecord:
    """A signed checkpoint: size, hex root, the signed note, when."""

    size: int
    root: str
    note: str
    created_at: str
