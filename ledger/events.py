"""Typed payloads of lifecycle events and registrations.

Owns the shape of every event's ``data`` as DESIGN.md fixes it (field names,
exact decimals for masses and percentages) and turns a raw JSON object into
a validated model, or a ``ValidationError`` that points at the bad field.
Which model belongs to which event type, and the lifecycle rules (who, from
which state), are the event registry's (``ledger/registry.py``).

Masses and percentages are decimal strings ("412.5") or integers; a binary
float is refused, since the signed bytes must be exact (EU 2023/1542 Annex
XIII asks for recovered-material shares that add up).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from ledger.errors import ValidationError

_DECIMAL_RE = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?$")
_MAX_TEXT = 200
_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON can escape them; UTF-8 cannot hold them


def _decimal_string(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError('expected a decimal string such as "412.5", not a boolean')
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, float):
        raise ValueError(
            f'binary floats are not accepted; send the exact decimal as a string, e.g. "{value}"'
        )
    if not isinstance(value, str):
        raise ValueError('expected a decimal string such as "412.5"')
    if not _DECIMAL_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a non-negative decimal with at most 12 integer and 6 fraction digits"
        )
    return value


def _percentage(value: Any) -> str:
    text = _decimal_string(value)
    if Decimal(text) > 100:
        raise ValueError(f"{text} is not a percentage between 0 and 100")
    return text


# Their JSON Schema says what they are (OpenAPI's `decimal` format), so that
# clients and the scan station's forms can ask for a decimal.
_DECIMAL_SCHEMA = {"type": "string", "format": "decimal", "pattern": _DECIMAL_RE.pattern}
DecimalStr = Annotated[
    str, pydantic.BeforeValidator(_decimal_string), pydantic.WithJsonSchema(_DECIMAL_SCHEMA)
]
Percentage = Annotated[
    str,
    pydantic.BeforeValidator(_percentage),
    pydantic.WithJsonSchema({**_DECIMAL_SCHEMA, "description": "a percentage, 0 to 100"}),
]
Text = Annotated[str, Field(min_length=1, max_length=_MAX_TEXT)]


def _iso_date(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError('expected an ISO date such as "2024-05-31"')
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date of the calendar") from None
    return value


IsoDate = Annotated[
    str,
    pydantic.BeforeValidator(_iso_date),
    pydantic.WithJsonSchema({"type": "string", "format": "date"}),
]
# The elements whose content a battery declares and a recycler recovers
# (``ledger.materials``): lithium, cobalt, nickel, manganese, copper.
ELEMENT_KEYS = ("li", "co", "ni", "mn", "cu")


class ItemKind(StrEnum):
    """The five kinds of tracked item."""

    BATTERY_PACK = "battery_pack"
    BATTERY_MODULE = "battery_module"
    BATTERY_CELL = "battery_cell"
    PV_MODULE = "pv_module"
    WIND_BLADE = "wind_blade"


class Grade(StrEnum):
    """Outcome of an assessment."""

    REUSE = "reuse"
    REPURPOSE = "repurpose"
    RECYCLE = "recycle"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _check_attribute_value(path: str, value: Any) -> None:
    if isinstance(value, float):
        raise ValueError(
            f"{path}: binary floats are not accepted; send the exact decimal as a string"
        )
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53 - 1:
        raise ValueError(f"{path}: integer too large to be exact in JSON")
    if isinstance(value, str) and _SURROGATE.search(value):
        raise ValueError(f"{path}: not valid Unicode text (a lone surrogate)")
    if isinstance(value, dict):
        for key, inner in value.items():
            _check_attribute_value(f"{path}/{key}", inner)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _check_attribute_value(f"{path}/{index}", inner)


def _attributes(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("attributes must be an object")
    from ledger.limits import free_form  # the limits the auditor applies too

    free_form(value)  # nesting, keys, lengths, size; the error points at the excess
    for key, inner in value.items():
        _check_attribute_value(key, inner)
    checked: dict[str, Any] = dict(value)
    for key in ("mass_kg", "rated_capacity_kwh"):
        if key in checked:
            checked[key] = _decimal_string(checked[key])
    if "production_date" in checked:
        checked["production_date"] = _iso_date(checked["production_date"])
    if "materials" in checked:
        checked["materials"] = _materials(checked["materials"])
    return checked


def _materials(value: Any) -> dict[str, str]:
    """``attributes.materials``: kg of each element the item contains, exact decimals."""
    if not isinstance(value, dict):
        raise ValueError('materials must be an object such as {"li": "5.2"}')
    unknown = sorted(set(value) - set(ELEMENT_KEYS))
    if unknown:
        raise ValueError(
            f"materials/{unknown[0]}: not one of {', '.join(ELEMENT_KEYS)} (kg of each element)"
        )
    out = {}
    for key, mass in value.items():
        try:
            out[key] = _decimal_string(mass)
        except ValueError as exc:
            raise ValueError(f"materials/{key}: {exc}") from None
    return out


# Keys kept exactly as sent: the payload models strip surrounding whitespace from
# text, which on attribute names would merge " a" into "a" and drop a value.
_AttributeName = Annotated[str, pydantic.StringConstraints(strip_whitespace=False)]
Attributes = Annotated[dict[_AttributeName, Any], pydantic.BeforeValidator(_attributes)]


class _Event(_Payload):
    """The data of an entry about an item: every one may say when it happened."""

    # The day it happened (default: the day it is recorded; never later).
    date: IsoDate | None = None


class Registration(_Event):
    """A new item: what is registered, and the data of its ``registered`` entry."""

    kind: ItemKind
    code: Annotated[str, Field(min_length=1, max_length=64)]
    attributes: Attributes = Field(default_factory=dict)
    parent: str | None = None
    origin: str | None = None


class Installed(_Event):
    """Put into service: in a vehicle (`vin`) or at a site (`site`), exactly one."""

    vin: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    site: Text | None = None

    @pydantic.model_validator(mode="after")
    def _one_place(self) -> Installed:
        if (self.vin is None) == (self.site is None):
            raise ValueError("give exactly one of vin (vehicle) or site (installation site)")
        return self


class Retired(_Event):
    """Taken out of service, with the reason and, optionally, the ISO date it happened."""

    reason: Text


class Transferred(_Event):
    """Custody moves to the org `to_org` (an oem, operator or recycler)."""

    to_org: Annotated[str, Field(min_length=1, max_length=64)]


class Collected(_Event):
    """Taken in by a recycler at `site`, weighed there: `mass_kg`, an exact decimal string."""

    site: Text
    mass_kg: DecimalStr


class Assessed(_Event):
    """State of health in percent (a decimal string) and the grade it leads to."""

    soh_pct: Percentage
    grade: Grade


class Repurposed(_Event):
    """A second life: a new item of the same kind with the code `new_code`, for
    `application`; the ledger registers it (its id is the entry's `new_item`)."""

    new_code: Annotated[str, Field(min_length=1, max_length=64)]
    application: Text
    attributes: Attributes = Field(default_factory=dict)


class Child(_Payload):
    """A part taken out: registered as a new item whose parent is the dismantled one."""

    kind: ItemKind
    code: Annotated[str, Field(min_length=1, max_length=64)]
    attributes: Attributes = Field(default_factory=dict)


class Dismantled(_Event):
    """Taken apart into `children`, each registered as a new item (its id is added to
    the entry as the child's `item`)."""

    children: Annotated[list[Child], Field(max_length=1000)]


class Recovered(_Payload):
    """One recovered material and its mass; for a battery element, which one and how
    much of it (a known compound's element mass is computed: ``ledger.materials``)."""

    material: Text
    mass_kg: DecimalStr
    element: Literal["li", "co", "ni", "mn", "cu"] | None = None
    element_mass_kg: DecimalStr | None = None


class Recycled(_Event):
    """Material recovery: the input mass, what was recovered (never more in total than
    the input) and the process."""

    input_mass_kg: DecimalStr
    recovered: Annotated[list[Recovered], Field(min_length=1, max_length=100)]
    process: Text


class Disposed(_Event):
    """Disposed of without recovery, by `method` (e.g. cement co-processing for blades)."""

    method: Text


class Corrected(_Event):
    """Amends the entry `seq` (written by the same org) without rewriting it: the
    corrected `fields` with their new values."""

    seq: Annotated[int, Field(ge=0)]
    fields: dict[str, Any]

    @pydantic.field_validator("fields")
    @classmethod
    def _non_empty(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise ValueError("name at least one corrected field")
        for key, inner in value.items():
            _check_attribute_value(key, inner)
        return value


def _check_storable(path: str, value: Any) -> None:
    """Text a database can hold: no U+0000 (PostgreSQL text) and no lone surrogate (UTF-8)."""
    if isinstance(value, str) and ("\x00" in value or _SURROGATE.search(value)):
        raise ValueError(f"{path}: text may not hold U+0000 or a lone surrogate")
    if isinstance(value, dict):
        for key, inner in value.items():
            _check_storable(f"{path}/{key}", key)
            _check_storable(f"{path}/{key}", inner)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _check_storable(f"{path}/{index}", inner)


class EventLine(_Payload):
    """One line of a bulk event request: an event on the item it names.

    Only the shape is checked here; ``data`` is the event type's payload model's
    (``ledger.registry.parse_event``), so a bad field points under ``/data``.
    """

    item: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
    type: Annotated[str, Field(min_length=1, max_length=64)]
    data: dict[str, Any]

    @pydantic.field_validator("data")
    @classmethod
    def _storable(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Refused here, on its own line, rather than by the database for the whole request.
        _check_storable("data", value)
        return value


def _pointer(prefix: str, loc: tuple[int | str, ...]) -> str:
    return prefix + "".join(f"/{part}" for part in loc)


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], raw: Any, *, pointer: str = "") -> M:
    """Validate ``raw`` into ``model``.

    Raises:
        ValidationError: naming the first bad field as a JSON pointer below
            ``pointer``, with every problem listed in ``errors``.
    """
    try:
        return model.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = [
            {
                "pointer": _pointer(pointer, tuple(err["loc"])),
                "detail": err["msg"].removeprefix("Value error, "),
            }
            for err in exc.errors(include_url=False)
        ]
        first = problems[0]
        where = first["pointer"] or "/"  # "/": the value as a whole
        raise ValidationError(
            f"{where}: {first['detail']}", pointer=where, errors=problems
        ) from None


def dump(payload: BaseModel) -> dict[str, Any]:
    """The payload as it goes into the signed entry (no nulls, no floats)."""
    return payload.model_dump(mode="json", exclude_none=True)
