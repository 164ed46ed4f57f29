"""Errors raised by the ``hashing`` package.

This module owns the exception tree of the offline-verifiable core: one base class,
``HashingError``, and a shallow tree under it. Mapping these to HTTP statuses or CLI exit
codes is the caller's job.
"""

from __future__ import annotations

__all__ = [
    "HashingError",
    "KeyFormatError",
    "NoteError",
    "ProofError",
    "TreeSizeError",
]


class HashingError(Exception):
    """A value cannot be canonicalized, hashed, signed or verified."""


class ProofError(HashingError):
    """A Merkle inclusion or consistency proof does not verify."""


class TreeSizeError(HashingError):
    """A leaf index or tree size is out of range for the requested tree or proof."""


class NoteError(HashingError):
    """A signed note or checkpoint is malformed, or its signatures do not verify."""


class KeyFormatError(HashingError):
    """A key (file, raw bytes or verifier-key string) is malformed or unsafe to use."""
