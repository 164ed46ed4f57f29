"""Lifecycle rules of tracked items: who records what, custody, and the fold.

Owns how the event registry's rules apply: whether an org may record an event
on an item now (``check_event``, ``allowed_events``), who may register an item,
and the fold that turns log entries into item state (the ``items``
projection). The rules themselves, one row per event type, are
``ledger.registry``'s; the values they speak of are ``ledger.lifecycle``'s.
Pure: it takes values (the item as it stands, the acting org, the validated
payload) and either returns the next value or raises a ``LedgerError``.
Reading and writing rows, the clock and ids are the caller's job
(``ledger/items.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ledger.errors import ForbiddenError, IllegalTransitionError, ValidationError
from ledger.events import ItemKind
from ledger.lifecycle import (
    CONTAINS,
    ITEM_WRITERS,
    TERMINAL,
    Item,
    Org,
    Role,
    Rule,
    State,
    Who,
)
from ledger.registry import EVENTS

__all__ = [
    "LIFECYCLE",
    "allowed_events",
    "apply_entry",
    "check_event",
    "check_parent",
    "check_registrant",
    "registered_item",
]

# The rules of the events recorded on an item, in the registry's order.
LIFECYCLE: dict[str, Rule] = {
    name: spec.rule for name, spec in EVENTS.items() if spec.rule is not None
}


def allowed_events(item: Item, actor: Org) -> list[str]:
    """The event types ``actor`` may record on ``item`` now, in table order.

    Events that name another entry (``Who.AUTHOR``) are left out: a scan cannot
    offer them without that entry.
    """
    out = []
    for event_type, rule in LIFECYCLE.items():
        if rule.who is Who.AUTHOR or not _role_may(item, actor, rule):
            continue
        if item.state not in rule.from_states:
            continue
        if _may_act(item, actor, rule):
            out.append(event_type)
    return out


def _role_may(item: Item, actor: Org, rule: Rule) -> bool:
    if actor.role in rule.roles:
        return True
    # Registrants are OEMs, and recyclers for the parts they dismantle and the
    # second lives they repurpose: a recycler reports those items' retirement,
    # or they could never be collected and recycled.
    return rule.who is Who.HOLDER_OR_REGISTRANT and item.manufacturer == actor.id


def _may_act(item: Item, actor: Org, rule: Rule) -> bool:
    if item.holder == actor.id:
        return True
    # DESIGN.md: the OEM may always report `retired` on what it registered.
    return rule.who is Who.HOLDER_OR_REGISTRANT and item.manufacturer == actor.id


def check_event(
    item: Item,
    actor: Org,
    event_type: str,
    *,
    find_org: Callable[[str], Org | None] | None = None,
    corrected_actor: str | None = None,
) -> Rule:
    """Check that ``actor`` may record ``event_type`` on ``item`` now.

    Args:
        find_org: looks an org up by id; called only to name the holder in a
            refusal, so a write that is allowed reads no org.
        corrected_actor: for an event recorded by the author of the entry it
            names (``corrected``), the actor of that entry.

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
    if not _role_may(item, actor, rule):
        allowed = ", ".join(sorted(r.value for r in rule.roles))
        raise ForbiddenError(
            f"a {actor.role} cannot record {event_type}; it is recorded by: {allowed}",
            role=actor.role.value,
        )
    if rule.who is Who.AUTHOR:
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
    if not _may_act(item, actor, rule):
        holder = find_org(item.holder) if find_org is not None else None
        who = holder.label() if holder is not None else item.holder
        raise ForbiddenError(
            f"item {item.id} is held by {who}; only its holder records {event_type}"
            + (f" ({rule.holder_hint})" if rule.holder_hint else ""),
            holder=item.holder,
        )
    return rule


def check_parent(child_kind: ItemKind, parent: Item, actor: Org) -> None:
    """A registration's parent is alive, holds this kind and is held by the registrant.

    Raises:
        IllegalTransitionError: the parent's life has ended; the parts of a
            dismantled item come only from its ``dismantled`` event (rule
            ``parts-through-dismantling``).
        ValidationError: the parent cannot contain this kind.
        ForbiddenError: the registrant does not hold the parent.
    """
    if parent.state == State.DISMANTLED:
        raise IllegalTransitionError(
            f"parent {parent.id} is dismantled: its parts are the ones its dismantled "
            "event registered, and no others",
            pointer="/parent",
            rule="parts-through-dismantling",
            state=parent.state.value,
        )
    if parent.state in TERMINAL:
        raise IllegalTransitionError(
            f"parent {parent.id} is {parent.state} and its life here has ended",
            pointer="/parent",
            rule="parent-alive",
            state=parent.state.value,
        )
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
    spec = EVENTS.get(entry_type)
    if spec is not None and spec.opens_item:
        return registered_item(item_id, actor, data, head=head, seq=seq)
    if item is None:
        raise ValidationError(f"entry {seq} ({entry_type}) names unknown item {item_id}")
    if spec is None or spec.rule is None:
        raise ValidationError(f"entry {seq} has unknown type {entry_type!r}")
    changed = spec.effect(replace(item, head=head, head_seq=seq), data)
    if spec.rule.to_state is not None:
        return replace(changed, state=spec.rule.to_state)
    return changed
