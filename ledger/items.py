"""Item writes: registration (one or many) and lifecycle events (one or many).

Owns the order of the checks for one item write: parse the payload
(``ledger.events``, by way of the event registry), check the lifecycle rule
and custody (``ledger.domain``), run the event's write hooks
(``ledger.registry``), check codes for uniqueness, then append the entries to
the ``Tx``. Each write
answers with ledger values (``Written``, ``Registered``, ``Recorded``); how they
are shown is the caller's business. In a bulk write each line stands or falls on
its own: a refused line leaves nothing behind, the others are appended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger import codes, domain, lifecycle, makers, registry
from ledger.chain import Entry, parse_entry
from ledger.commit import Tx
from ledger.errors import DuplicateError, LedgerError, NotFoundError
from ledger.events import EventLine, ItemKind, Registration, dump, parse_model
from ledger.idempotency import Refusal
from ledger.lifecycle import Item, Org, Tolerances
from ledger.plausibility import check_date, check_plausible, check_registration
from ledger.records import OrgRecord
from ledger.store.base import CodeKey

__all__ = [
    "EventResult",
    "ItemView",
    "LineResult",
    "ReadRegistration",
    "Recorded",
    "Registered",
    "Written",
    "claimed_codes",
    "prepare_registrations",
    "record_event",
    "record_many",
    "register",
    "register_many",
    "view_item",
]


@dataclass(frozen=True)
class ItemView:
    """An item as it is shown: the projection row, its children and its decoded code."""

    item: Item
    children: list[str]
    decoded: dict[str, str] | None

    @property
    def terminal(self) -> bool:
        return self.item.state in lifecycle.TERMINAL


def view_item(item: Item, children: Sequence[str]) -> ItemView:
    """An item with its children and, for a battery, its GB/T 34014 code decoded."""
    decoded: dict[str, str] | None = None
    if item.kind.value in codes.BATTERY_KINDS:
        try:
            decoded = codes.parse_battery_code(item.code, item.kind.value).describe()
        except LedgerError:
            decoded = None
    return ItemView(item, list(children), decoded)


@dataclass(frozen=True)
class Written:
    """The item after a write, its children, the entries the write appended (its
    own first), and the items it created besides (a second life, the parts of a
    dismantled item)."""

    item: Item
    children: list[str]
    entries: list[Entry]
    created: list[Item] = field(default_factory=list)

    def view(self) -> ItemView:
        return view_item(self.item, self.children)

    def created_views(self) -> list[ItemView]:
        # New in this write, so nothing is inside them yet.
        return [view_item(item, []) for item in self.created]


@dataclass(frozen=True)
class LineResult:
    """One line of a bulk registration: the item registered, or the refusal.

    ``line`` is the line's 0-based index in the request; interfaces number lines from 1.
    """

    line: int
    item: str | None = None
    code: str | None = None
    entry: Entry | None = None
    error: Refusal | None = None


@dataclass(frozen=True)
class Registered:
    """The per-line results of a bulk registration."""

    results: list[LineResult]

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.results if r.error is None)


def register(tx: Tx, actor: OrgRecord, raw: Any) -> Written:
    """Register one item from a raw ``{kind, code, attributes, parent?, origin?}``.

    Raises:
        ValidationError, InvalidCodeError: a bad field (JSON pointer given).
        ForbiddenError: the role may not register this.
        DuplicateError: the code is registered already.
        NotFoundError: unknown parent or origin.
    """
    item, entries = _register(tx, actor, raw, "")
    return Written(item, tx.children(item.id), entries)


_KINDS = frozenset(k.value for k in ItemKind)


def claimed_codes(actor: OrgRecord, raw: Any) -> frozenset[CodeKey]:
    """The code a registration from ``raw`` will claim, read from the body alone.

    The group commit checks the codes of every write in a batch with one read,
    inside the batch's transaction (``ledger.commit.GroupCommit.run``), rather than
    one read per write. A ``raw`` the write will refuse anyway claims nothing.
    """
    kind, code = (raw.get("kind"), raw.get("code")) if isinstance(raw, dict) else (None, None)
    if kind not in _KINDS or not isinstance(code, str):
        return frozenset()
    try:
        codes.validate_code(kind, code)
    except LedgerError:
        return frozenset()
    return frozenset({(kind, codes.code_scope(kind, actor.id), code)})


def _taken(kind: ItemKind, code: str, pointer: str) -> DuplicateError:
    whose = "" if kind.value in codes.BATTERY_KINDS else " by this manufacturer"
    return DuplicateError(
        f"a {kind} with code {code} is registered already{whose}", pointer=pointer
    )


@dataclass(frozen=True)
class ReadRegistration:
    """A registration read with no transaction (``prepare_registrations``).

    Attributes:
        reg: the line's payload.
        data: what its ``registered`` entry will carry (``ledger.events.dump``).
        bad_code: the refusal of a code that breaks its kind's scheme, raised
            where ``_register`` checks the code, so a line is refused for the
            same reason as a line read under the chain lock.
    """

    reg: Registration
    data: dict[str, Any]
    bad_code: LedgerError | None = None


def prepare_registrations(lines: Sequence[Any]) -> list[Any]:
    """Each line read into a ``ReadRegistration``, or its refusal in its place.

    Does what needs no transaction nor clock (the payload model, the code's
    scheme, the entry's data): a bulk write reads its next chunk with this while
    the chunk before is written, so the part under the chain lock is shorter.
    """
    out: list[Any] = []
    for raw in lines:
        if isinstance(raw, LedgerError | ReadRegistration):
            out.append(raw)
            continue
        try:
            reg = raw if isinstance(raw, Registration) else parse_model(Registration, raw)
        except LedgerError as exc:
            out.append(exc)
            continue
        bad_code = None
        try:
            codes.validate_code(reg.kind.value, reg.code)
        except LedgerError as exc:
            bad_code = exc
        out.append(ReadRegistration(reg, dump(reg), bad_code))
    return out


def _claimed_pair(raw: Any, actor: OrgRecord) -> CodeKey | None:
    kind: Any
    code: Any
    if isinstance(raw, ReadRegistration):
        kind, code = raw.reg.kind.value, raw.reg.code
    elif isinstance(raw, Registration):
        kind, code = raw.kind.value, raw.code
    elif isinstance(raw, dict) and isinstance(raw.get("kind"), str) and raw["kind"] in _KINDS:
        kind, code = raw["kind"], raw.get("code")
    else:
        return None
    if not isinstance(code, str) or not code.isprintable():
        return None
    return (kind, codes.code_scope(kind, actor.id), code)


def register_many(tx: Tx, actor: OrgRecord, lines: Sequence[Any]) -> Registered:
    """Register many items; a refused line leaves the others standing.

    A line that is already a ``LedgerError`` (it could not be read) is refused as it is;
    one already read (``prepare_registrations``) is not read again.
    """
    pairs = {pair for raw in lines if (pair := _claimed_pair(raw, actor)) is not None}
    taken = tx.writer.existing_codes(sorted(pairs))
    tx.taken |= taken
    tx.known_free |= pairs - taken
    who = actor.as_actor()
    results = []
    for number, raw in enumerate(lines):
        if isinstance(raw, LedgerError):
            results.append(LineResult(number, error=raw))
            continue
        try:
            item, entries = _register(tx, actor, raw, "", who)
        except LedgerError as exc:
            # Its pointer stays inside the line: the line's number says which one.
            results.append(LineResult(number, error=exc))
            continue
        results.append(LineResult(number, item.id, item.code, entries[0]))
    return Registered(results)


def _register(
    tx: Tx, actor: OrgRecord, raw: Any, pointer: str, who: Org | None = None
) -> tuple[Item, list[Entry]]:
    read = raw if isinstance(raw, ReadRegistration) else None
    if read is not None:
        reg = read.reg
    elif isinstance(raw, Registration):
        reg = raw
    else:
        reg = parse_model(Registration, raw, pointer=pointer)
    parent = _linked(tx, reg.parent, f"{pointer}/parent")
    origin = _linked(tx, reg.origin, f"{pointer}/origin")
    who = who or actor.as_actor()
    domain.check_registrant(who, origin=origin, parent=parent)
    if parent is not None:
        domain.check_parent(reg.kind, parent, who)
    code_at = f"{pointer}/code"
    if read is not None and read.bad_code is not None:
        read.bad_code.pointer = code_at
        raise read.bad_code
    key = _free_code(tx, reg.kind, reg.code, code_at, actor.id, checked=read is not None)
    check_date(reg.date, tx.now, f"{pointer}/date")
    check_registration(
        reg.kind.value,
        reg.code,
        reg.attributes,
        tx.now,
        code_at=code_at,
        attributes_at=f"{pointer}/attributes",
    )
    if actor.role == lifecycle.Role.OEM:
        makers.check_maker_code(tx, reg.kind.value, reg.code, actor.id, code_at)
    # Claimed once nothing can refuse the line: a refused line leaves its code free.
    tx.codes.add(key)
    item_id = tx.ids.new("itm")
    data = read.data if read is not None else dump(reg)
    entry = tx.append(actor.id, None, item_id, lifecycle.REGISTERED, data)
    return tx.new_items[item_id], [entry]


def _linked(tx: Tx, item_id: str | None, pointer: str) -> Item | None:
    if item_id is None:
        return None
    item = tx.item(item_id)
    if item is None:
        raise NotFoundError(f"no item {item_id}", pointer=pointer)
    return item


def _free_code(
    tx: Tx, kind: ItemKind, code: str, pointer: str, manufacturer: str, *, checked: bool = False
) -> CodeKey:
    """The code's key, once the code keeps its kind's scheme (unless ``checked``
    already) and is neither registered nor claimed in this transaction.

    Raises:
        InvalidCodeError: the code breaks its scheme.
        DuplicateError: the code is taken.
    """
    if not checked:
        try:
            codes.validate_code(kind.value, code)
        except LedgerError as exc:
            exc.pointer = pointer
            raise
    key = (kind.value, codes.code_scope(kind.value, manufacturer), code)
    if key not in tx.known_free and key not in tx.taken and tx.writer.existing_codes([key]):
        tx.taken.add(key)
    if key in tx.codes or key in tx.taken:
        raise _taken(kind, code, pointer)
    return key


def record_event(tx: Tx, actor: OrgRecord, item_id: str, event_type: str, raw_data: Any) -> Written:
    """Record a lifecycle event on an item, with what the event's registry entry adds.

    Raises:
        NotFoundError: unknown item (or org, or corrected entry).
        ValidationError: bad type or data.
        ForbiddenError: wrong role, or the caller does not hold the item.
        IllegalTransitionError: the event cannot follow the current state.
    """
    item = tx.item(item_id)
    if item is None:
        raise NotFoundError(f"no item {item_id}")
    spec, payload = registry.parse_event(event_type, raw_data)
    write = _EventWrite(tx, actor.id, item)
    author = spec.author(write, payload) if spec.author is not None else None
    domain.check_event(
        item, actor.as_actor(), event_type, find_org=write.org, corrected_actor=author
    )
    data = dump(payload)
    check_plausible(spec, write, payload, data)
    if spec.on_write is not None:
        spec.on_write(write, payload, data)
    entries = [tx.append(actor.id, item, item_id, event_type, data)]
    for new_id, registration in write.follow_ups:
        entries.append(tx.append(actor.id, None, new_id, lifecycle.REGISTERED, registration))
    after = tx.item(item_id) or item
    created = [tx.new_items[new_id] for new_id, _ in write.follow_ups]
    return Written(after, tx.children(item_id), entries, created)


@dataclass(frozen=True)
class EventResult:
    """One line of a bulk event request: its entry (and the items it created), or
    the refusal.

    ``line`` is the line's 0-based index in the request; interfaces number lines from 1.
    """

    line: int
    item: str | None = None
    entry: Entry | None = None
    created: list[str] = field(default_factory=list)
    error: Refusal | None = None


@dataclass(frozen=True)
class Recorded:
    """The per-line results of a bulk event request."""

    results: list[EventResult]

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.results if r.error is None)


def record_many(tx: Tx, actor: OrgRecord, lines: Sequence[Any]) -> Recorded:
    """Record events on many items, each line ``{item, type, data}`` as one
    ``record_event`` would; a refused line leaves the others standing.

    Lines run in order, so a later line sees what an earlier one did (an item
    retired, then handed over; a correction of an entry an earlier line wrote). A
    line that is already a ``LedgerError`` (it could not be read) is refused as it
    is. Refusals point inside their line (``/item``, ``/type``, ``/data/...``).
    """
    results: list[EventResult] = []
    for number, raw in enumerate(lines):
        if isinstance(raw, LedgerError):
            results.append(EventResult(number, error=raw))
            continue
        named = raw.get("item") if isinstance(raw, dict) else None
        item_id = named if isinstance(named, str) and len(named) <= 64 else None
        mark = tx.mark()
        try:
            line = parse_model(EventLine, raw)
            written = record_event(tx, actor, line.item, line.type, line.data)
        except LedgerError as exc:
            # Codes a refused line claimed, ids it linked: as if it never ran.
            tx.restore(mark)
            if isinstance(exc, NotFoundError) and exc.pointer is None:
                exc.pointer = "/item"
            results.append(EventResult(number, item_id, error=exc))
            continue
        created = [e.item for e in written.entries[1:] if e.item is not None]
        results.append(EventResult(number, line.item, written.entries[0], created))
    return Recorded(results)


@dataclass
class _EventWrite:
    """The ``WriteContext`` an event's hooks get: one event's view of the transaction."""

    tx: Tx
    actor: str
    item: Item
    follow_ups: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _history: list[Entry] | None = None

    def org(self, org_id: str) -> Org | None:
        found = self.tx.writer.org(org_id)
        return found.as_actor() if found is not None else None

    @property
    def now(self) -> datetime:
        return self.tx.now

    @property
    def tolerances(self) -> Tolerances:
        return self.tx.tolerances

    def history(self) -> list[Entry]:
        # Read once: nothing is appended for the item until the event's hooks have run.
        if self._history is None:
            rows = self.tx.writer.item_entries(self.item.id)
            stored = [parse_entry(row.body) for row in rows]
            self._history = stored + [e for e in self.tx.entries if e.item == self.item.id]
        return list(self._history)

    def entry(self, seq: int) -> Entry | None:
        if self.tx.start <= seq < self.tx.size:  # appended earlier in this transaction
            return self.tx.entries[seq - self.tx.start]
        rows = self.tx.writer.entries(seq, 1)
        if not rows or rows[0].seq != seq:
            return None
        return parse_entry(rows[0].body)

    def claim_code(self, kind: ItemKind, code: str, pointer: str) -> None:
        self.tx.codes.add(_free_code(self.tx, kind, code, pointer, self.actor))

    def new_item_id(self) -> str:
        return self.tx.ids.new("itm")

    def follow_up(self, item_id: str, registration: dict[str, Any]) -> None:
        self.follow_ups.append((item_id, registration))
