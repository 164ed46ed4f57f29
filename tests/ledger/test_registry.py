"""The event registry, and every place derived from it.

Each event type is declared once, in ``ledger.registry``. These tests follow
every entry to where it is used: the lifecycle table and the events a scan
offers, the OpenAPI union of ``POST /v1/items/{id}/events`` with its example,
the passport's words, and the write hooks (run here against a fake
``WriteContext``). A new entry that passes them needs no edit elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs; used for one check
import pytest
from fastapi import FastAPI

from api.routes import items as item_routes
from api.routes.passport import _FACT_LABELS, EVENT_NAMES, STATE_NAMES
from api.schemas import EventCreate
from ledger import registry
from ledger.chain import ZERO_HASH, Entry, build_entry
from ledger.domain import (
    LIFECYCLE,
    REGISTERED,
    TERMINAL,
    Item,
    Org,
    Role,
    State,
    allowed_events,
    apply_entry,
)
from ledger.errors import NotFoundError, ValidationError
from ledger.events import ItemKind, dump, parse_model
from ledger.lifecycle import Who
from ledger.registry import EVENTS, RECORDABLE

ORG_ID = "org_01JD8Z3K5V7W9XQRSTABCDEFGH"


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


def _openapi() -> dict[str, Any]:
    app = FastAPI()
    app.include_router(item_routes.router)
    return app.openapi()


def test_the_openapi_body_is_a_union_on_type_of_every_event_with_its_example() -> None:
    doc = _openapi()
    body = doc["paths"]["/v1/items/{item_id}/events"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    union = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert union["discriminator"]["propertyName"] == "type"
    mapping = union["discriminator"]["mapping"]
    assert set(mapping) == set(RECORDABLE)
    assert [variant["$ref"] for variant in union["oneOf"]] == [mapping[n] for n in RECORDABLE]
    check = jsonschema.Draft202012Validator({"$ref": ref, "components": doc["components"]})
    for name, variant_ref in mapping.items():
        spec = EVENTS[name]
        variant = doc["components"]["schemas"][variant_ref.rsplit("/", 1)[1]]
        assert variant["properties"]["type"]["const"] == name
        assert variant["properties"]["data"]["$ref"].endswith(f"/{spec.payload.__name__}")
        (example,) = variant["examples"]
        assert example == {"type": name, "data": spec.example}
        check.validate(example)
        parse_model(spec.payload, example["data"], pointer="/data")
        # The runtime model stays lenient: the ledger checks data, with pointers.
        assert EventCreate.model_validate(example).type == name


def test_the_passport_has_words_for_every_event_and_state() -> None:
    assert {name: spec.label for name, spec in EVENTS.items()} == EVENT_NAMES
    assert EVENT_NAMES["transferred"] == "Custody transferred"
    assert {name: dict(spec.facts) for name, spec in EVENTS.items()} == _FACT_LABELS
    assert set(STATE_NAMES) == {s.value for s in State}
    assert {"vin"} == registry.PERSONAL_FIELDS
    assert {"to_org"} == registry.ORG_FIELDS
    assert registry.SUCCESSORS == {"repurposed": "new_item"}


# -- the write hooks, against a fake context ------------------------------------


@dataclass
class FakeWrite:
    """A ``WriteContext`` over a few orgs and entries held in memory."""

    item: Item
    actor: str = "org_holder"
    orgs: dict[str, Org] = field(default_factory=dict)
    entries: dict[int, Entry] = field(default_factory=dict)
    claimed: list[tuple[ItemKind, str, str]] = field(default_factory=list)
    follow_ups: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ids: int = 0

    def org(self, org_id: str) -> Org | None:
        return self.orgs.get(org_id)

    def entry(self, seq: int) -> Entry | None:
        return self.entries.get(seq)

    def claim_code(self, kind: ItemKind, code: str, pointer: str) -> None:
        self.claimed.append((kind, code, pointer))

    def new_item_id(self) -> str:
        self.ids += 1
        return f"itm_new{self.ids}"

    def follow_up(self, item_id: str, registration: dict[str, Any]) -> None:
        self.follow_ups.append((item_id, registration))


def _write(name: str, ctx: FakeWrite, raw: dict[str, Any]) -> dict[str, Any]:
    spec, payload = registry.parse_event(name, raw)
    data = dump(payload)
    if spec.on_write is not None:
        spec.on_write(ctx, payload, data)
    return data


def test_events_without_hooks_write_their_data_as_given() -> None:
    for name, spec in EVENTS.items():
        if spec.on_write is None and not spec.opens_item:
            ctx = FakeWrite(_item())
            assert _write(name, ctx, dict(spec.example)) == spec.example
            assert ctx.follow_ups == []


def test_repurposed_claims_the_new_code_and_registers_the_second_life() -> None:
    ctx = FakeWrite(_item(State.ASSESSED))
    data = _write("repurposed", ctx, {"new_code": "NEW", "application": "grid storage"})
    assert data["new_item"] == "itm_new1"
    assert ctx.claimed == [(ItemKind.BATTERY_PACK, "NEW", "/data/new_code")]
    assert ctx.follow_ups == [
        ("itm_new1", {"kind": "battery_pack", "code": "NEW", "attributes": {}, "origin": "itm_1"})
    ]


def test_dismantled_registers_each_part_with_its_parent() -> None:
    ctx = FakeWrite(_item(State.COLLECTED))
    children = [{"kind": "battery_module", "code": f"M{i}"} for i in range(2)]
    data = _write("dismantled", ctx, {"children": children})
    assert [c["item"] for c in data["children"]] == ["itm_new1", "itm_new2"]
    assert [pointer for *_, pointer in ctx.claimed] == [
        "/data/children/0/code",
        "/data/children/1/code",
    ]
    assert [reg["parent"] for _, reg in ctx.follow_ups] == ["itm_1", "itm_1"]
    with pytest.raises(ValidationError) as refused:
        _write(
            "dismantled", FakeWrite(_item()), {"children": [{"kind": "wind_blade", "code": "B"}]}
        )
    assert refused.value.pointer == "/data/children/0/kind"


def test_transferred_needs_a_known_custodian() -> None:
    ctx = FakeWrite(_item(), orgs={ORG_ID: Org(ORG_ID, Role.RECYCLER)})
    assert _write("transferred", ctx, {"to_org": ORG_ID}) == {"to_org": ORG_ID}
    with pytest.raises(NotFoundError) as refused:
        _write("transferred", ctx, {"to_org": "org_nobody"})
    assert refused.value.pointer == "/data/to_org"


def test_corrected_names_the_author_of_an_entry_of_this_item() -> None:
    spec, payload = registry.parse_event("corrected", {"seq": 3, "fields": {"reason": "typo"}})
    assert spec.author is not None
    entry = build_entry(
        seq=3,
        now=datetime(2024, 5, 31, tzinfo=UTC),
        actor="org_author",
        item="itm_1",
        type="retired",
        data={"reason": "x"},
        prev=ZERO_HASH,
        item_prev=ZERO_HASH,
    )
    assert spec.author(FakeWrite(_item(), entries={3: entry}), payload) == "org_author"
    with pytest.raises(NotFoundError):
        spec.author(FakeWrite(_item()), payload)
    other = FakeWrite(_item(), entries={3: replace(entry, item="itm_2")})
    with pytest.raises(ValidationError, match="is not about item itm_1"):
        spec.author(other, payload)
    _, unknown_field = registry.parse_event("corrected", {"seq": 3, "fields": {"site": "x"}})
    with pytest.raises(ValidationError) as refused:
        spec.author(FakeWrite(_item(), entries={3: entry}), unknown_field)
    assert refused.value.pointer == "/data/fields/site"


def test_terminal_states_are_where_some_event_leads() -> None:
    assert {rule.to_state for rule in LIFECYCLE.values()} >= TERMINAL
