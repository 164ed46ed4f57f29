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
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeVar

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


DecimalStr = Annotated[str, pydantic.BeforeValidator(_decimal_string)]
Percentage = Annotated[str, pydantic.BeforeValidator(_percentage)]
Text = Annotated[str, Field(min_length=1, max_length=_MAX_TEXT)]


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
    if len(value) > 64:
        raise ValueError("at most 64 attributes")
    for key, inner in value.items():
        _check_attribute_value(key, inner)
    checked: dict[str, Any] = dict(value)
    for key in ("mass_kg", "rated_capacity_kwh"):
        if key in checked:
            checked[key] = _decimal_string(checked[key])
    return checked


Attributes = Annotated[dict[str, Any], pydantic.BeforeValidator(_attributes)]


class Registration(_Payload):
    """A new item: what is registered, and the data of its ``registered`` entry."""

    kind: ItemKind
    code: Annotated[str, Field(min_length=1, max_length=64)]
    attributes: Attributes = Field(default_factory=dict)
    parent: str | None = None
    origin: str | None = None


class Installed(_Payload):
    vin: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    site: Text | None = None

    @pydantic.model_validator(mode="after")
    def _one_place(self) -> Installed:
        if (self.vin is None) == (self.site is None):
            raise ValueError("give exactly one of vin (vehicle) or site (installation site)")
        return self


class Retired(_Payload):
    reason: Text
    date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")


class Transferred(_Payload):
    to_org: Annotated[str, Field(min_length=1, max_length=64)]


class Collected(_Payload):
    site: Text
    mass_kg: DecimalStr


class Assessed(_Payload):
    soh_pct: Percentage
    grade: Grade


class Repurposed(_Payload):
    new_code: Annotated[str, Field(min_length=1, max_length=64)]
    application: Text
    attributes: Attributes = Field(default_factory=dict)


class Child(_Payload):
    kind: ItemKind
    code: Annotated[str, Field(min_length=1, max_length=64)]
    attributes: Attributes = Field(default_factory=dict)


class Dismantled(_Payload):
    children: Annotated[list[Child], Field(max_length=1000)]


class Recovered(_Payload):
    material: Text
    mass_kg: DecimalStr


class Recycled(_Payload):
    input_mass_kg: DecimalStr
    recovered: Annotated[list[Recovered], Field(min_length=1, max_length=100)]
    process: Text


class Disposed(_Payload):
    method: Text


class Corrected(_Payload):
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
        raise ValidationError(
            f"{first['pointer'] or '/'}: {first['detail']}",
            pointer=first["pointer"],
            errors=problems,
        ) from None


def dump(payload: BaseModel) -> dict[str, Any]:
    """The payload as it goes into the signed entry (no nulls, no floats)."""
    return payload.model_dump(mode="json", exclude_none=True)
