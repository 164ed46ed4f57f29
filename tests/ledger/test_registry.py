"""The event registry, and every place derived from it.

Each event type is declared once, in ``ledger.registry``. These tests follow
every entry to where the ledger uses it: the lifecycle table and the events a
scan offers, the fold, and the write hooks (run here through the real write
path: ``items.record_event`` on a ``Ledger`` over the in-memory store). A new
entry that passes them and ``tests/api/test_event_docs.py`` (the OpenAPI union
and the passport's words) needs no edit elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from ledger import items, orgs, registry
from ledger.chain import StoredEntry
from ledger.domain import LIFECYCLE, allowed_events, apply_entry
from ledger.errors import (
    DuplicateError,
    ForbiddenError,
    InvalidCodeError,
    LedgerError,
    MassBalanceError,
    NotFoundError,
    ValidationError,
)
from ledger.events import ItemKind, dump, parse_model
from ledger.lifecycle import REGISTERED, TERMINAL, Item, Org, Role, State, Who
from ledger.records import OrgRecord
from ledger.registry import EVENTS, RECORDABLE
from ledger.service import Ledger
from ledger.store.memory import MemoryStore

# GB/T 34014 codes: CAT, lithium iron phosphate, 2021-03-04, serials 1 to 5.
PACK = "CATPB01A1B2C3DB340000001"
OTHER_PACK = "CATPB01A1B2C3DB340000002"
SECOND_LIFE = "CATPB01A1B2C3DB340000003"
MODULES = ("CATMB01A1B2C3DB340000004", "CATMB01A1B2C3DB340000005")
E = TypeVar("E", bound=LedgerError)


def _item(state: State = State.REGISTERED, holder: str = "org_holder") -> Item:
    return Item(
        id="itm_1",
        kind=ItemKind.BATTERY_PACK,
        code="CODE",
        state=state,
        holder=holder,
        manufacturer="org_maker",
    )


def test_registered_opens_every_item_and_is_never_recorded_on_one() -> None:
    assert [name for name, spec in EVENTS.items() if spec.opens_item] == [REGISTERED]
    assert next(iter(EVENTS)) == REGISTERED
    assert REGISTERED not in RECORDABLE
    assert REGISTERED not in LIFECYCLE
    with pytest.raises(ValidationError, match="items are registered") as refused:
        registry.parse_event(REGISTERED, dict(EVENTS[REGISTERED].example))
    assert refused.value.pointer == "/type"


def test_unknown_types_are_refused_with_the_recordable_ones_listed() -> None:
    with pytest.raises(ValidationError) as refused:
        registry.parse_event("exploded", {})
    assert refused.value.pointer == "/type"
    assert refused.value.args[0].endswith(", ".join(sorted(RECORDABLE)))


def test_the_lifecycle_table_is_the_registry_in_its_order() -> None:
    assert list(LIFECYCLE) == list(RECORDABLE)
    for name, rule in LIFECYCLE.items():
        assert rule is EVENTS[name].rule


@pytest.mark.parametrize("name", list(EVENTS))
def test_each_example_is_valid_data_of_its_own_event(name: str) -> None:
    spec = EVENTS[name]
    payload = parse_model(spec.payload, dict(spec.example), pointer="/data")
    assert dump(payload) == spec.example


@pytest.mark.parametrize("name", list(EVENTS))
def test_the_field_lists_name_fields_of_the_payload(name: str) -> None:
    spec = EVENTS[name]
    fields = set(spec.payload.model_fields)
    assert set(spec.facts) <= fields
    assert spec.personal <= fields
    assert spec.org_fields <= fields
    # What the passport shows of an event is labelled; only bulk data is not.
    assert fields - set(spec.facts) <= {"attributes", "kind", "code", "parent", "origin"}


@pytest.mark.parametrize("name", RECORDABLE)
def test_each_event_is_offered_by_a_scan_unless_it_names_an_entry(name: str) -> None:
    rule = LIFECYCLE[name]
    offered = {
        (state, role)
        for state in State
        for role in Role
        if name in allowed_events(_item(state, holder="org_me"), Org("org_me", role))
    }
    if rule.who is Who.AUTHOR:
        assert offered == set()
    else:
        assert offered == {(s, r) for s in rule.from_states for r in rule.roles}


@pytest.mark.parametrize("name", RECORDABLE)
def test_the_fold_applies_the_rule_and_the_effect(name: str) -> None:
    rule = LIFECYCLE[name]
    before = _item(min(rule.from_states))
    data = dict(EVENTS[name].example)
    after = apply_entry(before, name, "org_holder", before.id, data, head="ab" * 32, seq=7)
    assert after.state == (rule.to_state or before.state)
    assert (after.head, after.head_seq) == ("ab" * 32, 7)
    # Custody moves with a transfer, and with nothing else.
    assert after.holder == (data["to_org"] if name == "transferred" else before.holder)


# -- the write hooks, through the real write path ------------------------------
#
# Each test records events with ``items.record_event`` in ``Ledger.write`` on the
# in-memory store: a hook's refusal refuses the whole write (and writes nothing),
# what it adds is in the entries the write appends.


@dataclass(frozen=True)
class Books:
    """A ledger over the in-memory store, with an OEM and a recycler (an admin made them)."""

    ledger: Ledger
    oem: OrgRecord
    recycler: OrgRecord

    @classmethod
    def open(cls) -> Books:
        ledger = Ledger(MemoryStore(), clock=lambda: datetime.now(UTC))

        def create(actor: OrgRecord | None, name: str, role: Role) -> OrgRecord:
            return ledger.write(lambda tx: orgs.create_org(tx, actor, name, role, "CN")).org

        admin = create(None, "Admin", Role.ADMIN)
        return cls(ledger, create(admin, "OEM", Role.OEM), create(admin, "Recycler", Role.RECYCLER))

    def register(self, code: str = PACK) -> Item:
        """A battery pack the OEM registers (and holds)."""
        raw = {"kind": "battery_pack", "code": code}
        return self.ledger.write(lambda tx: items.register(tx, self.oem, raw)).item

    def record(
        self, actor: OrgRecord, item_id: str, name: str, data: dict[str, Any]
    ) -> items.Written:
        return self.ledger.write(lambda tx: items.record_event(tx, actor, item_id, name, data))

    def refuse(
        self, error: type[E], actor: OrgRecord, item_id: str, name: str, data: dict[str, Any]
    ) -> E:
        """Record an event that must be refused with ``error``; check nothing was written."""
        before = self.contents()
        with pytest.raises(error) as refused:
            self.record(actor, item_id, name, data)
        assert self.contents() == before
        return refused.value

    def contents(self) -> tuple[list[StoredEntry], list[Item]]:
        """The whole log and every item."""
        with self.ledger.store.reader() as r:
            return r.entries(0, r.size()), list(r.iter_items())

    def item(self, item_id: str) -> Item:
        with self.ledger.store.reader() as r:
            found = r.item(item_id)
        assert found is not None
        return found

    def holder(self, item: Item) -> OrgRecord:
        return {org.id: org for org in (self.oem, self.recycler)}[item.holder]

    def life(self, item: Item) -> Iterator[Item]:
        """The item as it is, then after each step of a pack's life up to the
        recycler's assessment, each step recorded only when the next is asked for."""
        yield item
        steps = [
            (self.oem, "installed", dict(EVENTS["installed"].example)),
            (self.oem, "retired", dict(EVENTS["retired"].example)),
            (self.oem, "transferred", {"to_org": self.recycler.id}),
            (self.recycler, "collected", dict(EVENTS["collected"].example)),
            (self.recycler, "assessed", dict(EVENTS["assessed"].example)),
        ]
        for actor, name, data in steps:
            item = self.record(actor, item.id, name, data).item
            yield item

    def at(self, state: State) -> Item:
        """A new pack taken along its life until it is in ``state``."""
        return next(i for i in self.life(self.register()) if i.state == state)


