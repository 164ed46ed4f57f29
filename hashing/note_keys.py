"""Note keys: verifier-key and signer-key strings and key IDs (C2SP signed-note).

This module owns how a note key is named and encoded:

* key ID = SHA-256(name ‖ 0x0A ‖ signature type ‖ public key)[:4];
* verifier key ``<name>+<8 hex key ID>+base64(type ‖ public key)``;
* signer key ``PRIVATE+KEY+<name>+<8 hex key ID>+base64(0x01 ‖ seed)``.

Two signature types are supported: 0x01, Ed25519 note signatures (the log's checkpoint
key), and 0x04, timestamped Ed25519 witness cosignatures (C2SP tlog-cosignature). Reading
and writing notes is ``hashing.note``'s job.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from hashing import keys
from hashing.errors import HashingError, KeyFormatError

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "Signer",
    "Verifier",
    "key_hash",
    "parse_signer_key",
    "parse_verifier_key",
    "signer_key",
    "verifier_key",
    "witness_key_hash",
    "witness_verifier_key",
]

ALG_ED25519 = 0x01
"""Signature type of plain Ed25519 note signatures (C2SP signed-note)."""

ALG_COSIGNATURE_V1 = 0x04
"""Signature type of timestamped Ed25519 witness cosignatures (C2SP tlog-cosignature)."""

_SUPPORTED_ALGS = frozenset({ALG_ED25519, ALG_COSIGNATURE_V1})
_KEY_ID_SIZE = 4
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}")
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


@dataclass(frozen=True)
class Verifier:
    """A public key a note may be checked against. Construction checks every field.

    Attributes:
        name: the key name used in signature lines.
        key_hash: the 4-byte key ID.
        public_key: the raw 32-byte Ed25519 public key.
        alg: ``ALG_ED25519`` (log signatures) or ``ALG_COSIGNATURE_V1`` (witnesses).
    """

    name: str
    key_hash: bytes
    public_key: bytes
    alg: int = ALG_ED25519

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        _check_public_key(self.public_key)
        if self.alg not in _SUPPORTED_ALGS:
            raise KeyFormatError(f"unsupported signature type 0x{self.alg:02x}")
        if self.key_hash != _key_id(self.name, self.alg, self.public_key):
            raise KeyFormatError(f"key ID {self.key_hash.hex()} does not match key {self.name}")

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes, alg: int = ALG_ED25519) -> Verifier:
        """Build a verifier for ``name`` and a raw public key, deriving its key ID.

        Raises:
            KeyFormatError: the name, key or signature type is invalid.
        """
        if alg not in _SUPPORTED_ALGS:
            raise KeyFormatError(f"unsupported signature type 0x{alg:02x}")
        return cls(name, _key_id(name, alg, public_key), public_key, alg)

    @property
    def vkey(self) -> str:
        """The verifier key string ``<name>+<hex key ID>+base64(type ‖ public key)``."""
        encoded = base64.b64encode(bytes([self.alg]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"


@dataclass(frozen=True)
class Signer:
    """A private key with the name it signs under (from a ``PRIVATE+KEY+...`` string)."""

    name: str
    key_hash: bytes
    private_key: Ed25519PrivateKey


def key_hash(name: str, public_key: bytes) -> bytes:
    """Key ID of an Ed25519 note key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4].

    Args:
        name: the key name.
        public_key: the raw 32-byte public key.

    Returns:
        The 4-byte key ID (C2SP signed-note, "Ed25519 signatures").

    Raises:
        KeyFormatError: the name or key is invalid.
    """
    return Verifier.from_public_key(name, public_key, ALG_ED25519).key_hash


def witness_key_hash(name: str, public_key: bytes) -> bytes:
    """Key ID of a witness cosigning key: SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4].

    Raises:
        KeyFormatError: the name or key is invalid.
    """
    return Verifier.from_public_key(name, public_key, ALG_COSIGNATURE_V1).key_hash


def verifier_key(name: str, public_key: bytes) -> str:
    """Encode the verifier key ``<name>+<8 hex>+base64(0x01 ‖ public key)``.

    Raises:
        KeyFormatError: the name or key is invalid.
    """
    return Verifier.from_public_key(name, public_key, ALG_ED25519).vkey


def witness_verifier_key(name: str, public_key: bytes) -> str:
    """Encode a witness verifier key ``<name>+<8 hex>+base64(0x04 ‖ public key)``.

    Raises:
        KeyFormatError: the name or key is invalid.
    """
    return Verifier.from_public_key(name, public_key, ALG_COSIGNATURE_V1).vkey


def parse_verifier_key(vkey: str) -> Verifier:
    """Parse and check a verifier key string.

    Args:
        vkey: ``<name>+<8 lowercase hex>+base64(type ‖ 32-byte public key)`` with type
            0x01 (Ed25519) or 0x04 (tlog-cosignature/v1).

    Returns:
        The verifier.

    Raises:
        KeyFormatError: the string is malformed, the type is unknown, the key has the
            wrong length, or the key ID does not match the name and key.
    """
    name, _, rest = vkey.partition("+")
    hex_id, _, encoded = rest.partition("+")
    if not _HEX_KEY_ID.fullmatch(hex_id):
        raise KeyFormatError("verifier key must be <name>+<8 hex digits>+<base64 key>")
    _check_key_name(name)
    raw = _b64decode(encoded, KeyFormatError, "verifier key")
    if not raw:
        raise KeyFormatError("verifier key has no key material")
    if hashlib.sha256(name.encode() + b"\n" + raw).digest()[:_KEY_ID_SIZE].hex() != hex_id:
        raise KeyFormatError(f"verifier key {name}: key ID {hex_id} does not match the key")
    alg, public_key = raw[0], raw[1:]
    if alg not in _SUPPORTED_ALGS:
        raise KeyFormatError(f"verifier key {name}: unknown signature type 0x{alg:02x}")
    _check_public_key(public_key)
    return Verifier(name, bytes.fromhex(hex_id), public_key, alg)


def signer_key(name: str, private_key: Ed25519PrivateKey) -> str:
    """Encode ``PRIVATE+KEY+<name>+<8 hex key ID>+base64(0x01 ‖ 32-byte seed)``, the
    signer key ``parse_signer_key`` reads (C2SP signed-note; the Go note package's form).

    The same key signs witness cosignatures: its tlog-cosignature/v1 verifier key is
    ``witness_verifier_key(name, public key)``.

    Raises:
        KeyFormatError: the name is not a valid key name.
    """
    seed = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    hex_id = key_hash(name, keys.public_key_bytes(private_key)).hex()
    encoded = base64.b64encode(bytes([ALG_ED25519]) + seed).decode("ascii")
    return f"PRIVATE+KEY+{name}+{hex_id}+{encoded}"


def parse_signer_key(skey: str) -> Signer:
    """Parse a ``PRIVATE+KEY+<name>+<8 hex>+base64(0x01 ‖ 32-byte seed)`` signer key.

    Raises:
        KeyFormatError: the string is malformed or its key ID does not match.
    """
    marker, _, rest = skey.partition("+")
    marker2, _, rest = rest.partition("+")
    name, _, rest = rest.partition("+")
    hex_id, _, encoded = rest.partition("+")
    if (marker, marker2) != ("PRIVATE", "KEY") or not _HEX_KEY_ID.fullmatch(hex_id):
        raise KeyFormatError("signer key must be PRIVATE+KEY+<name>+<8 hex>+<base64 key>")
    _check_key_name(name)
    raw = _b64decode(encoded, KeyFormatError, "signer key")
    if len(raw) != 1 + keys.PUBLIC_KEY_SIZE or raw[0] != ALG_ED25519:
        raise KeyFormatError(f"signer key {name} is not an Ed25519 seed")
    private_key = keys.private_key_from_seed(raw[1:])
    if key_hash(name, keys.public_key_bytes(private_key)).hex() != hex_id:
        raise KeyFormatError(f"signer key {name}: key ID {hex_id} does not match the key")
    return Signer(name, bytes.fromhex(hex_id), private_key)


# --- helpers shared with hashing.note ----------------------------------------------------


def _key_id(name: str, alg: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _check_key_name(name: str) -> None:
    # C2SP signed-note: non-empty, no Unicode spaces, no "+".
    if not name or "+" in name or any(c.isspace() for c in name) or _has_bad_chars(name):
        raise KeyFormatError(
            f"invalid key name {name!r}: it must be non-empty, without spaces or '+'"
        )


def _check_public_key(public_key: bytes) -> None:
    if len(public_key) != keys.PUBLIC_KEY_SIZE:
        raise KeyFormatError(f"an Ed25519 public key is 32 bytes, not {len(public_key)}")
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise KeyFormatError(f"invalid Ed25519 public key: {exc}") from exc


def _has_bad_chars(text: str) -> bool:
    """True if ``text`` has a control character other than newline, or is not UTF-8."""
    if _FORBIDDEN_CONTROL.search(text):
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _b64decode(encoded: str, error: type[HashingError], what: str) -> bytes:
    """Decode standard base64 (RFC 4648 §4), refusing all but its canonical spelling."""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise error(f"{what}: invalid base64") from exc
    if base64.b64encode(raw).decode("ascii") != encoded:
        raise error(f"{what}: non-canonical base64")
    return raw
