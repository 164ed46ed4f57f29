"""Signed notes, verifier keys and witness cosignatures (C2SP signed-note, tlog-cosignature).

This module owns the text formats around a checkpoint signature:

* C2SP ``signed-note``: a text ending in a newline, a blank line, then signature lines
  ``— <key name> base64(4-byte key ID ‖ signature)``. Ed25519 signatures (type 0x01) sign
  the note text itself.
* verifier keys ``<name>+<8 hex key ID>+base64(type ‖ public key)`` with
  key ID = SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4].
* C2SP ``tlog-cosignature/v1`` (type 0x04): a witness signs
  ``"cosignature/v1\\ntime <timestamp>\\n" ‖ note text`` and its signature line carries
  ``key ID ‖ 8-byte big-endian timestamp ‖ Ed25519 signature``.

Key IDs and verifier-key strings are ``hashing.note_keys``'s, the checkpoint body itself
(origin, size, root) is ``hashing.checkpoint``'s; both are re-exported here. Choosing which
keys to trust, and fetching or storing notes, are the callers' jobs.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hashing import keys
from hashing.checkpoint import Checkpoint, checkpoint_body, parse_checkpoint
from hashing.errors import KeyFormatError, NoteError
from hashing.note_keys import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    Signer,
    Verifier,
    _b64decode,
    _check_key_name,
    _has_bad_chars,
    key_hash,
    parse_signer_key,
    parse_verifier_key,
    verifier_key,
    witness_key_hash,
    witness_verifier_key,
)

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "MAX_TIMESTAMP",
    "Checkpoint",
    "NoteSignature",
    "OpenedNote",
    "Signer",
    "Verifier",
    "add_cosignature",
    "add_signature",
    "checkpoint_body",
    "cosign_checkpoint",
    "key_hash",
    "open_checkpoint",
    "open_note",
    "parse_checkpoint",
    "parse_signer_key",
    "parse_verifier_key",
    "sign_note",
    "split_note",
    "verifier_key",
    "witness_key_hash",
    "witness_verifier_key",
]

MAX_TIMESTAMP = 2**63 - 1
"""Largest cosignature timestamp allowed by tlog-cosignature."""

_SIG_PREFIX = "\u2014 "  # EM DASH, SPACE
_MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
_KEY_ID_SIZE = 4
_TIMESTAMP_SIZE = 8
_SIGNATURE_SIZES = {
    ALG_ED25519: keys.SIGNATURE_SIZE,
    ALG_COSIGNATURE_V1: _TIMESTAMP_SIZE + keys.SIGNATURE_SIZE,
}


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note.

    Attributes:
        name: the key name.
        key_hash: the 4-byte key ID.
        timestamp: for a tlog-cosignature/v1 line from a known witness, the POSIX time
            it was made; otherwise None.
    """

    name: str
    key_hash: bytes
    timestamp: int | None = None


