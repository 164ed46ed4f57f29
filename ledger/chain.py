"""Log entries: building them, their canonical bytes, and reading them back.

Owns DESIGN.md's entry format: the RFC 8785 bytes of
``{v, seq, ts, actor, item, type, data, prev, item_prev, sig}`` and the leaf
hash SHA-256(0x00 ‖ bytes) that is at once the entry's id, the ``prev`` link
of the next entry and the RFC 6962 leaf at index ``seq``. Pure: the clock
value and the links are given; storage is ``ledger/store``'s, and verifying
entries and chains is ``ledger/verify``'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from hashing import HashingError, canonical_json, leaf_hash

FORMAT_VERSION = 1
ZERO_HASH = "0" * 64
_FIELDS = ("v", "seq", "ts", "actor", "item", "type", "data", "prev", "item_prev", "sig")
_NONE = type(None)
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "v": (int,),
    "seq": (int,),
    "ts": (str,),
    "actor": (str,),
    "item": (str, _NONE),
    "type": (str,),
    "data": (dict,),
    "prev": (str,),
    "item_prev": (str, _NONE),
    "sig": (dict, _NONE),
}


@dataclass(frozen=True)
class Entry:
    """One log entry: its fields, canonical bytes and leaf hash (hex)."""

    seq: int
    ts: str
    actor: str
    item: str | None
    type: str
    data: dict[str, Any]
    prev: str
    item_prev: str | None
    sig: dict[str, str] | None
    body: bytes
    hash: str

    def to_wire(self) -> dict[str, Any]:
        """The canonical fields plus ``hash``, as the API returns an entry."""
        return {
            "v": FORMAT_VERSION,
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "item": self.item,
            "type": self.type,
            "data": self.data,
            "prev": self.prev,
            "item_prev": self.item_prev,
            "sig": self.sig,
            "hash": self.hash,
        }


class EntryContent(Protocol):
    """What an entry says, for the readers that need no more than that (the mass
    and access rules, the reports): an ``Entry`` is one, and so is a lighter
    value that leaves out the bytes, the links and the signature."""

    @property
    def seq(self) -> int: ...

    @property
    def ts(self) -> str: ...

    @property
    def actor(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def data(self) -> Mapping[str, Any]: ...


@lru_cache(maxsize=16)
def format_ts(now: datetime) -> str:
    """RFC 3339 UTC with microseconds and ``Z``, as the entry format fixes it.

    Remembered for the last few times: every entry of a transaction carries the
    same one.

    Raises:
        ValueError: a naive datetime (a ledger never guesses the zone).
    """
    if now.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_entry(
    *,
    seq: int,
    now: datetime,
    actor: str,
    item: str | None,
    type: str,
    data: dict[str, Any],
    prev: str,
    item_prev: str | None,
    sig: dict[str, str] | None = None,
) -> Entry:
    """Make the entry at ``seq`` linked to ``prev`` (and ``item_prev``).

    Raises:
        ValueError: a negative seq, a malformed link, or a float in ``data``.
    """
    if seq < 0:
        raise ValueError("seq must be >= 0")
    if seq == 0 and prev != ZERO_HASH:
        raise ValueError("entry 0 links to the zero hash")
    _check_hex(prev, "prev")
    if item_prev is not None:
        _check_hex(item_prev, "item_prev")
    ts = format_ts(now)
    fields: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "seq": seq,
        "ts": ts,
        "actor": actor,
        "item": item,
        "type": type,
        "data": data,
        "prev": prev,
        "item_prev": item_prev,
        "sig": sig,
    }
    try:
        body = canonical_json(fields)
    except HashingError as exc:
        raise ValueError(f"cannot canonicalize: {exc}") from exc
    return Entry(
        seq, ts, actor, item, type, data, prev, item_prev, sig, body, leaf_hash(body).hex()
    )


def parse_entry(body: bytes) -> Entry:
    """Read an entry back from its stored canonical bytes.

    Raises:
        ValueError: not JSON, not canonical, or missing/extra fields.
    """
    try:
        fields = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(fields, dict) or set(fields) != set(_FIELDS):
        raise ValueError("fields differ from the entry format")
    for name, kinds in _FIELD_TYPES.items():
        # bool is an int in Python but never a valid value of any field.
        if isinstance(fields[name], bool) or not isinstance(fields[name], kinds):
            raise ValueError(f"field {name} has the wrong type")
    if fields["v"] != FORMAT_VERSION:
        raise ValueError(f"unknown format version {fields['v']!r}")
    try:
        canonical = canonical_json(fields)
    except (ValueError, HashingError) as exc:
        raise ValueError(f"cannot canonicalize: {exc}") from None
    if canonical != body:
        raise ValueError("bytes are not the canonical (RFC 8785) form")
    return _entry(fields, body, leaf_hash(body).hex())


def _entry(fields: dict[str, Any], body: bytes, entry_hash: str) -> Entry:
    return Entry(
        seq=fields["seq"],
        ts=fields["ts"],
        actor=fields["actor"],
        item=fields["item"],
        type=fields["type"],
        data=fields["data"],
        prev=fields["prev"],
        item_prev=fields["item_prev"],
        sig=fields["sig"],
        body=body,
        hash=entry_hash,
    )


def _check_hex(value: str, name: str) -> None:
    if len(value) != 64 or value.strip("0123456789abcdef"):
        raise ValueError(f"{name} must be 64 lowercase hex digits")


@dataclass(frozen=True)
class StoredEntry:
    """An entry as a store returns it: the row's columns and the stored bytes."""

    seq: int
    hash: str
    body: bytes
    item: str | None
    type: str
    actor: str
