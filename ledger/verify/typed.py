"""The entry check of a batch decoded into typed structs: the first path of ``check_entries``.

Owns ``check_typed``: for a batch of consecutive entries, every check
``ledger.verify.entry.check_entries`` makes of each entry, with the lines decoded by
``msgspec`` into structs of the entry format's fields and types, which leaves far fewer
checks to Python than ``ledger.verify.batch.check_batch``'s dicts. Like ``check_batch`` it
answers only "every entry passes"; when anything may be wrong, or the batch holds what
this path does not decide (see below), it answers None and changes nothing, and the caller
tries ``check_batch``, then the entry-by-entry check, which names the first failure.

Why it is exact:

* the lines, joined by newlines, decode into structs or raise: an object with
  exactly the entry format's fields, each of its type (``seq`` an integer, never a bool;
  ``v`` the integer 1; ``item`` and ``item_prev`` a string or null; ``data`` an object,
  ``sig`` an object or null), and inside ``data`` and ``sig`` only strings, booleans, null,
  integers within ±(2**53 - 1), objects of at most ``ENTRY.keys`` members and arrays of at
  most ``ENTRY.items``, nested no deeper than ``TYPED_DEPTH``: no float anywhere. Deeper
  values fail to decode here and go to ``check_batch``, which walks them to ``ENTRY.depth``;
* the structs, encoded again with sorted keys, one per line, equal the joined lines and a
  final newline. An encoded entry holds no newline, and decoding reads the first JSON text
  of the remaining bytes, so they are equal only if there is one struct per line and each
  line is its struct's encoding. For these values that encoding is RFC 8785's: integers
  in decimal, strings with RFC 8785's escapes and every other character as it is (the
  tests pin it character by character), keys in code point order, which is RFC 8785's
  UTF-16 order for keys below U+E000 (``hashing.canonical``); a batch whose bytes hold a
  UTF-8 lead byte of U+E000 or above is left to ``check_batch``, which looks at its keys;
* a line no longer than ``ENTRY``'s shortest string bound holds no string or key too long
  and is within its byte bound; a batch with a longer line is left to ``check_batch``;
* ``seq``, ``prev``, the claimed hashes, the indexed columns and ``item_prev`` are
  compared column by column as ``check_batch`` compares them (``link_items``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from operator import attrgetter
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from hashing import LEAF_PREFIX, MAX_SAFE_INTEGER
from ledger.limits import ENTRY
from ledger.verify.batch import HIGH_LEADS, SHORT, Batch, link_items

__all__ = ["TYPED_DEPTH", "check_typed"]

TYPED_DEPTH = min(8, ENTRY.depth)
"""The deepest container decoded here (the entry is at depth 1, ``data`` at 2): the types
double with each level, and no entry the server writes nests deeper but for an item's
free-form ``attributes``; a batch holding a deeper value is left to ``check_batch``."""

_sha256 = hashlib.sha256
_digest = type(_sha256()).digest
_links = attrgetter("item", "item_prev", "prev", "seq")
_indexed = attrgetter("seq", "item", "type", "actor")


def _object(value: Any) -> Any:
    """An object of at most ``ENTRY.keys`` members, each ``value``."""
    return Annotated[dict.__class_getitem__((str, value)), Meta(max_length=ENTRY.keys)]


def _array(value: Any) -> Any:
    """An array of at most ``ENTRY.items`` items, each ``value``."""
    return Annotated[list.__class_getitem__(value), Meta(max_length=ENTRY.items)]


@cache
def _codecs() -> tuple[msgspec.json.Decoder[Any], msgspec.json.Encoder]:
    """The decoder of whole entries and the encoder with sorted keys, made on first use."""
    safe = Annotated[int, Meta(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)]
    scalar: Any = str | safe | bool | None
    value = scalar  # a value at depth TYPED_DEPTH + 1: no container
    for _ in range(TYPED_DEPTH, 2, -1):  # a value at depth TYPED_DEPTH, ..., 3
        value = scalar | _object(value) | _array(value)
    free = _object(value)  # data and sig, at depth 2
    entry = msgspec.defstruct(
        "TypedEntry",
        [
            ("actor", str),
            ("data", free),
            ("item", str | None),
            ("item_prev", str | None),
            ("prev", str),
            ("seq", int),
            ("sig", free | None),
            ("ts", str),
            ("type", str),
            ("v", Literal[1]),
        ],
        forbid_unknown_fields=True,
        gc=False,  # holds no cycle; its objects are freed as soon as the batch is checked
    )
    return msgspec.json.Decoder(entry), msgspec.json.Encoder(order="sorted")


def check_typed(
    lines: Sequence[bytes],
    start: int,
    prev: str | None,
    items: dict[str, str],
    first_links: dict[str, tuple[int, str | None]] | None = None,
    claimed: Sequence[str] | None = None,
    columns: Sequence[tuple[int, str | None, str, str]] | None = None,
) -> Batch | None:
    """Check entries ``start, start + 1, …`` all at once; the arguments are
    ``ledger.verify.entry.check_entries``'s.

    Returns:
        ``ledger.verify.batch.check_batch``'s answer when this path decides the batch (the
        leaf hashes, their hex and the first entry's ``prev``, with ``items`` and
        ``first_links`` updated); None when some entry may fail or this path does not
        decide the batch, with nothing changed.
    """
    count = len(lines)
    if not count:
        return [], (), None
    joined = b"\n".join(lines)
    if max(map(len, lines)) > SHORT or (
        not joined.isascii() and any(map(joined.__contains__, HIGH_LEADS))
    ):
        return None
    decoder, encoder = _codecs()
    try:
        entries = decoder.decode_lines(joined)
    except msgspec.DecodeError:  # malformed, or not of the types (ValidationError)
        return None
    if len(entries) != count:
        return None
    encoded = encoder.encode_lines(entries)
    if len(encoded) != len(joined) + 1 or not encoded.startswith(joined):
        return None
    digests = list(map(_digest, map(_sha256, map(LEAF_PREFIX.__add__, lines))))
    hexes = tuple(map(bytes.hex, digests))
    if claimed is not None and tuple(claimed) != hexes:
        return None
    item, item_prev, prevs, seq = zip(*map(_links, entries), strict=True)
    if (
        seq != tuple(range(start, start + count))
        or prevs[1:] != hexes[:-1]
        or (prev is not None and prevs[0] != prev)
    ):
        return None
    if columns is not None and list(columns) != list(map(_indexed, entries)):
        return None
    itemless = None in item
    if not link_items(item, item_prev, seq, hexes, items, first_links, itemless):
        return None
    return digests, hexes, prevs[0] if prev is None else None
