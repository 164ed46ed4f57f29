"""The ledger's one exception hierarchy.

Every refusal the ledger makes is a ``LedgerError`` subclass with a stable
``code`` slug and a human ``detail``. Domain code never mentions HTTP: the
``api`` layer owns the single table that maps these classes to statuses
(``api/problems.py``) and renders them as RFC 9457 problem+json.

``pointer`` (optional) names where in the request the problem is, as an RFC
6901 JSON pointer (``/data/mass_kg``); ``extra`` carries machine-readable
context (for example the current holder of an item).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""

    code = "ledger-error"
    title = "Ledger error"

    def __init__(self, detail: str, *, pointer: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer
        self.extra: dict[str, Any] = extra

    def describe(self) -> dict[str, Any]:
        """The error as plain JSON-ready fields (no HTTP in here)."""
        out: dict[str, Any] = {"code": self.code, "title": self.title, "detail": self.detail}
        if self.pointer is not None:
            out["pointer"] = self.pointer
        out.update(self.extra)
        return out


class ValidationError(LedgerError):
    """The request is well-formed JSON but a value breaks a rule."""

    code = "invalid-value"
    title = "Invalid value"


class InvalidCodeError(ValidationError):
    """An item code breaks its scheme (GB/T 34014-2017 for batteries)."""

    code = "invalid-code"
    title = "Invalid item code"

    def __init__(self, detail: str, *, position: int | None = None, **extra: Any) -> None:
        if position is not None:
            extra["position"] = position
        super().__init__(detail, **extra)
        self.position = position


class MassBalanceError(ValidationError):
    """Recovered mass exceeds the input mass."""

    code = "mass-balance"
    title = "Recovered mass exceeds input mass"


class ImplausibleError(ValidationError):
    """A record no real item could produce (masses, dates); ``rule`` names the rule broken."""

    code = "implausible"
    title = "Implausible record"


class NotFoundError(LedgerError):
    """No such item, org, key or entry."""

    code = "not-found"
    title = "Not found"


class AuthError(LedgerError):
    """No key, an unknown key or a revoked key."""

    code = "unauthenticated"
    title = "Not authenticated"


class ForbiddenError(LedgerError):
    """The caller's role or custody does not allow this."""

    code = "forbidden"
    title = "Not allowed"


class ConflictError(LedgerError):
    """The request clashes with the ledger's current state."""

    code = "conflict"
    title = "Conflict"


class IllegalTransitionError(ConflictError):
    """The event cannot follow the item's current state."""

    code = "illegal-transition"
    title = "Illegal lifecycle transition"


class DuplicateError(ConflictError):
    """The code (or name) is already registered."""

    code = "duplicate"
    title = "Already exists"


class MakerCodeError(ConflictError):
    """A battery code carries a manufacturer code bound to another org."""

    code = "maker-code-bound"
    title = "Manufacturer code bound to another org"


class DuplicateInDeliveryError(ConflictError):
    """An item was scanned twice in one delivery; the first line counts."""

    code = "duplicate-in-delivery"
    title = "Scanned twice in this delivery"


class AmbiguousScanError(ConflictError):
    """A scanned code or serial matches items of more than one kind."""

    code = "ambiguous-scan"
    title = "Scan matches more than one item"


class IdempotencyConflictError(ConflictError):
    """An idempotency key was reused with a different request."""

    code = "idempotency-key-reused"
    title = "Idempotency key reused with a different request"


class ConcurrentAppendError(ConflictError):
    """Another writer advanced the chain head first."""

    code = "concurrent-append"
    title = "Concurrent append"


class InvalidTransferError(ConflictError):
    """A custody transfer names an org that cannot take custody."""

    code = "invalid-transfer"
    title = "Invalid transfer"


class ChainIntegrityError(LedgerError):
    """A stored entry does not hash or link as it should."""

    code = "chain-broken"
    title = "Chain integrity failure"


class AuditFailure(ChainIntegrityError):
    """The first thing a verification found wrong: what (``subject``) and why (``reason``).

    ``subject`` names an entry (``seq 12``), a checkpoint (``checkpoint 40``), the log
    key, an item or a bundle; ``seq`` or ``size`` carry the number when there is one.
    """

    code = "audit-failed"
    title = "Verification failed"

    def __init__(
        self, subject: str, reason: str, *, seq: int | None = None, size: int | None = None
    ) -> None:
        super().__init__(f"{subject}: {reason}")
        self.extra.update({k: v for k, v in (("seq", seq), ("size", size)) if v is not None})
        self.subject = subject
        self.reason = reason
        self.seq = seq
        self.size = size

    @classmethod
    def at_entry(cls, seq: int, reason: str) -> AuditFailure:
        """A finding about the entry at ``seq``."""
        return cls(f"seq {seq}", reason, seq=seq)

    @classmethod
    def at_checkpoint(cls, size: int | str, reason: str) -> AuditFailure:
        """A finding about the checkpoint of ``size`` (or a note named ``size``)."""
        return cls(f"checkpoint {size}", reason, size=size if isinstance(size, int) else None)


class AuditUnavailableError(LedgerError):
    """Not a finding: an audit could not run (no server, bad arguments, unreadable files)."""

    code = "audit-not-run"
    title = "The audit could not run"


class SignatureError(LedgerError):
    """A signature does not verify."""

    code = "bad-signature"
    title = "Bad signature"


class StoreUnavailableError(LedgerError):
    """The database cannot be reached."""

    code = "store-unavailable"
    title = "Storage unavailable"


@cache
def _classes_by_code() -> dict[str, type[LedgerError]]:
    found: dict[str, type[LedgerError]] = {}
    pending: list[type[LedgerError]] = [LedgerError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


def revive(described: Mapping[str, Any]) -> LedgerError:
    """The error a ``describe()`` came from (a refusal kept and read back).

    An unknown code gives a plain ``LedgerError`` carrying that code.
    """
    fields = dict(described)
    code, detail = fields.pop("code"), fields.pop("detail")
    pointer = fields.pop("pointer", None)
    fields.pop("title", None)  # the class's own
    cls = _classes_by_code().get(code, LedgerError)
    error = cls.__new__(cls)
    LedgerError.__init__(error, detail, pointer=pointer, **fields)
    if cls is LedgerError:
        error.code = code
    if isinstance(error, InvalidCodeError):
        error.position = fields.get("position")
    return error
