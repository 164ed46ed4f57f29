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


class DuplicateInDeliveryError(ConflictError):
    """An item was scanned twice in one delivery; the first line counts."""

    code = "duplicate-in-delivery"
    title = "Scanned twice in this delivery"


class AmbiguousScanError(ConflictError):
    """A scanned code or serial matches items of more than one kind."""

    code = "ambiguous-scan"
    title = "Scan matches more than one item"


class IdempotencyConflictError(ConflictError):
    """An Idempotency-Key was reused with a different request."""

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


class SignatureError(LedgerError):
    """A signature does not verify."""

    code = "bad-signature"
    title = "Bad signature"


class StoreUnavailableError(LedgerError):
    """The database cannot be reached."""

    code = "store-unavailable"
    title = "Storage unavailable"