def _entries(written: items.Written) -> list[tuple[str, str | None, str, dict[str, Any]]]:
    return [(e.actor, e.item, e.type, e.data) for e in written.entries]


HOOKED = [
    n
    for n in RECORDABLE
    if EVENTS[n].on_write is not None or EVENTS[n].author is not None or EVENTS[n].check is not None
]


def test_each_event_with_hooks_has_its_tests_here() -> None:
    assert HOOKED == ["transferred", "repurposed", "dismantled", "recycled", "corrected"]


@pytest.mark.parametrize("name", [n for n in RECORDABLE if n not in HOOKED])
def test_events_without_hooks_write_their_data_as_given(name: str) -> None:
    rule = LIFECYCLE[name]
    books = Books.open()
    item = next(
        (
            i
            for i in books.life(books.register())
            if i.state in rule.from_states and books.holder(i).role in rule.roles
        ),
        None,
    )
    assert item is not None, f"no step of a pack's life lets its holder record {name}"
    actor = books.holder(item)
    size = len(books.contents()[0])
    written = books.record(actor, item.id, name, dict(EVENTS[name].example))
    assert _entries(written) == [(actor.id, item.id, name, EVENTS[name].example)]
    assert written.entries[0].seq == size
    assert len(books.contents()[0]) == size + 1


