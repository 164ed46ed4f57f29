"""Lifecycle rules of tracked items: roles, states, transitions, custody.

Owns DESIGN.md's lifecycle table and the fold that turns log entries into
item state (the ``items`` projection). Pure: it takes values (the item as it
stands, the acting org, the validated payload) and either returns the next
value or raises a ``LedgerError``. Reading and writing rows, the clock and
ids are the caller's job (``ledger/service.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ledger.errors import (
    ForbiddenError,
    IllegalTransitionError,
    InvalidTransferError,
    MassBalanceError,
    ValidationError,
)
from ledger.events import Dismantled, ItemKind, Recycled


class Role(StrEnum):
    """What an organisation is allowed to do."""

    ADMIN = "admin"
    OEM = "oem"
    OPERATOR = "operator"
    RECYCLER = "recycler"
    REGULATOR = "regulator"


class State(StrEnum):
    """Where an item is in its life."""

    REGISTERED = "registered"
    IN_SERVICE = "in_service"
    RETIRED = "retired"
    COLLECTED = "collected"
    ASSESSED = "assessed"
    REPURPOSED = "repurposed"
    DISMANTLED = "dismantled"
    RECYCLED = "recycled"
    DISPOSED = "disposed"


TERMINAL: frozenset[State] = frozenset(
    {State.REPURPOSED, State.DISMANTLED, State.RECYCLED, State.DISPOSED}
)
NON_TERMINAL: frozenset[State] = frozenset(State) - TERMINAL
ITEM_WRITERS: frozenset[Role] = frozenset({Role.OEM, Role.OPERATOR, Role.RECYCLER})
CUSTODIANS: frozenset[Role] = ITEM_WRITERS

# Log entries that are not item events: the audit also covers who may write.
ORG_CREATED = "org_created"
KEY_ISSUED = "key_issued"
KEY_REVOKED = "key_revoked"
REGISTERED = "registered"


@dataclass(frozen=True)
class Rule:
    """One row of the lifecycle table."""

    roles: frozenset[Role]
    from_states: frozenset[State]
    to_state: State | None  # None: the state is unchanged


_RECYCLER = frozenset({Role.RECYCLER})
_AFTER_INTAKE = frozenset({State.COLLECTED, State.ASSESSED})

LIFECYCLE: dict[str, Rule] = {
    "installed": Rule(
        frozenset({Role.OEM, Role.OPERATOR}), frozenset({State.REGISTERED}), State.IN_SERVICE
    ),
    "retired": Rule(
        frozenset({Role.OEM, Role.OPERATOR}),
        frozenset({State.REGISTERED, State.IN_SERVICE}),
        State.RETIRED,
    ),
    "transferred": Rule(ITEM_WRITERS, NON_TERMINAL, None),
    "collected": Rule(_RECYCLER, frozenset({State.RETIRED}), State.COLLECTED),
    "assessed": Rule(_RECYCLER, frozenset({State.COLLECTED}), State.ASSESSED),
    "repurposed": Rule(_RECYCLER, frozenset({State.ASSESSED}), State.REPURPOSED),
    "dismantled": Rule(_RECYCLER, _AFTER_INTAKE, State.DISMANTLED),
    "recycled": Rule(_RECYCLER, _AFTER_INTAKE, State.RECYCLED),
    "disposed": Rule(_RECYCLER, _AFTER_INTAKE, State.DISPOSED),
    "corrected": Rule(ITEM_WRITERS, frozenset(State), None),
}

# Which kinds may sit inside which (module in pack, cell in module): used for
# `parent` on registration and for the children of a dismantled item.
CONTAINS: dict[ItemKind, frozenset[ItemKind]] = {
    ItemKind.BATTERY_PACK: frozenset({ItemKind.BATTERY_MODULE, ItemKind.BATTERY_CELL}),
    ItemKind.BATTERY_MODULE: frozenset({ItemKind.BATTERY_CELL}),
    ItemKind.BATTERY_CELL: frozenset(),
    ItemKind.PV_MODULE: frozenset(),
    ItemKind.WIND_BLADE: frozenset(),
}


@dataclass(frozen=True)
class Org:
    """An organisation as the rules see it."""

    id: str
    role: Role
    name: str = ""

    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name else self.id


@dataclass(frozen=True)
class Item:
    """An item as it stands after the entries so far (a projection row)."""

    id: str
    kind: ItemKind
    code: str
    state: State
    holder: str
    manufacturer: str
    parent: str | None = None
    origin: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    head: str = ""  # leaf hash of the item's latest entry (its item_prev for the next)
    head_seq: int = -1


def allowed_events(item: Item, actor: Org) -> list[str]:
    """The event types ``actor`` may record on ``item`` now, in table order."""
    out = []
    for event_type, rule in LIFECYCLE.items():
        if event_type == "corrected" or not _role_may(item, actor, event_type, rule):
            continue
        if item.state not in rule.from_states:
            continue
        if _may_act(item, actor, event_type):
            out.append(event_type)
    return out


def _role_may(item: Item, actor: Org, event_type: str, rule: Rule) -> bool:
    if actor.role in rule.roles:
        return True
    # A recycler registers the parts it dismantles and the second-life items it
    # repurposes; as their registrant it reports their retirement, or they
    # could never be collected and recycled.
    return event_type == "retired" and actor.role == Role.RECYCLER and item.manufacturer == actor.id


def _may_act(item: Item, actor: Org, event_type: str) -> bool:
    if item.holder == actor.id:
        return True
    # DESIGN.md: the OEM may always report `retired` on what it registered.
    return event_type == "retired" and item.manufacturer == actor.id


def check_event(
    item: Item,
    actor: Org,
    event_type: str,
    *,
    holder: Org | None = None,
    corrected_actor: str | None = None,
) -> Rule:
    """Check that ``actor`` may record ``event_type`` on ``item`` now.

    Args:
        holder: the org that holds the item (for a message naming it).
        corrected_actor: for ``corrected``, the actor of the entry corrected.

    Returns:
        The lifecycle rule that applies.

    Raises:
        ForbiddenError: the role may not record this event, or the actor
            does not hold the item (the message names the holder).
        IllegalTransitionError: the event cannot follow the item's state.
    """
    rule = LIFECYCLE[event_type]
    if actor.role not in ITEM_WRITERS:
        raise ForbiddenError(f"a {actor.role} writes nothing to items", role=actor.role.value)
    if not _role_may(item, actor, event_type, rule):
        allowed = ", ".join(sorted(r.value for r in rule.roles))
        raise ForbiddenError(
            f"a {actor.role} cannot record {event_type}; it is recorded by: {allowed}",
            role=actor.role.value,
        )
    if event_type == "corrected":
        if corrected_actor != actor.id:
            raise ForbiddenError(
                "only the org that wrote an entry may correct it "
                f"(that entry was written by {corrected_actor})",
                pointer="/data/seq",
            )
        return rule
    # The state first: an illegal transition is refused whoever asks, and a
    # custody refusal must not suggest a transfer that could not help.
    if item.state not in rule.from_states:
        if item.state in TERMINAL:
            why = f"item {item.id} is {item.state} and its life here has ended"
        else:
            wanted = " or ".join(sorted(s.value for s in rule.from_states))
            why = (
                f"cannot record {event_type} on item {item.id} in state {item.state}; "
                f"{event_type} follows {wanted}"
            )
        raise IllegalTransitionError(why, state=item.state.value)
    if not _may_act(item, actor, event_type):
        who = holder.label() if holder is not None else item.holder
        raise ForbiddenError(
            f"item {item.id} is held by {who}; only its holder records {event_type}"
            + (" (it must be transferred to you first)" if event_type == "collected" else ""),
            holder=item.holder,
        )
    return rule


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


def check_mass_balance(payload: Recycled) -> None:
    """Recovered mass never exceeds input mass.

    Raises:
        MassBalanceError: with both totals, exact.
    """
    recovered = sum((Decimal(r.mass_kg) for r in payload.recovered), Decimal(0))
    total = Decimal(payload.input_mass_kg)
    if recovered > total:
        raise MassBalanceError(
            f"recovered {recovered} kg exceeds the input of {total} kg",
            pointer="/data/recovered",
            recovered_kg=str(recovered),
            input_mass_kg=str(total),
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


def check_parent(child_kind: ItemKind, parent: Item, actor: Org) -> None:
    """A registration's parent holds this kind and is held by the registrant.

    Raises:
        ValidationError: the parent cannot contain this kind.
        ForbiddenError: the registrant does not hold the parent.
    """
    if child_kind not in CONTAINS[parent.kind]:
        raise ValidationError(f"a {parent.kind} cannot contain a {child_kind}", pointer="/parent")
    if parent.holder != actor.id:
        raise ForbiddenError(
            f"parent {parent.id} is held by {parent.holder}, not by you", pointer="/parent"
        )


def check_registrant(actor: Org, *, origin: Item | None, parent: Item | None) -> None:
    """OEMs register; a recycler registers only parts of what it dismantled or
    the second life of what it repurposed.

    Raises:
        ForbiddenError: any other role, or a recycler with no such link.
    """
    if actor.role == Role.OEM:
        if origin is not None and origin.holder != actor.id:
            raise ForbiddenError(
                f"origin {origin.id} is held by {origin.holder}, not by you", pointer="/origin"
            )
        return
    if actor.role == Role.RECYCLER:
        link = origin or parent
        if (
            link is not None
            and link.holder == actor.id
            and link.state
            in {
                State.REPURPOSED,
                State.DISMANTLED,
            }
        ):
            return
        raise ForbiddenError(
            "a recycler registers only items repurposed or dismantled from one it holds "
            "(give origin or parent)",
            role=actor.role.value,
        )
    raise ForbiddenError(f"a {actor.role} cannot register items", role=actor.role.value)


def registered_item(
    item_id: str, actor_id: str, data: dict[str, Any], *, head: str, seq: int
) -> Item:
    """The projection row a ``registered`` entry creates."""
    return Item(
        id=item_id,
        kind=ItemKind(data["kind"]),
        code=data["code"],
        state=State.REGISTERED,
        holder=actor_id,
        manufacturer=actor_id,
        parent=data.get("parent"),
        origin=data.get("origin"),
        attributes=dict(data.get("attributes", {})),
        head=head,
        head_seq=seq,
    )


def apply_entry(
    item: Item | None,
    entry_type: str,
    actor: str,
    item_id: str,
    data: dict[str, Any],
    *,
    head: str,
    seq: int,
) -> Item:
    """Fold one item entry into the item's projection row.

    The entry was checked when it was written; this only replays it, so the
    ``items`` table can be rebuilt from the log and compared.

    Raises:
        ValidationError: an entry that cannot apply (unknown type, or an
            event on an item that was never registered).
    """
    if entry_type == REGISTERED:
        return registered_item(item_id, actor, data, head=head, seq=seq)
    if item is None:
        raise ValidationError(f"entry {seq} ({entry_type}) names unknown item {item_id}")
    rule = LIFECYCLE.get(entry_type)
    if rule is None:
        raise ValidationError(f"entry {seq} has unknown type {entry_type!r}")
    changed = replace(item, head=head, head_seq=seq)
    if entry_type == "transferred":
        return replace(changed, holder=data["to_org"])
    if rule.to_state is not None:
        return replace(changed, state=rule.to_state)
    return changed
