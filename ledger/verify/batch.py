"""The entry check of a whole batch at once, over dicts: the second path of ``check_entries``.

Owns ``check_batch``: for a batch of consecutive entries (about a hundred), every check
``ledger.verify.entry.check_entries`` makes of each entry, done as operations over the
whole batch (one ``orjson`` call per line and one for the batch, then comparisons of
columns) instead of one entry at a time. ``check_entries`` tries it on the batches that
``ledger.verify.typed.check_typed`` leaves (keys from U+E000, lines longer than a string
may be, values nested deeper than its types). It answers only "every entry passes"; when
anything may be wrong it answers None and changes nothing, and the caller checks the batch
entry by entry, which names the first failure and why. So it never accepts an entry the
per-entry check refuses, and a log that passes gets the same result by either path.
Also owns ``link_items``, the item links of a batch, which both whole-batch paths share.

Why the whole-batch form is exact:

* each line is parsed alone, so lines and parsed values correspond one to one;
* the batch's values, serialized by ``orjson`` with sorted keys, are compared with
  ``[`` + the lines joined by commas + ``]``. Each side is a sequence of complete JSON
  texts joined by commas, and no JSON text followed by a comma begins a longer JSON text,
  so the joins are equal only if each line equals its value's ``orjson`` bytes;
* ``orjson``'s sorted bytes are the RFC 8785 bytes when the value holds no binary float,
  no integer beyond 2**53 - 1 (``OPT_STRICT_INTEGER`` refuses those) and no object key
  with a character at or above U+E000 (``hashing.canonical`` explains why). Floats are
  looked for in ``data`` and ``sig`` (every other field has a fixed type); keys are looked
  at only when the bytes hold a UTF-8 lead byte of such a character (0xEE to 0xF4);
* every entry fits ``ledger.limits.ENTRY``: one walk over ``data`` and ``sig``, level by
  level, checks both the kinds of value above and the depth, keys and items limits (the
  verdict of ``ledger.limits.fits`` with ``lengths=False``; the other fields are scalars).
  Lines no longer than ``ENTRY``'s longest string and key hold no string or key too long;
  a batch with a longer line also goes through ``fits`` with the lengths;
* the field types, ``seq``, ``prev`` and the indexed columns are compared column by column;
  each ``item_prev`` with the hash ``items`` holds for its item just before the entry
  (``items`` is updated entry by entry, and put back if a link is wrong).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import chain, compress, repeat
from operator import is_, itemgetter, not_
from typing import Any, cast

import orjson

from hashing import LEAF_PREFIX
from ledger.limits import ENTRY, ENTRY_BYTES, fits

__all__ = ["HIGH_LEADS", "SHORT", "Batch", "check_batch", "link_items"]

Batch = tuple[list[bytes], tuple[str, ...], str | None]
"""What passed: the leaf hashes, the same in hex, and the first entry's ``prev``."""

_ORDER = ("actor", "data", "item", "item_prev", "prev", "seq", "sig", "ts", "type", "v")
_NONE = type(None)
_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_SCALARS = frozenset((str, int, bool, _NONE))
_JSON = _SCALARS | {dict, list}
_INT, _STR = {int}, {str}
_STR_OR_NONE = frozenset((str, _NONE))
# UTF-8 lead bytes of U+E000 and above: keys holding such characters sort differently
# in RFC 8785 (by UTF-16 code units) than in orjson and msgspec (by code points).
HIGH_LEADS = tuple(bytes([b]) for b in range(0xEE, 0xF5))
_ORDER_SAFE_LIMIT = "\ue000"
_DEPTH, _KEYS, _ITEMS = ENTRY.depth, ENTRY.keys, ENTRY.items
# A line no longer than this holds no string or key beyond ``ENTRY``'s bounds.
SHORT = min(ENTRY.string_bytes, ENTRY.key_bytes)

_sha256 = hashlib.sha256
_digest = type(_sha256()).digest
_first = itemgetter(0)
_is_dict = dict.__instancecheck__
_is_list = list.__instancecheck__


def _plain_within(dicts: list[Any], check_keys: bool) -> bool:
    """Whether everything inside the objects ``dicts`` (each entry's ``data`` and ``sig``,
    at depth 2 of their entries) is a string, integer, bool, null or a container of these
    (no float), nested no deeper than ``ENTRY.depth``, no object with more than
    ``ENTRY.keys`` keys and no array with more than ``ENTRY.items`` items; with, if
    ``check_keys``, every key below U+E000. The lengths of strings and keys are the
    caller's.

    Raises:
        TypeError: one of ``dicts`` is not an object.
    """
    lists: list[list[Any]] = []
    level = 2
    while dicts or lists:
        if level > _DEPTH:
            return False
        if dicts:
            if max(map(len, dicts)) > _KEYS:
                return False
            if check_keys:
                keys = "".join(chain.from_iterable(dicts))
                if keys and max(keys) >= _ORDER_SAFE_LIMIT:
                    return False
        if lists and max(map(len, lists)) > _ITEMS:
            return False
        values = [*chain.from_iterable(map(dict.values, dicts)), *chain.from_iterable(lists)]
        kinds = set(map(type, values))
        if kinds <= _SCALARS:
            return True
        if not kinds <= _JSON:
            return False
        dicts = list(filter(_is_dict, values)) if dict in kinds else []
        lists = list(filter(_is_list, values)) if list in kinds else []
        level += 1
    return True


