"""Personal data: which fields hold it, who may read it, and masking it for the others.

Owns the one list of personal fields (``PERSONAL_FIELDS``) and the rules every
read applies with it:

* **Who sees personal data.** Regulators alone (``sees_personal``). A vehicle
  identification number or an owner's name can identify a natural person
  (Regulation (EU) 2016/679, Art. 4(1)); makers, operators and recyclers trace
  the item without them.
* **Where it is.** Anywhere in an item's attributes or an entry's ``data``, at any
  depth: an ``installed`` VIN, an owner named in a registration's attributes, a
  ``corrected`` entry's ``fields``, a part's or a second life's attributes. A
  field is personal by its name, compared without case or punctuation
  (``Owner-Name`` is ``owner_name``).
* **How it is hidden.** ``mask`` keeps the shape (the value becomes ``None``) and
  names each masked value by its JSON pointer (RFC 6901), for a reader that must
  know something was withheld, such as an entry whose signed bytes no longer
  rebuild from what is shown; ``strip`` drops the fields, for a view such as the
  passport.

Pure: values in, values out. The event registry declares each event's personal
``data`` fields (``EventSpec.personal``); attributes are free-form, so the names
that are personal there are declared here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ledger.lifecycle import Role
from ledger.registry import PERSONAL_FIELDS as _EVENT_FIELDS

__all__ = ["PERSONAL_FIELDS", "is_personal", "mask", "sees_personal", "strip"]

# Attribute names that identify a vehicle's or an installation's keeper.
_ATTRIBUTE_FIELDS = frozenset(
    {
        "vin",
        "owner",
        "owner_name",
        "owner_address",
        "owner_email",
        "owner_phone",
        "keeper",
        "keeper_name",
        "driver",
        "driver_name",
        "customer_name",
        "licence_plate",
        "license_plate",
        "registration_plate",
    }
)

PERSONAL_FIELDS: frozenset[str] = _EVENT_FIELDS | _ATTRIBUTE_FIELDS
"""Every field that holds personal data, in an entry's ``data`` or an item's attributes."""


def _folded(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.casefold())


_FOLDED = frozenset(_folded(name) for name in PERSONAL_FIELDS)


def is_personal(name: str) -> bool:
    """Whether a field of this name holds personal data (case and punctuation aside)."""
    return _folded(name) in _FOLDED


def sees_personal(role: Role | None) -> bool:
    """Whether an org of ``role`` may read personal data: regulators only."""
    return role is Role.REGULATOR


def _escape(key: str) -> str:
    # RFC 6901 section 3: "~" is "~0" and "/" is "~1" in a reference token.
    return key.replace("~", "~0").replace("/", "~1")


def _walk(value: Any, pointer: str, drop: bool, found: list[str]) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            where = f"{pointer}/{_escape(str(key))}"
            if is_personal(str(key)):
                found.append(where)
                if not drop:
                    out[key] = None
                continue
            out[key] = _walk(inner, where, drop, found)
        return out
    if isinstance(value, list):
        return [_walk(inner, f"{pointer}/{i}", drop, found) for i, inner in enumerate(value)]
    return value


def mask(value: Any, pointer: str = "") -> tuple[Any, list[str]]:
    """``value`` with every personal value replaced by ``None``, and where they were.

    Args:
        value: JSON-like data (mappings, lists, scalars); not changed.
        pointer: the JSON pointer of ``value`` itself, prefixed to those returned.

    Returns:
        The masked copy and the JSON pointers of the masked values, in order.
    """
    found: list[str] = []
    return _walk(value, pointer, False, found), found


def strip(value: Any) -> Any:
    """``value`` without its personal fields, at any depth (a copy)."""
    return _walk(value, "", True, [])