def test_transferred_needs_a_known_custodian() -> None:
    books = Books.open()
    item = books.register()
    unknown = books.refuse(
        NotFoundError, books.oem, item.id, "transferred", {"to_org": "org_nobody"}
    )
    assert (str(unknown), unknown.pointer) == ("no org org_nobody", "/data/to_org")
    to = {"to_org": books.recycler.id}
    written = books.record(books.oem, item.id, "transferred", to)
    assert _entries(written) == [(books.oem.id, item.id, "transferred", to)]
    assert books.item(item.id).holder == books.recycler.id


def test_repurposed_claims_the_new_code_and_registers_the_second_life() -> None:
    books = Books.open()
    item = books.at(State.ASSESSED)
    data = {"new_code": SECOND_LIFE, "application": "grid storage"}
    # The new code is claimed as a code of the item's kind, at /data/new_code.
    taken = books.refuse(
        DuplicateError, books.recycler, item.id, "repurposed", {**data, "new_code": PACK}
    )
    assert taken.pointer == "/data/new_code"
    module_code = books.refuse(
        InvalidCodeError, books.recycler, item.id, "repurposed", {**data, "new_code": MODULES[0]}
    )
    assert module_code.pointer == "/data/new_code"
    assert "the item is a battery_pack" in str(module_code)

    written = books.record(books.recycler, item.id, "repurposed", data)
    event, registration = written.entries
    new_id = registration.item
    assert new_id is not None
    assert new_id != item.id
    assert _entries(written) == [
        (books.recycler.id, item.id, "repurposed", {**data, "attributes": {}, "new_item": new_id}),
        (
            books.recycler.id,
            new_id,
            REGISTERED,
            {"kind": "battery_pack", "code": SECOND_LIFE, "attributes": {}, "origin": item.id},
        ),
    ]
    assert event.seq + 1 == registration.seq
    second_life = books.item(new_id)
    assert (second_life.state, second_life.holder, second_life.origin) == (
        State.REGISTERED,
        books.recycler.id,
        item.id,
    )
    assert books.item(item.id).state == State.REPURPOSED


