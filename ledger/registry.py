"""The event registry: every event type, declared once.

Owns DESIGN.md's lifecycle table as one ``EventSpec`` per event type: its
payload model, roles, from-states and to-state, effect on the item, label,
example, the passport's field lists and its write-time checks (the hooks
``ledger.items.record_event`` runs). Everything else is derived from it:
``ledger.domain.LIFECYCLE``, the API's event types and OpenAPI union, the
passport's words. Adding an event type means adding a spec here (and its tests).

Pure: the hooks see the write only through ``WriteContext``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from ledger.errors import InvalidTransferError, NotFoundError, ValidationError
from ledger.events import (
    Assessed,
    Collected,
    Corrected,
    Dismantled,
    Disposed,
    Installed,
    ItemKind,
    Recycled,
    Registration,
    Repurposed,
    Retired,
    Transferred,
    parse_model,
)
from ledger.lifecycle import (
    CONTAINS,
    CUSTODIANS,
    ITEM_WRITERS,
    NON_TERMINAL,
    REGISTERED,
    EventSpec,
    Item,
    Org,
    Role,
    Rule,
    State,
    Who,
    WriteContext,
)
from ledger.materials import (
    check_children_mass,
    check_input_mass,
    check_mass_balance,
    check_recovered,
    item_mass,
)
from ledger.plausibility import check_correction, check_registration

__all__ = [
    "EVENTS",
    "ORG_FIELDS",
    "PACK_CODE",
    "PERSONAL_FIELDS",
    "RECORDABLE",
    "SUCCESSORS",
    "check_children",
    "check_mass_balance",
    "check_transfer",
    "parse_event",
]

# Codes and ids of the documentation's examples (the API's OpenAPI document uses them too).
PACK_CODE = "CATPB01A1B2C3DB340000001"  # GB/T 34014: CAT, pack, 2021-03-04, serial 1
MODULE_CODE = "CATMB01A1B2C3DB340000002"
SECOND_LIFE_CODE = "CATPB01A1B2C3DB340000003"
ORG_ID = "org_01JD8Z3K5V7W9XQRSTABCDEFGH"


# -- the rules some events add -----------------------------------------------------


def check_transfer(item: Item, to_org: Org) -> None:
    """A custody transfer goes to another org that can hold items.

    Raises:
        InvalidTransferError: to the current holder or to a regulator/admin.
    """
    if to_org.id == item.holder:
        raise InvalidTransferError(
            f"item {item.id} is already held by {to_org.label()}", pointer="/data/to_org"
        )
    if to_org.role not in CUSTODIANS:
        raise InvalidTransferError(
            f"{to_org.label()} is a {to_org.role}; items go to an oem, operator or recycler",
            pointer="/data/to_org",
        )


def check_children(item_kind: ItemKind, payload: Dismantled) -> None:
    """The parts of a dismantled item are kinds it can contain.

    Raises:
        ValidationError: a child kind the item cannot contain.
    """
    allowed = CONTAINS[item_kind]
    for index, child in enumerate(payload.children):
        if child.kind not in allowed:
            can = ", ".join(sorted(allowed)) or "no tracked parts"
            raise ValidationError(
                f"a {item_kind} cannot be dismantled into a {child.kind}; it holds {can}",
                pointer=f"/data/children/{index}/kind",
            )


# -- write hooks and effects -------------------------------------------------------


def _transfer(ctx: WriteContext, payload: Transferred, _data: dict[str, Any]) -> None:
    to_org = ctx.org(payload.to_org)
    if to_org is None:
        raise NotFoundError(f"no org {payload.to_org}", pointer="/data/to_org")
    check_transfer(ctx.item, to_org)


def _moves_custody(item: Item, data: Mapping[str, Any]) -> Item:
    return replace(item, holder=data["to_org"])


def _recycle(ctx: WriteContext, payload: Recycled, data: dict[str, Any]) -> None:
    check_input_mass(Decimal(payload.input_mass_kg), item_mass(ctx.history()), ctx.tolerances.mass)
    check_recovered(payload, data)


def _dismantle_check(ctx: WriteContext, payload: Dismantled, _data: dict[str, Any]) -> None:
    check_children(ctx.item.kind, payload)
    for index, child in enumerate(payload.children):
        where = f"/data/children/{index}"
        check_registration(
            child.kind.value,
            child.code,
            child.attributes,
            ctx.now,
            code_at=f"{where}/code",
            attributes_at=f"{where}/attributes",
        )
    check_children_mass(payload.children, item_mass(ctx.history()))


def _repurpose(ctx: WriteContext, payload: Repurposed, data: dict[str, Any]) -> None:
    # The second life is a new item with its own code, linked back by `origin`.
    ctx.claim_code(ctx.item.kind, payload.new_code, "/data/new_code")
    new_id = ctx.new_item_id()
    data["new_item"] = new_id
    ctx.follow_up(
        new_id,
        {
            "kind": ctx.item.kind.value,
            "code": payload.new_code,
            "attributes": dict(payload.attributes),
            "origin": ctx.item.id,
        },
    )


def _dismantle(ctx: WriteContext, payload: Dismantled, data: dict[str, Any]) -> None:
    for index, child in enumerate(payload.children):
        ctx.claim_code(child.kind, child.code, f"/data/children/{index}/code")
        child_id = ctx.new_item_id()
        data["children"][index]["item"] = child_id
        ctx.follow_up(
            child_id,
            {
                "kind": child.kind.value,
                "code": child.code,
                "attributes": dict(child.attributes),
                "parent": ctx.item.id,
            },
        )


def _corrected_author(ctx: WriteContext, payload: Corrected) -> str:
    entry = ctx.entry(payload.seq)
    if entry is None:
        raise NotFoundError(f"no entry {payload.seq}", pointer="/data/seq")
    if entry.item != ctx.item.id:
        raise ValidationError(
            f"entry {payload.seq} is not about item {ctx.item.id}", pointer="/data/seq"
        )
    spec = EVENTS.get(entry.type)
    if spec is None or entry.type == "corrected":
        raise ValidationError(
            f"entry {payload.seq} is a {entry.type}; correct the entry it corrected instead",
            pointer="/data/seq",
        )
    unknown = sorted(set(payload.fields) - set(entry.data) - set(spec.payload.model_fields))
    if unknown:
        raise ValidationError(
            f"entry {payload.seq} ({entry.type}) has no field {unknown[0]!r} to correct",
            pointer=f"/data/fields/{unknown[0]}",
        )
    return entry.actor


def _registered_check(ctx: WriteContext, payload: Registration, _data: dict[str, Any]) -> None:
    check_registration(
        payload.kind.value,
        payload.code,
        payload.attributes,
        ctx.now,
        code_at="/data/code",
        attributes_at="/data/attributes",
    )


def _repurpose_check(ctx: WriteContext, payload: Repurposed, _data: dict[str, Any]) -> None:
    check_registration(
        ctx.item.kind.value,
        payload.new_code,
        payload.attributes,
        ctx.now,
        code_at="/data/new_code",
        attributes_at="/data/attributes",
    )


def _correct(ctx: WriteContext, payload: Corrected, data: dict[str, Any]) -> None:
    entry = ctx.entry(payload.seq)
    assert entry is not None  # noqa: S101 - ``_corrected_author`` found it
    check_correction(EVENTS[entry.type], entry, ctx, payload, data)


def _without_new_item(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "new_item"}


def _without_part_ids(data: Mapping[str, Any]) -> dict[str, Any]:
    children = [{k: v for k, v in c.items() if k != "item"} for c in data.get("children", [])]
    return {**data, "children": children}


# -- the table, in DESIGN.md's order (``allowed_events`` keeps it) ----------------

_MAKERS = frozenset({Role.OEM, Role.OPERATOR})
_RECYCLER = frozenset({Role.RECYCLER})
_AFTER_INTAKE = frozenset({State.COLLECTED, State.ASSESSED})


# Not annotated, so that mypy checks each spec's hooks against its own payload model.
_TABLE = (
    EventSpec(
        name=REGISTERED,
        label="Registered",
        payload=Registration,
        example={"kind": "battery_pack", "code": PACK_CODE, "attributes": {"mass_kg": "412.5"}},
        # It opens an item (a registration, or another event's follow-up): an
        # OEM registers, a recycler only parts and second lives (``check_registrant``).
        rule=None,
        # A registration runs these itself (``ledger.items``); here for a correction.
        check=_registered_check,
        fixed=frozenset({"kind", "code", "parent", "origin"}),
    ),
    EventSpec(
        name="installed",
        label="Installed",
        payload=Installed,
        example={"vin": "LSVAU2180N2183294"},
        rule=Rule(_MAKERS, frozenset({State.REGISTERED}), State.IN_SERVICE),
        facts={"vin": "Vehicle (VIN)", "site": "Site"},
        # A vehicle identification number can identify the vehicle's keeper.
        personal=frozenset({"vin"}),
    ),
    EventSpec(
        name="retired",
        label="Retired",
        payload=Retired,
        example={"reason": "capacity below 80%", "date": "2024-05-31"},
        # By the holder, or by whoever registered it: the OEM always may (DESIGN.md),
        # and a recycler for the parts and second lives it registered.
        rule=Rule(
            _MAKERS,
            frozenset({State.REGISTERED, State.IN_SERVICE}),
            State.RETIRED,
            who=Who.HOLDER_OR_REGISTRANT,
        ),
        facts={"reason": "Reason"},
    ),
    EventSpec(
        name="transferred",
        label="Custody transferred",
        payload=Transferred,
        example={"to_org": ORG_ID},
        rule=Rule(ITEM_WRITERS, NON_TERMINAL, None),
        effect=_moves_custody,
        facts={"to_org": "To"},
        org_fields=frozenset({"to_org"}),
        on_write=_transfer,
        fixed=frozenset({"to_org"}),
    ),
    EventSpec(
        name="collected",
        label="Collected",
        payload=Collected,
        example={"site": "Dock 3, Foshan", "mass_kg": "410.2"},
        rule=Rule(
            _RECYCLER,
            frozenset({State.RETIRED}),
            State.COLLECTED,
            holder_hint="it must be transferred to you first",
        ),
        facts={"site": "Site", "mass_kg": "Measured mass"},
    ),
    EventSpec(
        name="assessed",
        label="Assessed",
        payload=Assessed,
        example={"soh_pct": "71.5", "grade": "recycle"},
        rule=Rule(_RECYCLER, frozenset({State.COLLECTED}), State.ASSESSED),
        facts={"soh_pct": "State of health", "grade": "Grade"},
    ),
    EventSpec(
        name="repurposed",
        label="Repurposed",
        payload=Repurposed,
        example={
            "new_code": SECOND_LIFE_CODE,
            "application": "grid storage",
            "attributes": {"rated_capacity_kwh": "42"},
        },
        rule=Rule(_RECYCLER, frozenset({State.ASSESSED}), State.REPURPOSED),
        facts={"new_code": "New code", "application": "Application"},
        successor="new_item",
        check=_repurpose_check,
        on_write=_repurpose,
        fixed=frozenset({"new_code", "attributes"}),
        as_sent=_without_new_item,
    ),
    EventSpec(
        name="dismantled",
        label="Dismantled",
        payload=Dismantled,
        example={
            "children": [
                {"kind": "battery_module", "code": MODULE_CODE, "attributes": {"mass_kg": "38.2"}}
            ]
        },
        rule=Rule(_RECYCLER, _AFTER_INTAKE, State.DISMANTLED),
        facts={"children": "Parts"},
        check=_dismantle_check,
        on_write=_dismantle,
        fixed=frozenset({"children"}),
        as_sent=_without_part_ids,
    ),
    EventSpec(
        name="recycled",
        label="Recycled",
        payload=Recycled,
        example={
            "input_mass_kg": "410.2",
            "process": "hydrometallurgy",
            "recovered": [
                {"material": "lithium carbonate", "mass_kg": "18.4"},
                {"material": "copper", "mass_kg": "31.0"},
            ],
        },
        rule=Rule(_RECYCLER, _AFTER_INTAKE, State.RECYCLED),
        facts={"input_mass_kg": "Input mass", "recovered": "Recovered", "process": "Process"},
        check=_recycle,
    ),
    EventSpec(
        name="disposed",
        label="Disposed",
        payload=Disposed,
        example={"method": "cement co-processing"},
        rule=Rule(_RECYCLER, _AFTER_INTAKE, State.DISPOSED),
        facts={"method": "Method"},
    ),
    EventSpec(
        name="corrected",
        label="Entry corrected",
        payload=Corrected,
        example={"seq": 42, "fields": {"mass_kg": "410.8"}},
        rule=Rule(ITEM_WRITERS, frozenset(State), None, who=Who.AUTHOR),
        facts={"seq": "Corrects entry", "fields": "Corrected fields"},
        author=_corrected_author,
        on_write=_correct,
    ),
)
# Every event may say the day it happened (``date``): the passport shows it.
EVENTS: Mapping[str, EventSpec[Any]] = MappingProxyType(
    {spec.name: replace(spec, facts={**spec.facts, "date": "Date"}) for spec in _TABLE}
)

# -- derived views -----------------------------------------------------------------

# Recorded as events on an existing item, in table order.
RECORDABLE: tuple[str, ...] = tuple(n for n, spec in EVENTS.items() if not spec.opens_item)
PERSONAL_FIELDS: frozenset[str] = frozenset().union(*(s.personal for s in EVENTS.values()))
ORG_FIELDS: frozenset[str] = frozenset().union(*(s.org_fields for s in EVENTS.values()))
SUCCESSORS: Mapping[str, str] = {
    name: spec.successor for name, spec in EVENTS.items() if spec.successor is not None
}


def parse_event(event_type: str, raw: Any) -> tuple[EventSpec[Any], BaseModel]:
    """The spec of ``event_type`` and its validated ``data``.

    Raises:
        ValidationError: the type opens an item or is unknown (pointer
            ``/type``), or a bad field (pointer under ``/data``).
    """
    spec = EVENTS.get(event_type)
    if spec is not None and spec.opens_item:
        raise ValidationError(
            "items are registered, not recorded as an event on an item", pointer="/type"
        )
    if spec is None:
        known = ", ".join(sorted(RECORDABLE))
        raise ValidationError(
            f"unknown event type {event_type!r}; expected one of {known}", pointer="/type"
        )
    return spec, parse_model(spec.payload, raw, pointer="/data")
