"""Canonical JSON: the exact bytes that get hashed and signed.

This module owns ``canonical_json``, the RFC 8785 JSON Canonicalization Scheme (JCS)
serialization of ledger entries. It does not own the wire encoding the API returns; that
may differ (indentation, extra fields) as long as the signed bytes come from here.

The values accepted are the JSON subset the ledger signs: ``dict`` with ``str`` keys,
``list``/``tuple``, ``str``, ``int``, ``bool`` and ``None``. Binary floats are refused
(masses and percentages are integers or decimal strings), and so are integers outside
the I-JSON safe range ``[-(2**53 - 1), 2**53 - 1]`` (RFC 7493 §2.2), which JCS serializes
through an IEEE 754 double and therefore cannot represent exactly (RFC 8785 §3.2.2.3).

Two encoders produce the bytes:

* ``orjson`` (fast path), used only when its output is byte-identical to RFC 8785:
  - object keys: JCS sorts by UTF-16 code units (RFC 8785 §3.2.3), orjson by UTF-8 bytes,
    i.e. by code point. The two orders agree unless a key contains a character at or
    above U+E000 (UTF-16 puts astral characters, encoded as surrogates D800-DFFF, below
    U+E000-U+FFFF; code-point order puts them above). Any such key sends the whole value
    to the reference encoder.
  - strings: both escape exactly ``"``, ``\\`` and U+0000-U+001F, using ``\\b \\t \\n
    \\f \\r`` and otherwise lowercase ``\\u00xx``, and write everything else (``/``, DEL,
    U+2028, U+2029, non-ASCII) as raw UTF-8 (RFC 8785 §3.2.2.2). The test suite checks
    this for every Unicode scalar value.
  - integers in the safe range: both write the shortest decimal form, which is what
    ES6 ``Number.prototype.toString`` gives for integral doubles below 2**53.
  - ``true``, ``false``, ``null`` and empty containers are written identically.
  Only values of the exact built-in types are sent to orjson; subclasses (``str``
  enums, ``dict`` subclasses) go to the reference encoder.
* ``rfc8785.dumps`` (reference), for everything else.
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

from hashing.errors import HashingError

__all__ = ["MAX_SAFE_INTEGER", "canonical_json", "json_lines"]

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer magnitude JCS can carry exactly (I-JSON, RFC 7493 §2.2)."""

# Keys made only of characters below U+E000 sort the same by UTF-16 code unit and by
# code point (see the module docstring).
_ORDER_SAFE_LIMIT = "\ue000"

_PLAIN_SCALARS = frozenset({str, bool, type(None)})

_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def canonical_json(obj: Any) -> bytes:
    """Serialize ``obj`` to its RFC 8785 (JCS) canonical bytes.

    Args:
        obj: a JSON value made of ``dict`` (``str`` keys), ``list``/``tuple``, ``str``,
            ``int``, ``bool`` and ``None``.

    Returns:
        The canonical UTF-8 bytes: keys sorted by UTF-16 code units, no insignificant
        whitespace, minimal string escaping.

    Raises:
        HashingError: ``obj`` contains a float, an integer outside
            ``[-(2**53 - 1), 2**53 - 1]``, a non-string object key, a string that is not
            valid Unicode (lone surrogates), a value of an unsupported type, or nesting
            too deep to serialize.
    """
    try:
        fast = _scan(obj)
    except RecursionError as exc:
        raise HashingError("value is nested too deeply (or contains a cycle)") from exc
    if fast:
        try:
            return orjson.dumps(obj, option=_ORJSON_OPTIONS)
        except orjson.JSONEncodeError:
            # Lone surrogates or nesting deeper than orjson allows: the reference encoder
            # decides (it either serializes the value or raises a precise error).
            pass
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, UnicodeError) as exc:
        # UnicodeError: an object key with a lone surrogate, found while sorting keys.
        raise HashingError(f"cannot canonicalize value: {exc}") from exc
    except RecursionError as exc:
        raise HashingError("value is nested too deeply (or contains a cycle)") from exc


def _unsafe_integer(value: int) -> HashingError:
    return HashingError(
        f"integer {value} is outside the JSON safe range ±(2**53 - 1) and cannot be "
        "canonicalized exactly (RFC 8785 §3.2.2.3); use a decimal string"
    )


def _check_scalar(value: object) -> bool:
    """Check a value that is not an exact dict/list/tuple; return whether orjson may encode it."""
    if type(value) in _PLAIN_SCALARS:
        return True
    if isinstance(value, float):
        raise HashingError(
            f"floats are not allowed in canonical JSON (found {value!r}); "
            "use an integer or a decimal string"
        )
    if isinstance(value, int):  # int, and subclasses such as IntEnum (bool is plain)
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise _unsafe_integer(value)
        return type(value) is int
    if isinstance(value, str):  # str subclasses such as StrEnum
        return False
    raise HashingError(f"cannot canonicalize a value of type {type(value).__name__}")


def _scan(value: object) -> bool:
    """Validate ``value`` and return True when orjson's output equals RFC 8785's.

    Raises HashingError for values neither encoder may accept (floats, unsafe integers,
    non-string keys, unsupported types). Scalars of the exact built-in types are checked
    inline, since this walk is most of the cost of ``canonical_json``.
    """
    if type(value) is dict:
        fast = True
        for key, item in value.items():
            if type(key) is not str:
                if not isinstance(key, str):
                    raise HashingError(f"object keys must be strings, not {type(key).__name__}")
                fast = False
            elif not key.isascii() and max(key) >= _ORDER_SAFE_LIMIT:
                fast = False
            item_kind = type(item)
            if item_kind in _PLAIN_SCALARS:
                continue
            if item_kind is int:
                if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                    raise _unsafe_integer(item)
                continue
            if not _scan(item):
                fast = False
        return fast
    if type(value) is list or type(value) is tuple:
        fast = True
        for item in value:
            item_kind = type(item)
            if item_kind in _PLAIN_SCALARS:
                continue
            if item_kind is int:
                if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                    raise _unsafe_integer(item)
                continue
            if not _scan(item):
                fast = False
        return fast
    if isinstance(value, dict):  # dict subclasses: check the contents, encode slowly
        _scan(dict(value))
        return False
    if isinstance(value, (list, tuple)):  # list and tuple subclasses
        _scan(list(value))
        return False
    return _check_scalar(value)


def json_lines(text: str) -> list[str]:
    """The lines of a JSON Lines text: split at LF only (a CR before it dropped).

    ``str.splitlines`` would also split at U+2028, U+2029, U+0085 and U+001C-U+001E,
    which JSON allows raw inside a string: a valid line holding one would come
    apart. A final LF ends the last line rather than starting an empty one.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]