def test_dismantled_registers_each_part_with_its_parent() -> None:
    books = Books.open()
    item = books.at(State.COLLECTED)
    children = [{"kind": "battery_module", "code": code} for code in MODULES]
    # Each part's code is claimed at its own place in the payload.
    twice = books.refuse(
        DuplicateError,
        books.recycler,
        item.id,
        "dismantled",
        {"children": [children[0], children[0]]},
    )
    assert twice.pointer == "/data/children/1/code"
    blade = books.refuse(
        ValidationError,
        books.recycler,
        item.id,
        "dismantled",
        {"children": [{"kind": "wind_blade", "code": "B"}]},
    )
    assert blade.pointer == "/data/children/0/kind"
    assert "cannot be dismantled into a wind_blade" in str(blade)

    written = books.record(books.recycler, item.id, "dismantled", {"children": children})
    event, *registrations = written.entries
    parts = [r.item for r in registrations]
    assert [c["item"] for c in event.data["children"]] == parts
    assert _entries(written)[1:] == [
        (books.recycler.id, part, REGISTERED, {**child, "attributes": {}, "parent": item.id})
        for part, child in zip(parts, children, strict=True)
    ]
    assert written.children == sorted(p for p in parts if p is not None)
    assert books.item(item.id).state == State.DISMANTLED


def test_recycled_keeps_the_mass_balance() -> None:
    books = Books.open()
    item = books.at(State.COLLECTED)
    data = dict(EVENTS["recycled"].example)
    too_much = books.refuse(
        MassBalanceError, books.recycler, item.id, "recycled", {**data, "input_mass_kg": "40"}
    )
    assert too_much.pointer == "/data/recovered"
    written = books.record(books.recycler, item.id, "recycled", data)
    # Each known compound's element and its mass (ledger.materials) join its line:
    # 18.4 kg Li2CO3 x 2(6.94)/73.888 = 3.456474664… kg of lithium; copper is itself.
    elements = [
        {"element": "li", "element_mass_kg": "3.456475"},
        {"element": "cu", "element_mass_kg": "31"},
    ]
    stored = {
        **data,
        "recovered": [{**r, **e} for r, e in zip(data["recovered"], elements, strict=True)],
    }
    assert _entries(written) == [(books.recycler.id, item.id, "recycled", stored)]


def test_corrected_names_the_author_of_an_entry_of_this_item() -> None:
    spec = EVENTS["corrected"]
    assert spec.author is not None
    assert spec.on_write is not None  # validates the corrected entry anew
    books = Books.open()
    item = books.register()
    retired = books.record(books.oem, item.id, "retired", {"reason": "x"}).entries[0]
    other = books.register(OTHER_PACK)
    books.record(books.oem, item.id, "transferred", {"to_org": books.recycler.id})
    fix = {"seq": retired.seq, "fields": {"reason": "typo"}}

    # The recycler holds the item now, but did not write the entry.
    not_author = books.refuse(ForbiddenError, books.recycler, item.id, "corrected", fix)
    assert (str(not_author), not_author.pointer) == (
        f"only the org that wrote an entry may correct it (that entry was written by "
        f"{books.oem.id})",
        "/data/seq",
    )
    missing = books.refuse(NotFoundError, books.oem, item.id, "corrected", {**fix, "seq": 999})
    assert (str(missing), missing.pointer) == ("no entry 999", "/data/seq")
    elsewhere = books.refuse(
        ValidationError, books.oem, item.id, "corrected", {**fix, "seq": other.head_seq}
    )
    assert (str(elsewhere), elsewhere.pointer) == (
        f"entry {other.head_seq} is not about item {item.id}",
        "/data/seq",
    )
    no_field = books.refuse(
        ValidationError, books.oem, item.id, "corrected", {**fix, "fields": {"site": "x"}}
    )
    assert no_field.pointer == "/data/fields/site"

    written = books.record(books.oem, item.id, "corrected", fix)
    assert _entries(written) == [(books.oem.id, item.id, "corrected", fix)]


def test_terminal_states_are_where_some_event_leads() -> None:
    assert {rule.to_state for rule in LIFECYCLE.values()} >= TERMINAL
