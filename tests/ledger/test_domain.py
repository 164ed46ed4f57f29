"""The lifecycle rules as pure functions: no database, no clock."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledger.domain import (
    LIFECYCLE,
    allowed_events,
    apply_entry,
    check_event,
    check_parent,
    check_registrant,
)
from ledger.errors import (
    ForbiddenError,
    IllegalTransitionError,
    InvalidTransferError,
    MassBalanceError,
    ValidationError,
)
from ledger.events import Dismantled, ItemKind, Recycled, parse_model
from ledger.lifecycle import Item, Org, Role, State
from ledger.registry import check_children, check_mass_balance, check_transfer

WRITERS = {"oem", "operator", "recycler"}
NON_TERMINAL = {"registered", "in_service", "retired", "collected", "assessed"}
AFTER_INTAKE = {"collected", "assessed"}
# DESIGN.md "Lifecycle", transcribed by hand: event -> (roles, from states, to state).
# None as the to state: the state is unchanged.
DESIGN: dict[str, tuple[set[str], set[str], str | None]] = {
    "installed": ({"oem", "operator"}, {"registered"}, "in_service"),
    "retired": ({"oem", "operator"}, {"registered", "in_service"}, "retired"),
    "transferred": (WRITERS, NON_TERMINAL, None),
    "collected": ({"recycler"}, {"retired"}, "collected"),
    "assessed": ({"recycler"}, {"collected"}, "assessed"),
    "repurposed": ({"recycler"}, {"assessed"}, "repurposed"),
    "dismantled": ({"recycler"}, AFTER_INTAKE, "dismantled"),
    "recycled": ({"recycler"}, AFTER_INTAKE, "recycled"),
    "disposed": ({"recycler"}, AFTER_INTAKE, "disposed"),
    "corrected": (WRITERS, {s.value for s in State}, None),
}
EVENTS = [e for e in DESIGN if e != "corrected"]
STATES = [s.value for s in State]
ROLES = [r.value for r in Role]

MAKER = Org("org_maker", Role.OEM, "Maker")


def _item(state: str = "registered", holder: str = "org_maker", **extra: Any) -> Item:
    return Item(
        id="itm_1",
        kind=ItemKind.BATTERY_PACK,
        code="CODE",
        state=State(state),
        holder=holder,
        manufacturer=MAKER.id,
        **extra,
    )


def _recycled(input_mass_kg: str, *masses: str) -> Recycled:
    return parse_model(
        Recycled,
        {
            "input_mass_kg": input_mass_kg,
            "process": "hydrometallurgy",
            "recovered": [{"material": f"m{i}", "mass_kg": m} for i, m in enumerate(masses)],
        },
    )


def test_lifecycle_table_is_the_design() -> None:
    assert set(LIFECYCLE) == set(DESIGN)
    for event_type, (roles, from_states, to_state) in DESIGN.items():
        rule = LIFECYCLE[event_type]
        assert {r.value for r in rule.roles} == roles, event_type
        assert {s.value for s in rule.from_states} == from_states, event_type
        assert (rule.to_state.value if rule.to_state else None) == to_state, event_type


@pytest.mark.parametrize("event_type", EVENTS)
@pytest.mark.parametrize("state", STATES)
def test_check_event_by_the_holder(state: str, event_type: str) -> None:
    roles, from_states, to_state = DESIGN[event_type]
    for role in ROLES:
        actor = Org("org_actor", Role(role), "Actor")
        item = _item(state, holder=actor.id)
        if role not in roles:
            with pytest.raises(ForbiddenError) as refused:
                check_event(item, actor, event_type)
            assert role in refused.value.detail
        elif state not in from_states:
            with pytest.raises(IllegalTransitionError) as illegal:
                check_event(item, actor, event_type)
            assert state in illegal.value.detail
            assert illegal.value.extra["state"] == state
        else:
            rule = check_event(item, actor, event_type)
            assert (rule.to_state.value if rule.to_state else None) == to_state


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
def test_allowed_events_for_the_holder_in_table_order(state: str, role: str) -> None:
    actor = Org("org_actor", Role(role))
    expected = [e for e in EVENTS if role in DESIGN[e][0] and state in DESIGN[e][1]]
    assert allowed_events(_item(state, holder=actor.id), actor) == expected
    # someone who neither holds nor made the item may record nothing
    assert allowed_events(_item(state, holder="org_other"), actor) == []


@pytest.mark.parametrize("state", STATES)
def test_manufacturer_may_only_retire_what_it_does_not_hold(state: str) -> None:
    item = _item(state, holder="org_operator")
    may_retire = state in {"registered", "in_service"}
    assert allowed_events(item, MAKER) == (["retired"] if may_retire else [])
    if may_retire:
        assert check_event(item, MAKER, "retired").to_state == State.RETIRED
        with pytest.raises(ForbiddenError):
            check_event(item, Org("org_oem2", Role.OEM), "retired")
    else:
        with pytest.raises(IllegalTransitionError):
            check_event(item, MAKER, "retired")
    if state == "registered":
        with pytest.raises(ForbiddenError):
            check_event(item, MAKER, "installed")


def test_holder_refusal_names_the_holder() -> None:
    holder = Org("org_holder", Role.OEM, "Holder Motors")
    recycler = Org("org_rec", Role.RECYCLER, "Recycler")
    item = _item("retired", holder=holder.id)
    with pytest.raises(ForbiddenError) as refused:
        check_event(item, recycler, "collected", find_org={holder.id: holder}.get)
    assert "Holder Motors (org_holder)" in refused.value.detail
    assert "transferred to you first" in refused.value.detail
    assert refused.value.extra["holder"] == holder.id
    with pytest.raises(ForbiddenError) as refused:
        check_event(item, recycler, "collected")
    assert "org_holder" in refused.value.detail


def test_an_allowed_event_looks_no_org_up() -> None:
    def no_lookup(org_id: str) -> Org | None:
        raise AssertionError(f"looked up {org_id} for an allowed event")

    item = _item("retired", holder="org_rec")
    rule = check_event(item, Org("org_rec", Role.RECYCLER), "collected", find_org=no_lookup)
    assert rule.to_state == State.COLLECTED


@pytest.mark.parametrize(
    ("state", "role", "event_type"),
    [
        ("recycled", "operator", "installed"),
        ("dismantled", "oem", "installed"),
        ("collected", "operator", "installed"),
        ("in_service", "recycler", "collected"),
        ("disposed", "recycler", "transferred"),
    ],
)
def test_illegal_transition_is_refused_whoever_asks(state: str, role: str, event_type: str) -> None:
    # The state decides first: sending a non-holder to get custody of an item
    # whose life has ended would point to a remedy that does not exist.
    item = _item(state, holder="org_holder")
    with pytest.raises(IllegalTransitionError):
        check_event(item, Org("org_actor", Role(role)), event_type)


@pytest.mark.parametrize("role", ["regulator", "admin"])
def test_regulator_and_admin_write_nothing_to_items(role: str) -> None:
    actor = Org("org_actor", Role(role))
    for event_type in DESIGN:
        with pytest.raises(ForbiddenError):
            check_event(_item(holder=actor.id), actor, event_type, corrected_actor=actor.id)


@pytest.mark.parametrize("state", STATES)
def test_only_the_author_corrects_an_entry_in_any_state(state: str) -> None:
    author = Org("org_author", Role.RECYCLER)
    item = _item(state, holder="org_someone_else")
    assert check_event(item, author, "corrected", corrected_actor=author.id).to_state is None
    with pytest.raises(ForbiddenError) as refused:
        check_event(item, author, "corrected", corrected_actor="org_other")
    assert refused.value.pointer == "/data/seq"
    assert "org_other" in refused.value.detail


def test_check_transfer() -> None:
    item = _item(holder="org_maker")
    check_transfer(item, Org("org_rec", Role.RECYCLER))
    check_transfer(item, Org("org_op", Role.OPERATOR))
    check_transfer(item, Org("org_oem2", Role.OEM))
    for to_org in (MAKER, Org("org_reg", Role.REGULATOR), Org("org_adm", Role.ADMIN)):
        with pytest.raises(InvalidTransferError) as refused:
            check_transfer(item, to_org)
        assert refused.value.pointer == "/data/to_org"


@pytest.mark.parametrize(
    ("input_mass_kg", "masses"),
    [
        ("0.3", ("0.1", "0.2")),  # 0.1 + 0.2 > 0.3 in binary floats
        ("1", ("0.1",) * 10),
        ("410.2", ("400", "10.2")),
        ("0", ("0",)),
        ("999999999999.999999", ("999999999999.999998", "0.000001")),
    ],
    ids=["0.1+0.2=0.3", "ten-tenths", "integer-part", "zero", "max-digits"],
)
def test_mass_balance_is_exact_when_equal(input_mass_kg: str, masses: tuple[str, ...]) -> None:
    check_mass_balance(_recycled(input_mass_kg, *masses))


def test_the_exact_case_would_fail_with_floats() -> None:
    assert 0.1 + 0.2 > 0.3  # why decimals: the float sum exceeds the input
    assert Decimal("0.1") + Decimal("0.2") == Decimal("0.3")


@pytest.mark.parametrize(
    ("input_mass_kg", "masses", "recovered"),
    [
        ("0.3", ("0.1", "0.200001"), "0.300001"),
        ("0.299999", ("0.1", "0.2"), "0.3"),
        ("0", ("0.000001",), "0.000001"),
        ("410.2", ("400", "10.3"), "410.3"),
    ],
)
def test_mass_balance_refuses_any_excess(
    input_mass_kg: str, masses: tuple[str, ...], recovered: str
) -> None:
    with pytest.raises(MassBalanceError) as refused:
        check_mass_balance(_recycled(input_mass_kg, *masses))
    assert refused.value.extra == {
        "rule": "recovered-within-input",
        "recovered_kg": recovered,
        "input_mass_kg": input_mass_kg,
    }
    assert refused.value.pointer == "/data/recovered"
    assert refused.value.code == "mass-balance"


def test_children_must_fit_the_kind() -> None:
    modules = parse_model(Dismantled, {"children": [{"kind": "battery_module", "code": "M1"}]})
    check_children(ItemKind.BATTERY_PACK, modules)
    for kind in (ItemKind.BATTERY_CELL, ItemKind.PV_MODULE, ItemKind.WIND_BLADE):
        with pytest.raises(ValidationError) as refused:
            check_children(kind, modules)
        assert refused.value.pointer == "/data/children/0/kind"
    check_children(ItemKind.WIND_BLADE, parse_model(Dismantled, {"children": []}))


def test_parent_must_hold_the_kind_and_be_held_by_the_registrant() -> None:
    pack = _item(holder=MAKER.id)
    check_parent(ItemKind.BATTERY_MODULE, pack, MAKER)
    check_parent(ItemKind.BATTERY_CELL, pack, MAKER)
    with pytest.raises(ValidationError):
        check_parent(ItemKind.PV_MODULE, pack, MAKER)
    with pytest.raises(ForbiddenError) as refused:
        check_parent(ItemKind.BATTERY_MODULE, pack, Org("org_oem2", Role.OEM))
    assert refused.value.pointer == "/parent"


def test_who_may_register() -> None:
    recycler = Org("org_rec", Role.RECYCLER)
    check_registrant(MAKER, origin=None, parent=None)
    for state in ("repurposed", "dismantled"):
        check_registrant(recycler, origin=_item(state, holder=recycler.id), parent=None)
        check_registrant(recycler, origin=None, parent=_item(state, holder=recycler.id))
    refusals: list[tuple[Org, Item | None]] = [
        (recycler, None),
        (recycler, _item("assessed", holder=recycler.id)),
        (recycler, _item("dismantled", holder="org_other")),
        (Org("org_op", Role.OPERATOR), None),
        (Org("org_reg", Role.REGULATOR), None),
        (MAKER, _item("repurposed", holder="org_other")),
    ]
    for actor, origin in refusals:
        with pytest.raises(ForbiddenError):
            check_registrant(actor, origin=origin, parent=None)


def test_apply_entry_folds_a_whole_life() -> None:
    data = {"kind": "battery_pack", "code": "CODE", "attributes": {"mass_kg": "1"}}
    item = apply_entry(None, "registered", MAKER.id, "itm_1", data, head="h0", seq=0)
    assert (item.state, item.holder, item.manufacturer, item.head_seq) == (
        State.REGISTERED,
        MAKER.id,
        MAKER.id,
        0,
    )
    steps: list[tuple[str, dict[str, Any]]] = [
        ("retired", {}),
        ("transferred", {"to_org": "org_rec"}),
        ("collected", {}),
        ("corrected", {"seq": 3, "fields": {}}),
        ("recycled", {}),
    ]
    for seq, (event_type, step_data) in enumerate(steps, start=1):
        before = item
        item = apply_entry(item, event_type, "org_x", "itm_1", step_data, head=f"h{seq}", seq=seq)
        assert (item.head, item.head_seq) == (f"h{seq}", seq)
        to_state = DESIGN[event_type][2]
        assert item.state.value == (to_state or before.state.value)
    assert (item.state, item.holder, item.manufacturer) == (State.RECYCLED, "org_rec", MAKER.id)


def test_apply_entry_refuses_what_cannot_apply() -> None:
    with pytest.raises(ValidationError):
        apply_entry(None, "retired", "org_x", "itm_1", {}, head="h", seq=4)
    with pytest.raises(ValidationError):
        apply_entry(_item(), "teleported", "org_x", "itm_1", {}, head="h", seq=4)
