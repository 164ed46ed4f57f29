"""How big and how deep a JSON value may be: the limits the server and the auditor share.

Owns the limits on three kinds of JSON value and the one walk that checks them:

* ``FREE_FORM``: a value whose shape the ledger does not fix (an item's ``attributes``).
  It is signed into the log and kept in the items table, and every auditor re-reads it,
  so it is bounded well below anything a real item needs: 16 levels, 64 keys of at most
  256 bytes, strings of 4 KiB, arrays of 1,000 items, 16 KiB in all (canonical bytes).
* ``ENTRY``: a whole log entry, as the auditor (``ledger.verify.entry``) reads it. Every
  entry the server writes fits: free-form values sit at most four levels down (``data``,
  ``children``, a child, ``attributes``), payload models bound their other fields
  (``Dismantled.children``: 1,000), and ``ledger.commit.Tx.append`` refuses to write an
  entry outside these limits, so nothing the server writes fails an audit. 24 MiB holds
  a ``dismantled`` entry with 1,000 children of 16 KiB attributes each.
* ``BODY``: a request body, checked before anything parses it into a model
  (``api.bodies``): 32 levels, 64 keys, strings of 16 KiB (a scanned text of 2,048
  characters), arrays of 5,000 (a label sheet); the outermost array is the route's to
  bound (the lines of a bulk request). The size of the whole body is the server's setting.

Why limits at all: a value nested a few hundred levels deep is a 2 KB request that makes
recursive code (pydantic's serializer, the canonical encoders, which give up at different
depths: ``orjson`` at 255, ``rfc8785`` at the interpreter's recursion limit) fail or
disagree, so an entry the server wrote could fail every later audit. Far below those
depths, every encoder and parser agrees, and the walk here is iterative and linear.

``find_excess`` answers the first place, in document order, where a value breaks its
limits (an ``Excess`` with the limit's name, its value and the JSON pointer); ``fits``
answers the same question as a yes or no, faster, for the common case of values that fit.
``free_form`` is the check of ``attributes`` for the payload models (``ledger.events``),
``entry_excess`` the auditor's check of an entry and ``refuse_unauditable`` the writer's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Any

import orjson
import pydantic_core

from ledger.errors import ValidationError

__all__ = [
    "BODY",
    "ENTRY",
    "ENTRY_BYTES",
    "FREE_FORM",
    "Excess",
    "JsonLimits",
    "LimitExceededError",
    "entry_excess",
    "find_excess",
    "fits",
    "free_form",
    "pointer_of",
    "refuse_unauditable",
    "surely_fits",
]


@dataclass(frozen=True)
class JsonLimits:
    """The bounds of one kind of JSON value.

    Attributes:
        what: what is bounded, for messages ("free-form value").
        depth: containers nested in one another; the value itself, an object or an
            array, is at depth 1, a scalar adds nothing.
        keys: members of one object.
        key_bytes: UTF-8 bytes of one object key.
        string_bytes: UTF-8 bytes of one string.
        items: elements of one array.
        total_bytes: canonical UTF-8 bytes of the whole value (None: not bounded here).
    """

    what: str
    depth: int
    keys: int
    key_bytes: int
    string_bytes: int
    items: int
    total_bytes: int | None


FREE_FORM = JsonLimits(
    "free-form value",
    depth=16,
    keys=64,
    key_bytes=256,
    string_bytes=4 * 1024,
    items=1000,
    total_bytes=16 * 1024,
)
ENTRY_BYTES = 24 * 1024 * 1024
ENTRY = JsonLimits(
    "entry",
    depth=32,
    keys=64,
    key_bytes=4 * 1024,
    string_bytes=4 * 1024,
    items=1000,
    total_bytes=ENTRY_BYTES,
)
BODY = JsonLimits(
    "request body",
    depth=32,
    keys=64,
    key_bytes=4 * 1024,
    string_bytes=16 * 1024,
    items=5000,
    total_bytes=None,
)


@dataclass(frozen=True)
class Excess:
    """Where a value breaks its limits.

    Attributes:
        limit: the name of the limit broken (a ``JsonLimits`` field: ``depth``, ``keys``,
            ``key_bytes``, ``string_bytes``, ``items``, ``total_bytes``).
        bound: that limit's value.
        path: the keys and indexes from the value to where it is broken.
        detail: what is there, in words.
    """

    limit: str
    bound: int
    path: tuple[str | int, ...]
    detail: str

    def pointer(self, prefix: str = "") -> str:
        """The RFC 6901 JSON pointer of ``path`` below ``prefix``."""
        return pointer_of(self.path, prefix)


class LimitExceededError(ValidationError):
    """A JSON value is deeper, larger or longer than its limit allows."""

    code = "limit-exceeded"
    title = "Limit exceeded"


def pointer_of(path: Iterable[str | int], prefix: str = "") -> str:
    """RFC 6901: each step after a ``/``, with ``~`` as ``~0`` and ``/`` as ``~1``."""
    steps = (str(step).replace("~", "~0").replace("/", "~1") for step in path)
    return prefix + "".join("/" + step for step in steps) or "/"


_is_str = str.__instancecheck__
_is_dict = dict.__instancecheck__
_is_list = list.__instancecheck__


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _too_long(text: str, bound: int) -> bool:
    # A character is at most 4 UTF-8 bytes: most strings need no encoding to be sure.
    return len(text) * 4 > bound and (len(text) > bound or _utf8(text) > bound)


def find_excess(
    value: Any,
    limits: JsonLimits,
    *,
    depth: int = 1,
    size: int | None = None,
    root_items: int | None = None,
) -> Excess | None:
    """The first place, in document order, where ``value`` breaks ``limits``.

    Args:
        value: a JSON value as parsed (dict, list, str, int, float, bool, None).
        limits: the limits to apply.
        depth: the depth of ``value`` itself, when it sits inside a larger value.
        size: the canonical size of the whole value in bytes, when the caller has it;
            else it is measured (only when ``limits.total_bytes`` is set).
        root_items: the bound on the elements of ``value`` itself, if an array, in place
            of ``limits.items`` (the lines of a bulk request).

    Returns:
        None when ``value`` fits; else the first excess found.
    """
    stack: list[tuple[Any, tuple[str | int, ...], int]] = [(value, (), depth)]
    while stack:
        node, path, level = stack.pop()
        if isinstance(node, str):
            if _too_long(node, limits.string_bytes):
                return Excess(
                    "string_bytes",
                    limits.string_bytes,
                    path,
                    f"a string of {_utf8(node)} bytes; at most {limits.string_bytes}",
                )
            continue
        if not isinstance(node, (dict, list)):
            continue
        if level > limits.depth:
            return Excess("depth", limits.depth, path, f"nested deeper than {limits.depth} levels")
        if isinstance(node, dict):
            if len(node) > limits.keys:
                return Excess("keys", limits.keys, path, f"{len(node)} keys; at most {limits.keys}")
            inner: list[tuple[Any, tuple[str | int, ...], int]] = []
            for key, item in node.items():
                if isinstance(key, str) and _too_long(key, limits.key_bytes):
                    return Excess(
                        "key_bytes",
                        limits.key_bytes,
                        (*path, key),
                        f"a key of {_utf8(key)} bytes; at most {limits.key_bytes}",
                    )
                inner.append((item, (*path, key), level + 1))
            stack.extend(reversed(inner))
            continue
        bound = root_items if root_items is not None and not path else limits.items
        if len(node) > bound:
            return Excess("items", bound, path, f"{len(node)} items; at most {bound}")
        stack.extend((node[i], (*path, i), level + 1) for i in range(len(node) - 1, -1, -1))
    return _total_excess(value, limits, size)


def _total_excess(value: Any, limits: JsonLimits, size: int | None) -> Excess | None:
    if limits.total_bytes is None:
        return None
    if size is None:
        try:
            # As long as the canonical form: only the order of keys differs.
            size = len(orjson.dumps(value))
        except (orjson.JSONEncodeError, TypeError):
            return None  # floats, huge integers, lone surrogates: refused by their own checks
    if size > limits.total_bytes:
        return Excess(
            "total_bytes",
            limits.total_bytes,
            (),
            f"{size} bytes in all; at most {limits.total_bytes}",
        )
    return None


def fits(
    values: list[Any],
    limits: JsonLimits,
    *,
    depth: int = 1,
    root_items: int | None = None,
    lengths: bool = True,
) -> bool:
    """Whether every one of ``values`` (each at ``depth``) fits ``limits``, but for
    ``total_bytes``: the verdict of ``find_excess`` without the place, level by level
    over all of them at once. ``root_items`` is ``find_excess``'s, for each of
    ``values``; ``lengths=False`` leaves out the lengths of strings and keys, for a
    caller that knows them short (JSON text no longer than the limit holds no longer
    string or key: its text holds each one's UTF-8 bytes, or escapes that are longer)."""
    level, items = depth, limits.items if root_items is None else root_items
    long_string, long_key = limits.string_bytes // 4, limits.key_bytes // 4
    while values:
        strings = list(filter(_is_str, values)) if lengths else None
        if (
            strings
            and max(map(len, strings)) > long_string
            and any(_too_long(s, limits.string_bytes) for s in strings)
        ):
            return False
        dicts = list(filter(_is_dict, values))
        lists = list(filter(_is_list, values))
        if not dicts and not lists:
            return True
        if level > limits.depth:
            return False
        if dicts:
            if max(map(len, dicts)) > limits.keys:
                return False
            keys = list(chain.from_iterable(dicts)) if lengths else None
            if (
                keys
                and max(map(len, keys)) > long_key
                and any(_too_long(k, limits.key_bytes) for k in keys)
            ):
                return False
        if lists and max(map(len, lists)) > items:
            return False
        values = [*chain.from_iterable(map(dict.values, dicts)), *chain.from_iterable(lists)]
        level, items = level + 1, limits.items
    return True


def entry_excess(fields: Any, size: int) -> Excess | None:
    """The auditor's check of a parsed entry whose bytes are ``size`` long."""
    if size <= ENTRY_BYTES and fits([fields], ENTRY):
        return None
    return find_excess(fields, ENTRY, size=size)


def surely_fits(text: bytes, limits: JsonLimits) -> bool:
    """Whether the JSON ``text`` of a value fits ``limits`` by counts alone (all done in
    C), for the common small value; False says only "look closer" (``find_excess``).

    Each count bounds what it stands for from above, brackets and colons inside
    strings only adding to it: no container nests deeper than there are ``{`` and
    ``[``, no object has more keys than there are ``:``, no array more items than
    there are ``,`` plus one, and no string or key is longer than the text.
    """
    return (
        len(text) <= min(limits.string_bytes, limits.key_bytes)
        and (limits.total_bytes is None or len(text) <= limits.total_bytes)
        and text.count(b"{") + text.count(b"[") <= limits.depth
        and text.count(b":") <= limits.keys
        and text.count(b",") < limits.items
    )


def free_form(value: Any) -> None:
    """Check a free-form value for a payload model's validator.

    Raises:
        pydantic_core.ValidationError: located at the excess, below the field being
            validated (pydantic joins the two locations), naming the limit.
    """
    try:
        if surely_fits(orjson.dumps(value), FREE_FORM):
            return
    except orjson.JSONEncodeError:
        pass  # beyond what orjson writes (a huge integer, deep nesting): the walk decides
    excess = find_excess(value, FREE_FORM)
    if excess is None:
        return
    error = pydantic_core.PydanticCustomError(
        "limit_exceeded",
        "{what} over its {limit} limit ({bound}): {detail}",
        {
            "what": FREE_FORM.what,
            "limit": excess.limit,
            "bound": excess.bound,
            "detail": excess.detail,
        },
    )
    raise pydantic_core.ValidationError.from_exception_data(
        "free-form value", [{"type": error, "loc": excess.path, "input": value}]
    )


def refuse_unauditable(data: dict[str, Any], body: bytes) -> None:
    """Refuse to write an entry the auditor would refuse: ``data`` of the entry whose
    canonical bytes are ``body`` must fit ``ENTRY`` (``data`` is at depth 2).

    Raises:
        LimitExceededError: naming the limit and where below ``/data`` it is broken.
    """
    size = len(body)
    # The whole entry's counts bound its data's (one level up, a few keys more).
    if surely_fits(body, ENTRY) or (size <= ENTRY_BYTES and fits([data], ENTRY, depth=2)):
        return
    excess = find_excess(data, ENTRY, depth=2, size=size)
    if excess is None:  # pragma: no cover - fits and find_excess agree
        return
    pointer = excess.pointer("/data")
    raise LimitExceededError(
        f"{pointer}: {excess.detail} (the {ENTRY.what}'s {excess.limit} limit)",
        pointer=pointer,
        limit=excess.limit,
        bound=excess.bound,
    )