@dataclass(frozen=True)
class OpenedNote:
    """A note whose signatures from known keys all verified.

    Attributes:
        body: the note text (ending in a newline, without the blank line).
        signatures: the verified signatures, in note order, one per key.
        unverified: signature lines from unknown keys, which were not checked.
    """

    body: str
    signatures: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the keys whose signatures verified."""
        return tuple(signature.name for signature in self.signatures)

    @property
    def cosignatures(self) -> dict[str, int]:
        """Witness name to cosignature timestamp, for each verified cosignature."""
        return {s.name: s.timestamp for s in self.signatures if s.timestamp is not None}


def sign_note(body: str, name: str, key: Ed25519PrivateKey) -> str:
    """Sign ``body`` with Ed25519 and return the signed note.

    Args:
        body: the note text; non-empty, ending in a newline, no control characters
            other than newline.
        name: the key name for the signature line.
        key: the signing key.

    Returns:
        ``body + "\\n" + "— <name> base64(key ID ‖ signature)\\n"``.

    Raises:
        NoteError: the body is not valid note text.
        KeyFormatError: the name is not a valid key name.
    """
    _check_text(body)
    return body + "\n" + _signature_line(body, name, key)


def add_signature(note: str, name: str, key: Ed25519PrivateKey) -> str:
    """Add an Ed25519 signature line for ``name`` to a signed note.

    Existing signatures are kept as they are (and not checked); an identical line is not
    added twice.

    Raises:
        NoteError: ``note`` is not a well-formed signed note.
        KeyFormatError: the name is not a valid key name.
    """
    body, _ = split_note(note)
    return _append_line(note, _signature_line(body, name, key))


def cosign_checkpoint(
    note_or_body: str, witness_name: str, key: Ed25519PrivateKey, timestamp: int
) -> str:
    """Make a tlog-cosignature/v1 signature line for a checkpoint.

    Args:
        note_or_body: the checkpoint body, or a signed checkpoint note (its body is used;
            its signatures are not checked here).
        witness_name: the witness key name.
        key: the witness's Ed25519 key.
        timestamp: POSIX time of the cosignature, ``0 <= timestamp <= 2**63 - 1``.

    Returns:
        The line ``— <name> base64(key ID ‖ timestamp (8 bytes, big-endian) ‖ signature)``
        with its newline, where the signature covers
        ``"cosignature/v1\\ntime <timestamp>\\n" + body``.

    Raises:
        NoteError: the input is not a well-formed checkpoint or the timestamp is out of
            range.
        KeyFormatError: the name is not a valid key name.
    """
    body = split_note(note_or_body)[0] if "\n\n" in note_or_body else note_or_body
    parse_checkpoint(body)
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError(f"cosignature timestamp {timestamp} is outside [0, 2**63 - 1]")
    public_key = keys.public_key_bytes(key)
    key_id = witness_key_hash(witness_name, public_key)
    stamp = timestamp.to_bytes(_TIMESTAMP_SIZE, "big")
    signature = keys.sign(key, _cosigned_message(body, timestamp))
    encoded = base64.b64encode(key_id + stamp + signature).decode("ascii")
    return f"{_SIG_PREFIX}{witness_name} {encoded}\n"


def add_cosignature(note: str, witness_name: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """Append a tlog-cosignature/v1 line (see ``cosign_checkpoint``) to a signed checkpoint.

    Raises:
        NoteError: ``note`` is not a well-formed signed checkpoint, or the timestamp is
            out of range.
        KeyFormatError: the name is not a valid key name.
    """
    split_note(note)
    return _append_line(note, cosign_checkpoint(note, witness_name, key, timestamp))


def split_note(note: str) -> tuple[str, list[str]]:
    """Split a signed note into its text and its signature lines, checking the format.

    Args:
        note: the whole signed note.

    Returns:
        The note text (up to and including the newline before the last blank line) and
        the signature lines without their newlines.

    Raises:
        NoteError: the note is not valid signed-note text (control characters, no blank
            line, no signatures, a malformed signature line, trailing text).
    """
    body, lines, _ = _split_note(note)
    return body, lines


def open_note(note: str, verifiers: Sequence[Verifier]) -> OpenedNote:
    """Check the signatures of a signed note against known keys.

    A signature line is matched to a verifier by (name, key ID); lines from unknown keys
    are ignored (C2SP signed-note). Every line from a known key must verify. For a
    witness verifier (``ALG_COSIGNATURE_V1``) the line must be a tlog-cosignature/v1
    over the note text, and its timestamp is returned.

    Args:
        note: the whole signed note.
        verifiers: the known keys.

    Returns:
        The note text and its verified and unverified signatures.

    Raises:
        NoteError: the note is malformed, a signature from a known key does not verify,
            or no signature from a known key is present.
    """
    body, _, signatures = _split_note(note)
    known = {(v.name, v.key_hash): v for v in verifiers}
    verified: dict[tuple[str, bytes], NoteSignature] = {}
    unverified: dict[tuple[str, bytes], NoteSignature] = {}
    for name, key_id, signature in signatures:
        verifier = known.get((name, key_id))
        if verifier is None:
            unverified.setdefault((name, key_id), NoteSignature(name, key_id))
            continue
        timestamp = _verify_signature(verifier, body, signature)
        verified.setdefault((name, key_id), NoteSignature(name, key_id, timestamp))
    if not verified:
        names = ", ".join(sorted({name for name, _ in unverified})) or "none"
        raise NoteError(f"note has no signature from a known key (signed by: {names})")
    return OpenedNote(body, tuple(verified.values()), tuple(unverified.values()))


def open_checkpoint(
    note: str,
    log_verifier: Verifier,
    witnesses: Sequence[Verifier] = (),
    *,
    origin: str | None = None,
) -> tuple[Checkpoint, OpenedNote]:
    """Open a signed checkpoint: check the log's signature, the origin and the body.

    Args:
        note: the signed checkpoint.
        log_verifier: the log's Ed25519 key; its signature is required.
        witnesses: witness keys whose cosignatures, when present, must verify.
        origin: the expected origin line; by default the log key's name (C2SP
            tlog-checkpoint recommends that they match).

    Returns:
        The parsed checkpoint and the opened note (with the witnesses' timestamps).

    Raises:
        NoteError: the note is malformed, not signed by the log key, has a signature from
            a known key that does not verify, or has another origin.
    """
    if log_verifier.alg != ALG_ED25519:
        raise NoteError(f"log key {log_verifier.name} is not an Ed25519 note key")
    opened = open_note(note, [log_verifier, *witnesses])
    if not any(
        s.name == log_verifier.name and s.key_hash == log_verifier.key_hash
        for s in opened.signatures
    ):
        raise NoteError(f"checkpoint is not signed by the log key {log_verifier.name}")
    checkpoint = parse_checkpoint(opened.body)
    expected = log_verifier.name if origin is None else origin
    if checkpoint.origin != expected:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not {expected!r}")
    return checkpoint, opened


# --- helpers ---------------------------------------------------------------------------


def _split_note(note: str) -> tuple[str, list[str], list[tuple[str, bytes, bytes]]]:
    """Split and check a signed note: text, signature lines, (name, key ID, signature)."""
    _check_chars(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    body, block = note[: split + 1], note[split + 2 :]
    if not block or not block.endswith("\n"):
        raise NoteError("malformed note: the signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise NoteError(f"malformed note: more than {_MAX_SIGNATURES} signatures")
    return body, lines, [_parse_signature_line(line) for line in lines]


def _check_chars(text: str) -> None:
    if _has_bad_chars(text):
        raise NoteError("malformed note: not UTF-8, or a control character other than newline")


def _check_text(body: str) -> None:
    _check_chars(body)
    if not body.endswith("\n"):
        raise NoteError("note text must be non-empty and end with a newline")


def _parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    if not line.startswith(_SIG_PREFIX):
        raise NoteError(f"malformed note: signature line {line!r} does not start with '— '")
    name, _, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    try:
        _check_key_name(name)
    except KeyFormatError as exc:
        raise NoteError(f"malformed note: {exc}") from exc
    raw = _b64decode(encoded, NoteError, f"malformed note: signature by {name}")
    if len(raw) <= _KEY_ID_SIZE:
        raise NoteError(f"malformed note: signature by {name} is too short")
    return name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:]


def _signature_line(body: str, name: str, key: Ed25519PrivateKey) -> str:
    key_id = key_hash(name, keys.public_key_bytes(key))
    signature = keys.sign(key, body.encode("utf-8"))
    return f"{_SIG_PREFIX}{name} {base64.b64encode(key_id + signature).decode('ascii')}\n"


def _append_line(note: str, line: str) -> str:
    _, lines = split_note(note)
    return note if line[:-1] in lines else note + line


def _cosigned_message(body: str, timestamp: int) -> bytes:
    # tlog-cosignature, "Ed25519 signed message": header line, time line, whole note text.
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def _verify_signature(verifier: Verifier, body: str, signature: bytes) -> int | None:
    """Verify one signature from a known key; return its timestamp for a cosignature."""
    if len(signature) != _SIGNATURE_SIZES[verifier.alg]:
        raise NoteError(f"signature by {verifier.name} has the wrong length")
    timestamp: int | None = None
    if verifier.alg == ALG_COSIGNATURE_V1:
        timestamp = int.from_bytes(signature[:_TIMESTAMP_SIZE], "big")
        if timestamp > MAX_TIMESTAMP:
            raise NoteError(f"cosignature by {verifier.name} has a timestamp above 2**63 - 1")
        message = _cosigned_message(body, timestamp)
        signature = signature[_TIMESTAMP_SIZE:]
    else:
        message = body.encode("utf-8")
    if not keys.verify(verifier.public_key, message, signature):
        raise NoteError(f"signature by {verifier.name} does not verify")
    return timestamp
