"""Checkpoint bodies (C2SP tlog-checkpoint).

This module owns the text of a checkpoint, the log's signed statement of its tree size and
root hash:

    <origin>\\n<tree size>\\n<base64 root hash>\\n[<extension line>\\n ...]

It encodes and strictly parses that body. Signing it, and checking the signatures of a
signed checkpoint, are ``hashing.note``'s job.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from hashing.errors import NoteError
from hashing.note_keys import _b64decode, _has_bad_chars
from hashing.tree import HASH_SIZE

__all__ = ["MAX_TREE_SIZE", "Checkpoint", "checkpoint_body", "parse_checkpoint"]

MAX_TREE_SIZE = 2**64 - 1
"""Largest tree size a checkpoint may state (an unsigned 64-bit integer, as in RFC 6962)."""

_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # tlog-checkpoint: no leading zeroes


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint body.

    Attributes:
        origin: the log's identity (first line).
        size: the tree size.
        root: the 32-byte RFC 6962 root hash of the tree of that size.
        extensions: the optional extension lines, without newlines.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    @property
    def body(self) -> str:
        """The checkpoint's note text, as ``checkpoint_body`` writes it."""
        return checkpoint_body(self.origin, self.size, self.root, self.extensions)


def checkpoint_body(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """Write a checkpoint body.

    Args:
        origin: the log's identity; non-empty, one line. C2SP recommends it equal the
            log's key name.
        size: the tree size, ``0 <= size <= 2**64 - 1``.
        root: the 32-byte root hash of the tree of ``size`` leaves.
        extensions: optional extension lines (non-empty, without newlines).

    Returns:
        ``origin + "\\n" + str(size) + "\\n" + base64(root) + "\\n"`` followed by each
        extension line and a newline.

    Raises:
        NoteError: a field cannot be written as a valid checkpoint.
    """
    _check_line(origin, "origin")
    if not 0 <= size <= MAX_TREE_SIZE:
        raise NoteError(f"checkpoint tree size {size} is outside [0, 2**64 - 1]")
    if len(root) != HASH_SIZE:
        raise NoteError(f"checkpoint root hash is {len(root)} bytes, expected {HASH_SIZE}")
    for line in extensions:
        _check_line(line, "extension line")
    lines = [origin, str(size), base64.b64encode(root).decode("ascii"), *extensions]
    return "".join(line + "\n" for line in lines)


def parse_checkpoint(body: str) -> Checkpoint:
    """Parse a checkpoint body strictly.

    Args:
        body: the note text only (no blank line, no signature lines).

    Returns:
        The checkpoint.

    Raises:
        NoteError: the body is not exactly origin, decimal size without leading zeroes,
            canonical base64 of a 32-byte root, and non-empty extension lines, each
            ending in a newline.
    """
    if _has_bad_chars(body):
        raise NoteError("malformed checkpoint: not UTF-8, or a control character")
    if not body.endswith("\n"):
        raise NoteError("malformed checkpoint: the body must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("malformed checkpoint: origin, size and root hash lines are required")
    if any(not line for line in lines):
        raise NoteError("malformed checkpoint: empty line in the body")
    origin, size_text, root_text, *extensions = lines
    if not _DECIMAL.fullmatch(size_text) or int(size_text) > MAX_TREE_SIZE:
        raise NoteError(f"malformed checkpoint: tree size {size_text!r} is not a decimal size")
    root = _b64decode(root_text, NoteError, "malformed checkpoint: root hash")
    if len(root) != HASH_SIZE:
        raise NoteError(f"malformed checkpoint: root hash is {len(root)} bytes")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def _check_line(text: str, what: str) -> None:
    if not text or "\n" in text or _has_bad_chars(text):
        raise NoteError(f"checkpoint {what} must be one non-empty line of text: {text!r}")
