"""Plausibility at write time: dates, and each event type's own rules.

Owns the checks every write runs on what it is told happened: a date on
which something happened (an event's ``date``, a production date) is not
later than today anywhere on Earth, and an event's payload passes its type's
plausibility rules (``EventSpec.check``: masses, materials), run again on the
values of a correction. Each refusal names its ``rule`` and the figures.

Pure: the clock's reading comes in as ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from ledger.chain import Entry
from ledger.codes import BATTERY_KINDS, parse_battery_code
from ledger.errors import ImplausibleError, InvalidCodeError, LedgerError
from ledger.events import Corrected, dump, parse_model
from ledger.lifecycle import EventSpec, WriteContext, latest_date
from ledger.materials import check_content, effective_data

__all__ = ["check_correction", "check_date", "check_plausible", "check_registration"]

_PRODUCTION = "production-date-not-future"


def check_date(
    value: str | None, now: datetime, pointer: str, rule: str = "date-not-future"
) -> None:
    """A date on which something happened is not later than today (anywhere on Earth).

    Raises:
        ImplausibleError: naming ``rule``, the date and the latest date allowed.
    """
    if value is None:
        return
    latest = latest_date(now)
    if date.fromisoformat(value) > latest:
        raise ImplausibleError(
            f"{value} is in the future (today is at most {latest.isoformat()})",
            pointer=pointer,
            rule=rule,
            date=value,
            latest=latest.isoformat(),
        )


def check_plausible(
    spec: EventSpec[Any], ctx: WriteContext, payload: BaseModel, data: dict[str, Any]
) -> None:
    """The date and the event's own plausibility rules (``EventSpec.check``)."""
    check_date(getattr(payload, "date", None), ctx.now, "/data/date")
    if spec.check is not None:
        spec.check(ctx, payload, data)


def check_registration(
    kind: str,
    code: str,
    attributes: Mapping[str, Any],
    now: datetime,
    *,
    code_at: str,
    attributes_at: str,
) -> None:
    """A new item was made in the past (the production date of its GB/T 34014 code
    and of ``attributes.production_date``) and its declared content fits its mass.

    Args:
        code_at, attributes_at: JSON pointers of the code and the attributes.

    Raises:
        ImplausibleError: rules ``production-date-not-future``, ``content-within-mass``.
    """
    if kind in BATTERY_KINDS:
        try:
            made = parse_battery_code(code, kind).production_date
        except InvalidCodeError:
            made = None  # refused as a code elsewhere, with the position at fault
        if made is not None:
            check_date(made.isoformat(), now, code_at, _PRODUCTION)
    check_date(
        attributes.get("production_date"), now, f"{attributes_at}/production_date", _PRODUCTION
    )
    check_content(attributes, attributes_at)


def check_correction(
    spec: EventSpec[Any], entry: Entry, ctx: WriteContext, payload: Corrected, data: dict[str, Any]
) -> None:
    """A correction of ``entry`` (of type ``spec``) leaves a valid, plausible entry.

    The entry's data as it stands (earlier corrections applied), with the
    corrected fields, is read by the entry type's own payload model and passes
    its rules again; fields that make the entry what it is (``EventSpec.fixed``:
    identity, custody, the items it created) keep their values. The corrected
    fields are kept in ``data`` as the model reads them (with computed fields).

    Raises:
        ValidationError: a corrected value the payload model refuses (pointer
            under ``/data/fields``).
        ImplausibleError: a fixed field changed (rule ``correction-keeps-identity``)
            or a rule of the entry type broken by the corrected values.
    """
    current = effective_data(ctx.history()).get(entry.seq, entry.data)
    for name in sorted(spec.fixed & set(payload.fields)):
        if payload.fields[name] != current.get(name):
            raise ImplausibleError(
                f"a correction cannot change {name} of a {entry.type} entry",
                pointer=f"/data/fields/{name}",
                rule="correction-keeps-identity",
                field=name,
            )
    parsed = parse_model(
        spec.payload, spec.as_sent({**current, **payload.fields}), pointer="/data/fields"
    )
    corrected = dump(parsed)
    try:
        check_plausible(spec, ctx, parsed, corrected)
    except LedgerError as exc:
        if exc.pointer is not None and exc.pointer.startswith("/data/"):
            exc.pointer = "/data/fields/" + exc.pointer.removeprefix("/data/")
        raise
    # A fixed field is restated as it stands (with what ``on_write`` added to it).
    data["fields"] = {
        name: current.get(name) if name in spec.fixed else corrected.get(name)
        for name in payload.fields
    }
