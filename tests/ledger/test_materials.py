"""Masses that add up: stoichiometry, the item's mass and the mass rules, with no database.

Each expected element mass is computed by hand from the IUPAC 2021 values in
``ledger.materials`` and can be recomputed with ``bc``, e.g.
``echo "scale=12; 100*13.88/73.888" | bc`` (lithium in 100 kg of Li2CO3).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger import items, orgs
from ledger.chain import Entry, build_entry
from ledger.errors import ImplausibleError
from ledger.events import Dismantled, parse_model
from ledger.lifecycle import Role, Tolerances, latest_date
from ledger.materials import (
    COMPOUNDS,
    ItemMass,
    check_children_mass,
    check_input_mass,
    compound,
    effective_data,
    element_mass,
    item_mass,
    molar_mass,
)
from ledger.plausibility import check_date
from ledger.records import OrgRecord
from ledger.service import Ledger
from ledger.store.memory import MemoryStore

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "molar", "element", "in_100_kg"),
    [
        # 2(6.94) + 12.011 + 3(15.999) = 73.888; 100 x 13.88 / 73.888 = 18.785188393…
        ("lithium carbonate", "73.888", "li", "18.785188"),
        # 6.94 + 15.999 + 1.008 + 2(1.008) + 15.999 = 41.962; 100 x 6.94 / 41.962 = 16.538773175…
        ("lithium hydroxide monohydrate", "41.962", "li", "16.538773"),
        # 58.6934 + 32.06 + 4(15.999) + 6(18.015) = 262.8394; x 58.6934 = 22.330518179…
        ("nickel sulfate hexahydrate", "262.8394", "ni", "22.330518"),
        # 58.933194 + 32.06 + 63.996 + 7(18.015) = 281.094194; x 58.933194 = 20.965639012…
        ("cobalt sulfate heptahydrate", "281.094194", "co", "20.965639"),
        # 54.938043 + 32.06 + 63.996 + 18.015 = 169.009043; x 54.938043 = 32.505978393…
        ("manganese sulfate monohydrate", "169.009043", "mn", "32.505978"),
        ("copper", "63.546", "cu", "100"),
    ],
)
def test_element_mass_by_stoichiometry(name: str, molar: str, element: str, in_100_kg: str) -> None:
    found = COMPOUNDS[name]
    assert molar_mass(found.atoms) == Decimal(molar)
    assert found.element == element
    assert element_mass(found, Decimal(100)) == Decimal(in_100_kg)


def test_compounds_are_found_by_name_or_formula() -> None:
    assert compound("  Lithium   Carbonate ") is COMPOUNDS["lithium carbonate"]
    assert compound("Li2CO3") is COMPOUNDS["lithium carbonate"]
    assert compound("NiSO4.6H2O") is COMPOUNDS["nickel sulfate hexahydrate"]
    assert compound("black mass") is None


def test_element_mass_is_rounded_once_half_to_even() -> None:
    # 18.4 x 13.88 / 73.888 = 3.456474664… kg
    assert element_mass(COMPOUNDS["lithium carbonate"], Decimal("18.4")) == Decimal("3.456475")
    # A large input keeps every digit: 10**12 kg x 13.88 / 73.888
    big = element_mass(COMPOUNDS["lithium carbonate"], Decimal(10**12))
    assert big == Decimal("187851883932.438285")  # …438284971…, rounded once


def _entry(seq: int, entry_type: str, data: dict[str, Any]) -> Entry:
    return build_entry(
        seq=seq,
        now=NOW,
        actor="org_a",
        item="itm_a",
        type=entry_type,
        data=data,
        prev="0" * 64,
        item_prev=None,
    )


def test_item_mass_is_the_collected_mass_else_the_registered_one_corrected() -> None:
    registered = _entry(0, "registered", {"kind": "pv_module", "attributes": {"mass_kg": "22"}})
    assert item_mass([registered]) == ItemMass(Decimal(22), "registered", 0)
    assert item_mass([_entry(0, "registered", {"kind": "pv_module"})]) is None
    collected = _entry(1, "collected", {"site": "x", "mass_kg": "21.5"})
    assert item_mass([registered, collected]) == ItemMass(Decimal("21.5"), "collected", 1)
    fix = _entry(2, "corrected", {"seq": 1, "fields": {"mass_kg": "21.4"}})
    history = [registered, collected, fix]
    assert effective_data(history)[1] == {"site": "x", "mass_kg": "21.4"}
    assert item_mass(history) == ItemMass(Decimal("21.4"), "collected", 1)


def test_input_mass_edge_is_the_tolerance_exactly() -> None:
    mass = ItemMass(Decimal(100), "registered", 0)
    check_input_mass(Decimal("102"), mass, Decimal("0.02"))
    check_input_mass(Decimal("999999999999"), None, Decimal("0.02"))  # nothing to compare
    with pytest.raises(ImplausibleError) as refused:
        check_input_mass(Decimal("102.000001"), mass, Decimal("0.02"))
    assert refused.value.extra["rule"] == "input-within-item-mass"
    assert refused.value.extra["mass_from"] == "registered"
    check_input_mass(Decimal("105"), mass, Decimal("0.05"))
    with pytest.raises(ImplausibleError):
        check_input_mass(Decimal("100.000001"), mass, Decimal(0))


def test_parts_without_masses_weigh_nothing_here() -> None:
    parts = parse_model(
        Dismantled,
        {
            "children": [
                {"kind": "battery_module", "code": "M1", "attributes": {"mass_kg": "30"}},
                {"kind": "battery_module", "code": "M2"},
            ]
        },
    )
    check_children_mass(parts.children, ItemMass(Decimal(30), "collected", 3))
    with pytest.raises(ImplausibleError) as refused:
        check_children_mass(parts.children, ItemMass(Decimal("29.999999"), "collected", 3))
    assert refused.value.extra["parts_kg"] == "30"


def test_today_is_the_latest_date_anywhere() -> None:
    assert latest_date(datetime(2026, 12, 1, 9, 59, tzinfo=UTC)) == date(2026, 12, 1)
    assert latest_date(datetime(2026, 12, 1, 10, 0, tzinfo=UTC)) == date(2026, 12, 2)
    check_date("2026-12-02", NOW, "/data/date")
    with pytest.raises(ImplausibleError) as refused:
        check_date("2026-12-03", NOW, "/data/date")
    assert (refused.value.pointer, refused.value.extra["latest"]) == ("/data/date", "2026-12-02")


def _recycling_at(tolerance: str, input_kg: str) -> None:
    """Register, collect at 100 kg and recycle ``input_kg`` under a ledger that allows
    ``tolerance`` (a fraction)."""
    ledger = Ledger(
        MemoryStore(), clock=lambda: datetime.now(UTC), tolerances=Tolerances(Decimal(tolerance))
    )

    def org(actor: OrgRecord | None, name: str, role: Role) -> OrgRecord:
        return ledger.write(lambda tx: orgs.create_org(tx, actor, name, role, "CN")).org

    admin = org(None, "Admin", Role.ADMIN)
    oem, recycler = org(admin, "OEM", Role.OEM), org(admin, "Recycler", Role.RECYCLER)
    raw = {"kind": "pv_module", "code": "PV-1", "attributes": {"mass_kg": "100"}}
    item = ledger.write(lambda tx: items.register(tx, oem, raw)).item.id
    steps = [
        (oem, "retired", {"reason": "hail"}),
        (oem, "transferred", {"to_org": recycler.id}),
        (recycler, "collected", {"site": "Dock", "mass_kg": "100"}),
        (
            recycler,
            "recycled",
            {
                "input_mass_kg": input_kg,
                "process": "x",
                "recovered": [{"material": "glass", "mass_kg": "1"}],
            },
        ),
    ]
    for actor, name, data in steps:
        ledger.write(lambda tx: items.record_event(tx, actor, item, name, data))  # noqa: B023


def test_the_ledger_takes_the_tolerance_it_is_given() -> None:
    _recycling_at("0.05", "105")
    with pytest.raises(ImplausibleError) as refused:
        _recycling_at("0.05", "105.000001")
    assert refused.value.extra["tolerance_pct"] == "5"
