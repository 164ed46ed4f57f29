"""Idempotent writes: a retry with the same key returns the first answer and writes nothing.

Owns the rule (a key is bound to one org and one request fingerprint; the same
key with another request is refused), the fingerprint (the method, the path and
the meaning of the body: its RFC 8785 canonical JSON, so a retry that spells
the same JSON otherwise is the same request), the sealing of kept answers (AES-256-GCM
under a key derived per org and key from the service secret, since the answer
to an org's creation carries its new API key, never stored in clear), and the
encoding of the answer, which is the write's own result, a ledger value (an
item written, a bulk's per-line results, an org created), kept as its JSON
form through a pydantic ``TypeAdapter`` of its type. The answer is kept in the
same transaction as the write, so a write and its answer stand or fall together.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import orjson
import pydantic
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hashing import HashingError, canonical_json, json_lines
from ledger.chain import format_ts
from ledger.commit import Tx
from ledger.errors import IdempotencyConflictError, LedgerError, revive
from ledger.records import IdempotentAnswer

__all__ = [
    "ANSWER_FORMAT",
    "AnswerSeal",
    "Idempotency",
    "Outcome",
    "Refusal",
    "fingerprint",
    "once",
]

T = TypeVar("T")

ANSWER_FORMAT = 1
"""How kept answers are encoded: 1 is the JSON of the write's result, sealed.
Answers kept in another format (older versions kept the rendered answer)
are not replayed: the retry is refused and asks for a new key."""


def _revive(value: Any) -> LedgerError:
    return value if isinstance(value, LedgerError) else revive(value)


Refusal = Annotated[
    LedgerError,
    pydantic.PlainValidator(_revive),
    pydantic.PlainSerializer(LedgerError.describe, return_type=dict[str, Any]),
]
"""A refusal inside a result (one line of a bulk write): kept by its code and fields."""


def fingerprint(method: str, path: str, body: bytes, *, lines: bool = False) -> str:
    """What an idempotency key is bound to: SHA-256 of the method, the path and the body.

    A JSON body counts by its RFC 8785 canonical form (``hashing.canonical_json``):
    other spacing, key order or escapes spell the same request. JSON Lines
    (``lines``) count line by line, in order, each by its canonical form; blank
    lines count too, since the answer numbers the lines by them. A body the
    ledger cannot canonicalize (not JSON, not UTF-8, a binary float, an integer
    beyond I-JSON's range) counts by its bytes.

    Args:
        lines: the body is JSON Lines (by its ``Content-Type``), else one JSON value.
    """
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    try:
        if lines:
            text = json_lines(body.decode("utf-8"))
            form = b"lines\n" + b"\n".join(
                canonical_json(orjson.loads(t)) if t.strip() else b"" for t in text
            )
        else:
            form = b"json\n" + canonical_json(orjson.loads(body))
    # Not UTF-8 or not JSON (ValueError), nested too deeply, or not canonicalizable.
    except (ValueError, RecursionError, HashingError):
        form = b"bytes\n" + body
    digest.update(form)
    return digest.hexdigest()


@dataclass(frozen=True)
class Idempotency:
    """An idempotency key and the fingerprint of the request it came with."""

    org_id: str
    key: str
    fingerprint: str


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A write's result, and whether it is the first answer given again."""

    value: T
    replayed: bool = False


class AnswerSeal:
    """AES-256-GCM for kept answers, a key per (org, idempotency key).

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
        IdempotencyConflictError: the kept answer cannot be opened (another
            service secret), so it cannot be given again.
        """
        try:
            return self._aead(idempotency).decrypt(
                sealed[:12], sealed[12:], idempotency.fingerprint.encode()
            )
        except InvalidTag:
            raise _cannot_replay() from None


def _cannot_replay() -> IdempotencyConflictError:
    return IdempotencyConflictError(
        "the first answer to this idempotency key cannot be given again here; use a new key"
    )


_ADAPTERS: dict[Any, pydantic.TypeAdapter[Any]] = {}


def _adapter(kind: Any) -> pydantic.TypeAdapter[Any]:
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = pydantic.TypeAdapter(kind)
    return adapter


def once(
    seal: AnswerSeal, idempotency: Idempotency, kind: type[T], write: Callable[[Tx], T]
) -> Callable[[Tx], Outcome[T]]:
    """``write`` made idempotent under ``idempotency``: a function of the same ``Tx``.

    In the transaction: if the org used the key before, the first answer comes
    back (``replayed``) and nothing is written; otherwise ``write`` runs and its
    result is kept, sealed, beside what it wrote. Two writes with one key in the
    same group commit see each other (the second is a replay).

    Raises:
        IdempotencyConflictError: the key was used for a different request, or
            its answer cannot be given again.
    """
    adapter = _adapter(kind)

    def run(tx: Tx) -> Outcome[T]:
        kept = tx.writer.idempotent_answer(idempotency.org_id, idempotency.key)
        if kept is not None:
            if kept.fingerprint != idempotency.fingerprint:
                raise IdempotencyConflictError(
                    f"idempotency key {idempotency.key!r} was used for a different "
                    "request; use a new key for a new request"
                )
            if kept.format != ANSWER_FORMAT:
                raise _cannot_replay()
            return Outcome(adapter.validate_json(seal.open(idempotency, kept.sealed)), True)
        value = write(tx)
        sealed = seal.seal(idempotency, adapter.dump_json(value))
        tx.writer.save_idempotent_answer(
            idempotency.org_id,
            idempotency.key,
            IdempotentAnswer(idempotency.fingerprint, ANSWER_FORMAT, sealed),
            format_ts(tx.now),
        )
        return Outcome(value)

    return run
