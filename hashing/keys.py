"""Ed25519 keys and signatures (RFC 8032).

This module owns key generation, the private-key file format (unencrypted PKCS #8 PEM,
mode 0600), raw public-key bytes, and signing and verifying byte strings. What gets signed
(canonical JSON, note text) and where key files live are decided by the callers.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hashing.errors import KeyFormatError

__all__ = [
    "PUBLIC_KEY_SIZE",
    "SIGNATURE_SIZE",
    "generate_private_key",
    "load_private_key",
    "private_key_from_seed",
    "public_key_bytes",
    "save_private_key",
    "sign",
    "verify",
]

PUBLIC_KEY_SIZE = 32
"""Size in bytes of a raw Ed25519 public key (and of a private seed)."""

SIGNATURE_SIZE = 64
"""Size in bytes of an Ed25519 signature."""

_KEY_FILE_MODE = 0o600
# A private key that group or others may read (or write) is refused, as OpenSSH does.
_UNSAFE_MODE_BITS = stat.S_IRWXG | stat.S_IRWXO
_MAX_KEY_FILE_SIZE = 64 * 1024


def generate_private_key() -> Ed25519PrivateKey:
    """Generate a new random Ed25519 private key.

    Returns:
        The private key.
    """
    return Ed25519PrivateKey.generate()


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """Rebuild an Ed25519 private key from its 32-byte seed (RFC 8032 §5.1.5).

    Args:
        seed: the 32-byte private seed.

    Returns:
        The private key.

    Raises:
        KeyFormatError: ``seed`` is not 32 bytes.
    """
    if len(seed) != PUBLIC_KEY_SIZE:
        raise KeyFormatError(f"an Ed25519 seed is {PUBLIC_KEY_SIZE} bytes, not {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def save_private_key(key: Ed25519PrivateKey, path: Path) -> None:
    """Write ``key`` to a new file as unencrypted PKCS #8 PEM with mode 0600.

    The file is created with ``O_CREAT | O_EXCL``, so an existing file is never replaced,
    and it is never readable by anyone but its owner, not even while being written. A
    failed write removes the partial file.

    Args:
        key: the private key to save.
        path: where to create the file.

    Raises:
        KeyFormatError: ``path`` already exists.
        OSError: the file cannot be created or written.
    """
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, _KEY_FILE_MODE)
    except FileExistsError as exc:
        raise KeyFormatError(f"refusing to overwrite existing key file {path}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            # The umask may only have removed bits; set the mode exactly all the same.
            os.fchmod(handle.fileno(), _KEY_FILE_MODE)
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key from an unencrypted PKCS #8 PEM file.

    Args:
        path: the key file, as written by ``save_private_key``.

    Returns:
        The private key.

    Raises:
        KeyFormatError: the file is readable or writable by group or others, is not a
            regular file, is not PEM, is encrypted, or holds a key that is not Ed25519.
        OSError: the file cannot be opened or read.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise KeyFormatError(f"key file {path} is not a regular file")
        if os.name == "posix" and info.st_mode & _UNSAFE_MODE_BITS:
            raise KeyFormatError(
                f"key file {path} has mode {stat.S_IMODE(info.st_mode):04o}: a private key "
                f"must not be accessible by group or others; run `chmod 600 {path}`"
            )
        data = handle.read(_MAX_KEY_FILE_SIZE + 1)
    if len(data) > _MAX_KEY_FILE_SIZE:
        raise KeyFormatError(f"key file {path} is too large to be a PEM private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:  # cryptography raises TypeError for a missing password
        raise KeyFormatError(
            f"key file {path} is encrypted; an unencrypted key is expected"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError(f"key file {path} is not a PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError(f"key file {path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """Return the raw 32-byte Ed25519 public key (RFC 8032 §5.1.5).

    Args:
        key: a private key (its public half is used) or a public key.

    Returns:
        The 32 raw public-key bytes.
    """
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    """Sign ``message`` with Ed25519 (deterministic, RFC 8032 §5.1.6).

    Args:
        key: the private key.
        message: the exact bytes to sign.

    Returns:
        The 64-byte signature.
    """
    return key.sign(message)


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Check an Ed25519 signature (RFC 8032 §5.1.7).

    Args:
        public_key: the raw 32-byte public key.
        message: the bytes that were signed.
        signature: the signature to check.

    Returns:
        True if ``signature`` is a valid signature of ``message`` under ``public_key``,
        False otherwise (including a signature of the wrong length).

    Raises:
        KeyFormatError: ``public_key`` is not a valid 32-byte Ed25519 public key.
    """
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise KeyFormatError(
            f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes, not {len(public_key)}"
        )
    try:
        public = Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise KeyFormatError(f"invalid Ed25519 public key: {exc}") from exc
    if len(signature) != SIGNATURE_SIZE:
        return False
    try:
        public.verify(signature, message)
    except InvalidSignature:
        return False
    return True
