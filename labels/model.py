"""What a label shows about an item: ``LabelInfo`` and the item kinds' printed names.

This module owns the value handed to every renderer and the checks that keep
a label printable (known kind, a code and manufacturer that fit on one line).
Whether a code is a well-formed GB/T 34014 code is the ledger's business; a
label prints the code it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from labels.urls import check_item_id

__all__ = ["KIND_NAMES", "MAX_CODE_LENGTH", "MAX_MANUFACTURER_LENGTH", "LabelInfo", "kind_name"]

#: Item kinds and the words printed for them on a label.
KIND_NAMES: Final[dict[str, str]] = {
    "battery_pack": "Battery pack",
    "battery_module": "Battery module",
    "battery_cell": "Battery cell",
    "pv_module": "PV module",
    "wind_blade": "Wind-turbine blade",
}

#: GB/T 34014 battery codes are 24 characters; PV and blade serials are shorter.
#: Longer codes still print, on two lines, up to this length.
MAX_CODE_LENGTH: Final = 48
#: Longer names are shortened with an ellipsis when they do not fit the label.
MAX_MANUFACTURER_LENGTH: Final = 200


def kind_name(kind: str) -> str:
    """The printed name of an item kind, e.g. ``"Battery pack"``.

    Raises:
        ValueError: not one of the five item kinds.
    """
    try:
        return KIND_NAMES[kind]
    except KeyError:
        known = ", ".join(KIND_NAMES)
        raise ValueError(f"unknown item kind {kind!r}; expected one of {known}") from None


def _check_text(field: str, value: str, max_length: int) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{field} is empty")
    if len(value) > max_length:
        raise ValueError(f"{field} is {len(value)} characters long; at most {max_length} fit")
    if not value.isprintable():
        raise ValueError(f"{field} {value!r} contains control characters")
    if value != value.strip():
        raise ValueError(f"{field} {value!r} has leading or trailing spaces")


@dataclass(frozen=True)
class LabelInfo:
    """One item as its label shows it.

    Attributes:
        item_id: server id (``itm_…``), the last segment of the passport URL.
        code: the natural code, e.g. a 24-character GB/T 34014 battery code
            or a PV module serial, printed in full under the QR symbol.
        kind: ``battery_pack``, ``battery_module``, ``battery_cell``,
            ``pv_module`` or ``wind_blade``; printed in words.
        manufacturer: the maker's name as it should be printed.

    Raises:
        ValueError: on an unknown kind, an item id that cannot be part of a
            URL, or a code or manufacturer that is empty, too long or holds
            control characters.
    """

    item_id: str
    code: str
    kind: str
    manufacturer: str

    def __post_init__(self) -> None:
        check_item_id(self.item_id)
        kind_name(self.kind)
        _check_text("code", self.code, MAX_CODE_LENGTH)
        _check_text("manufacturer", self.manufacturer, MAX_MANUFACTURER_LENGTH)

    @property
    def kind_name(self) -> str:
        """The kind in words, as printed (``"PV module"``)."""
        return KIND_NAMES[self.kind]
