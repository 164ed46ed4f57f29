"""The words of the lifecycle: roles, states, orgs and items, and the shape of an event type.

Owns the values the lifecycle rules take (``Role``, ``State``, ``Org``, ``Item``,
which kinds contain which) and ``EventSpec``, the shape of one row of the event
registry: its ``Rule`` (who, from which states, to which state), its effect on
the item, its words for people, an example, and its write-time hooks with the
``WriteContext`` they are given. The rows are ``ledger.registry``'s; applying
them (checks, ``allowed_events``, the fold) is ``ledger.domain``'s.

Pure: values and types only, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from ledger.chain import Entry
from ledger.events import ItemKind

__all__ = [
    "CONTAINS",
    "CUSTODIANS",
    "ITEM_WRITERS",
    "KEY_ISSUED",
    "KEY_REVOKED",
    "MAKER_BOUND",
    "NON_TERMINAL",
    "ORG_CREATED",
    "REGISTERED",
    "TERMINAL",
    "Effect",
    "EventSpec",
    "Item",
    "MakerBinding",
    "Org",
    "Role",
    "Rule",
    "State",
    "Tolerances",
    "Who",
    "WriteContext",
    "latest_date",
    "unchanged",
]


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
# A GB/T 34014 manufacturer code bound to the OEM org that files it.
MAKER_BOUND = "maker_bound"
# Every item's first entry (a registration, or the follow-up of another event).
REGISTERED = "registered"

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


@dataclass(frozen=True)
class MakerBinding:
    """A GB/T 34014 manufacturer code (a battery code's first three characters)
    bound to an OEM org by the log entry ``seq``."""

    code: str
    org: str
    seq: int


@dataclass(frozen=True)
class Tolerances:
    """How much the plausibility rules allow: the settings they take.

    Attributes:
        mass: how far (a fraction: 0.02 is 2%) a recycling input may
            exceed the item's collected (else registered) mass: scales differ.
    """

    mass: Decimal = Decimal("0.02")


# The calendar date is ahead of UTC by up to 14 hours (UTC+14): a date that is
# today somewhere on Earth is not in the future.
_AHEAD_OF_UTC = timedelta(hours=14)


def latest_date(now: datetime) -> date:
    """The latest calendar date anywhere at the instant ``now``: nothing that
    happened can be dated later."""
    return (now + _AHEAD_OF_UTC).date()


class Who(StrEnum):
    """Which org, of a role the rule allows, records an event on an item."""

    HOLDER = "holder"
    # ... or the org that registered it, holding it or not (DESIGN.md: the OEM
    # may always report `retired` on what it registered).
    HOLDER_OR_REGISTRANT = "holder_or_registrant"
    # The org that wrote the entry the event names, in any state; never
    # offered on a scan, since it needs that entry's seq.
    AUTHOR = "author"


@dataclass(frozen=True)
class Rule:
    """One row of the lifecycle table."""

    roles: frozenset[Role]
    from_states: frozenset[State]
    to_state: State | None  # None: the state is unchanged
    who: Who = Who.HOLDER
    holder_hint: str = ""  # added to the refusal of an org that does not hold the item


class WriteContext(Protocol):
    """What an event's write hooks may see and do inside the write transaction.

    ``ledger.items`` provides it; the entries it queues are appended after the
    event's own entry.
    """

    @property
    def item(self) -> Item:
        """The item the event is about, as it stands before the event."""

    @property
    def actor(self) -> str:
        """The id of the org recording the event."""

    def org(self, org_id: str) -> Org | None:
        """An org by id, or None."""

    @property
    def now(self) -> datetime:
        """The time the write's entries carry."""

    @property
    def tolerances(self) -> Tolerances:
        """What the plausibility rules allow."""

    def entry(self, seq: int) -> Entry | None:
        """A log entry by seq, or None."""

    def history(self) -> list[Entry]:
        """The item's entries so far, oldest first (this transaction's included)."""

    def claim_code(self, kind: ItemKind, code: str, pointer: str) -> None:
        """Check a new item's code and reserve it for this write.

        Raises:
            InvalidCodeError, DuplicateError: pointing at ``pointer``.
        """

    def new_item_id(self) -> str:
        """A fresh item id."""

    def follow_up(self, item_id: str, registration: dict[str, Any]) -> None:
        """Queue the ``registered`` entry of a new item this event creates."""


P = TypeVar("P", bound=BaseModel)
Effect = Callable[[Item, Mapping[str, Any]], Item]


def unchanged(item: Item, _data: Mapping[str, Any]) -> Item:
    """The effect of most events: nothing beyond the rule's ``to_state``."""
    return item


@dataclass(frozen=True)
class EventSpec(Generic[P]):
    """One event type, declared once: ``ledger.registry`` holds one per type.

    Attributes:
        name: the entry's ``type``.
        label: its name for people ("Custody transferred"): passport, docs.
        payload: the model of its ``data``.
        example: a valid ``data``, for the API documentation.
        rule: who records it, from which states, to which state; None for the
            item's first event (``registered``), which opens an item and is
            never recorded on one.
        effect: what it does to the item beyond the state change.
        facts: the ``data`` fields a passport page shows, with their labels.
        personal: ``data`` fields that are personal data (shown to regulators only).
        org_fields: ``data`` fields that name an org by id.
        successor: the ``data`` field naming the item that carries on this one's life.
        author: for ``Who.AUTHOR``: the org that wrote the entry the payload
            names. Runs before the lifecycle check; refuses a bad reference.
        check: the plausibility rules of the payload (masses, materials): runs
            after the lifecycle check, and again on a correction of the entry
            with the corrected values; may add computed fields to ``data``.
        on_write: runs after ``check``: refuses what the rules forbid in the
            payload, may add to ``data`` (the ids of new items) and queue
            follow-up registrations. Never runs again on a correction.
        fixed: ``data`` fields a correction may not change (identity, custody,
            the items the event created).
        as_sent: the ``data`` of an entry as its payload model reads it, without
            what ``on_write`` added (a correction is validated against it).
    """

    name: str
    label: str
    payload: type[P]
    example: Mapping[str, Any]
    rule: Rule | None
    effect: Effect = unchanged
    facts: Mapping[str, str] = field(default_factory=dict)
    personal: frozenset[str] = frozenset()
    org_fields: frozenset[str] = frozenset()
    successor: str | None = None
    author: Callable[[WriteContext, P], str] | None = None
    check: Callable[[WriteContext, P, dict[str, Any]], None] | None = None
    on_write: Callable[[WriteContext, P, dict[str, Any]], None] | None = None
    fixed: frozenset[str] = frozenset()
    as_sent: Callable[[Mapping[str, Any]], dict[str, Any]] = dict

    @property
    def opens_item(self) -> bool:
        """The item's first event: written by registration, not recorded on an item."""
        return self.rule is None