def check_batch(
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
        The leaf hashes, their hex and the first entry's ``prev`` when every entry passes
        (``items`` and ``first_links`` then updated as the per-entry check would); None
        when some entry may fail, with nothing changed.
    """
    count = len(lines)
    if not count:
        return [], (), None
    joined = b",".join(lines)
    high = not joined.isascii() and any(map(joined.__contains__, HIGH_LEADS))
    digests = list(map(_digest, map(_sha256, map(LEAF_PREFIX.__add__, lines))))
    hexes = tuple(map(bytes.hex, digests))
    if claimed is not None and tuple(claimed) != hexes:
        return None
    try:
        parsed = list(map(orjson.loads, lines))
        dumped = orjson.dumps(parsed, option=_SORTED)  # b"[" + each entry's bytes + b"]"
        if len(dumped) != len(joined) + 2 or not dumped.startswith(joined, 1):
            return None
        # Ten fields each, or a ValueError; dict.values refuses anything but a dict.
        actor, data, item, item_prev, prevs, seq, sig, ts, kind, v = zip(
            *map(dict.values, parsed), strict=True
        )
    except (ValueError, TypeError):  # orjson's decode and encode errors, the two above
        return None
    # Each entry's keys, in order, are the format's: column k holds only _ORDER[k].
    if list(map(tuple.count, zip(*parsed, strict=True), _ORDER)) != [count] * len(_ORDER):
        return None
    item_kinds = set(map(type, item))
    if (
        set(map(type, chain(seq, v))) != _INT
        or v.count(1) != count
        or seq != tuple(range(start, start + count))
        or prevs[1:] != hexes[:-1]
        or (type(prevs[0]) is not str if prev is None else prevs[0] != prev)
        or set(map(type, chain(actor, ts, kind))) != _STR
        or not item_kinds <= _STR_OR_NONE
        or not set(map(type, item_prev)) <= _STR_OR_NONE
    ):
        return None
    if columns is not None and list(columns) != list(zip(seq, item, kind, actor, strict=True)):
        return None
    signed = [] if sig.count(None) == count else [s for s in sig if s is not None]
    # The limits every entry fits (``ledger.limits.ENTRY``): a line no longer than a string
    # may be holds no string or key too long; the walk below checks the rest.
    longest = max(map(len, lines))
    if longest > ENTRY_BYTES or (longest > SHORT and not fits(parsed, ENTRY)):
        return None
    try:  # the walk takes only dicts: data and a sig that is not null must be objects
        if not _plain_within([*data, *signed], high):
            return None
    except TypeError:
        return None
    if not link_items(item, item_prev, seq, hexes, items, first_links, _NONE in item_kinds):
        return None
    return digests, hexes, prevs[0] if prev is None else None


def link_items(
    item: tuple[str | None, ...],
    item_prev: tuple[str | None, ...],
    seq: tuple[int, ...],
    hexes: tuple[str, ...],
    items: dict[str, str],
    first_links: dict[str, tuple[int, str | None]] | None,
    itemless_entries: bool,
) -> bool:
    """Check every ``item_prev`` against ``items``, updating it (and ``first_links``) as
    the per-entry check would; if one is wrong, put ``items`` back and answer False."""
    links = item_prev
    if itemless_entries:
        itemless = list(map(is_, item, repeat(None)))
        if set(compress(item_prev, itemless)) != {None}:
            return False
        kept = list(map(not_, itemless))
        item = tuple(compress(item, kept))
        links = tuple(compress(item_prev, kept))
        seq = tuple(compress(seq, kept))
        hexes = tuple(compress(hexes, kept))
    keys = cast(tuple[str, ...], item)
    # Each entry's item's hash before the entry (None: not seen yet), read just before the
    # entry's own hash is stored: zip takes from the first map, then the second.
    before = tuple(
        map(_first, zip(map(items.get, keys), map(items.__setitem__, keys, hexes), strict=True))
    )
    if first_links is None:
        if before == links:
            return True
    else:
        firsts = list(map(is_, before, repeat(None)))
        later = list(map(not_, firsts))
        if list(compress(links, later)) == list(compress(before, later)):
            first_links.update(
                zip(
                    compress(keys, firsts),
                    zip(compress(seq, firsts), compress(links, firsts), strict=True),
                    strict=True,
                )
            )
            return True
    for key, old in reversed(list(zip(keys, before, strict=True))):
        if old is None:
            del items[key]
        else:
            items[key] = old
    return False
