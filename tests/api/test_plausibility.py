"""Plausible records at write time, through the HTTP API, on both databases.

Each rule is refused once, with a problem that names it (``rule``) and the
figures, and accepted at its edge: a recycling input exactly at the item's
mass plus the 2% tolerance, recovered mass equal to the input, parts weighing
exactly what the item weighs, a date of today. Then the parts of a dismantled
item, corrections validated by the corrected event's own model and rules,
material content and the element masses of recovered compounds.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from api.settings import Settings
from ledger.codes import make_battery_code
from ledger.lifecycle import Tolerances, latest_date
from tests.conftest import World
from tests.factories import Org, battery_code, event, register, registration, to_state

PROBLEM = "application/problem+json"
# Today as the ledger reads it (the latest date anywhere: UTC+14), and a day surely after it.
TODAY = latest_date(datetime.now(UTC))
LATER = TODAY + timedelta(days=2)


def _post(world: World, org: Org, item_id: str, event_type: str, data: dict[str, Any]) -> Any:
    return world.client.post(
        f"/v1/items/{item_id}/events", json={"type": event_type, "data": data}, headers=org.headers
    )


def _refused(answer: Any, status: int, code: str, rule: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = answer.json()
    assert (body["status"], body["code"]) == (status, code), body
    if rule is not None:
        assert body["rule"] == rule, body
    return body


def _collected(world: World, mass_kg: str, body: dict[str, Any] | None = None) -> str:
    """An item of the OEM's, retired, handed to the recycler and weighed at ``mass_kg``."""
    c = world.client
    item: str = register(c, world.oem, body or registration("pv_module"))["id"]
    event(c, world.oem, item, "retired", {"reason": "hail damage"})
    event(c, world.oem, item, "transferred", {"to_org": world.recycler.id})
    event(c, world.recycler, item, "collected", {"site": "Dock 3", "mass_kg": mass_kg})
    return item


def _recycled(input_kg: str, *lines: tuple[str, str]) -> dict[str, Any]:
    return {
        "input_mass_kg": input_kg,
        "process": "hydrometallurgy",
        "recovered": [{"material": m, "mass_kg": kg} for m, kg in lines],
    }


def test_recycling_input_stays_within_the_collected_mass_and_tolerance(world: World) -> None:
    item = _collected(world, "100")
    # The case: a 100 kg module recycled as 999,999,999,999 kg.
    huge = _recycled("999999999999", ("lithium", "999999999999"))
    body = _refused(_post(world, world.recycler, item, "recycled", huge), 422, "implausible")
    assert body["rule"] == "input-within-item-mass"
    assert body["pointer"] == "/data/input_mass_kg"
    over = _recycled("102.000001", ("glass", "80"))
    body = _refused(
        _post(world, world.recycler, item, "recycled", over),
        422,
        "implausible",
        "input-within-item-mass",
    )
    assert (body["input_mass_kg"], body["item_mass_kg"], body["mass_from"]) == (
        "102.000001",
        "100",
        "collected",
    )
    assert (body["tolerance_pct"], body["allowed_kg"]) == ("2", "102")
    # Exactly at the tolerance: 100 kg x 1.02.
    edge = _recycled("102", ("glass", "80"), ("aluminium", "22"))
    assert event(world.client, world.recycler, item, "recycled", edge)["item"]["state"] == (
        "recycled"
    )


def test_recovered_mass_stays_within_the_input(world: World) -> None:
    item = _collected(world, "100")
    over = _recycled("100", ("glass", "80"), ("aluminium", "20.000001"))
    body = _refused(
        _post(world, world.recycler, item, "recycled", over),
        422,
        "mass-balance",
        "recovered-within-input",
    )
    assert (body["recovered_kg"], body["input_mass_kg"]) == ("100.000001", "100")
    edge = _recycled("100", ("glass", "80"), ("aluminium", "20"))
    event(world.client, world.recycler, item, "recycled", edge)


def test_the_parts_of_a_dismantled_item_weigh_no_more_than_it(world: World) -> None:
    pack = _collected(world, "520", registration("battery_pack"))

    def modules(*masses: str) -> dict[str, Any]:
        return {
            "children": [
                {
                    "kind": "battery_module",
                    "code": battery_code("battery_module"),
                    "attributes": {"mass_kg": kg},
                }
                for kg in masses
            ]
        }

    # The case: a 520 kg pack taken apart into ten 500 kg modules.
    body = _refused(
        _post(world, world.recycler, pack, "dismantled", modules(*["500"] * 10)),
        422,
        "implausible",
        "parts-within-item-mass",
    )
    assert (body["parts_kg"], body["item_mass_kg"], body["pointer"]) == (
        "5000",
        "520",
        "/data/children",
    )
    _refused(
        _post(world, world.recycler, pack, "dismantled", modules("260", "260.000001")),
        422,
        "implausible",
        "parts-within-item-mass",
    )
    out = event(world.client, world.recycler, pack, "dismantled", modules("260", "260"))
    assert len(out["created"]) == 2


def test_parts_of_a_dismantled_item_come_only_from_its_dismantled_event(world: World) -> None:
    c = world.client
    pack = register(c, world.oem)["id"]
    to_state(c, world.oem, world.recycler, pack, "dismantled")
    later = registration("battery_module", parent=pack)
    for org in (world.recycler, world.oem):
        body = _refused(
            c.post("/v1/items", json=later, headers=org.headers),
            409,
            "illegal-transition",
            "parts-through-dismantling",
        )
        assert body["pointer"] == "/parent"
    # A pack still in one piece takes its modules by registration.
    alive = register(c, world.oem)["id"]
    register(c, world.oem, registration("battery_module", parent=alive))


def test_a_future_date_is_refused_wherever_it_is_given(world: World) -> None:
    c = world.client
    item = register(c, world.oem)["id"]
    body = _refused(
        _post(world, world.oem, item, "retired", {"reason": "x", "date": LATER.isoformat()}),
        422,
        "implausible",
        "date-not-future",
    )
    assert (body["pointer"], body["date"]) == ("/data/date", LATER.isoformat())
    _refused(
        _post(world, world.oem, item, "installed", {"site": "Farm 7", "date": "2024-02-30"}),
        422,
        "invalid-value",
    )
    event(c, world.oem, item, "installed", {"site": "Farm 7", "date": TODAY.isoformat()})

    def code_made(day: date) -> str:
        return make_battery_code("CAT", "P", "B", "01", "A1B2C3D", day, 4242)

    # The case: a production date in 2027 and later.
    body = _refused(
        c.post("/v1/items", json=registration(code=code_made(LATER)), headers=world.oem.headers),
        422,
        "implausible",
        "production-date-not-future",
    )
    assert body["pointer"] == "/code"
    register(c, world.oem, registration(code=code_made(datetime.now(UTC).date())))
    declared = registration("pv_module", attributes={"production_date": LATER.isoformat()})
    body = _refused(
        c.post("/v1/items", json=declared, headers=world.oem.headers),
        422,
        "implausible",
        "production-date-not-future",
    )
    assert body["pointer"] == "/attributes/production_date"
    register(c, world.oem, registration("pv_module", attributes={"production_date": "2024-01-31"}))


def test_corrections_are_validated_by_the_corrected_events_model_and_rules(
    world: World,
) -> None:
    c = world.client
    item = _collected(world, "100")
    recycled = event(c, world.recycler, item, "recycled", _recycled("100", ("glass", "80")))[
        "entry"
    ]

    def fix(fields: dict[str, Any]) -> dict[str, Any]:
        return {"seq": recycled["seq"], "fields": fields}

    # The cases, after the item's life has ended: a negative mass, a string
    # in place of the list, more recovered than went in.
    body = _refused(
        _post(
            world,
            world.recycler,
            item,
            "corrected",
            fix({"recovered": [{"material": "glass", "mass_kg": "-5"}]}),
        ),
        422,
        "invalid-value",
    )
    assert body["pointer"] == "/data/fields/recovered/0/mass_kg"
    body = _refused(
        _post(world, world.recycler, item, "corrected", fix({"recovered": "lots"})),
        422,
        "invalid-value",
    )
    assert body["pointer"] == "/data/fields/recovered"
    body = _refused(
        _post(
            world,
            world.recycler,
            item,
            "corrected",
            fix({"recovered": [{"material": "cobalt", "mass_kg": "400"}]}),
        ),
        422,
        "mass-balance",
        "recovered-within-input",
    )
    assert body["pointer"] == "/data/fields/recovered"
    _refused(
        _post(world, world.recycler, item, "corrected", fix({"input_mass_kg": "102.000001"})),
        422,
        "implausible",
        "input-within-item-mass",
    )
    _refused(
        _post(world, world.recycler, item, "corrected", fix({"date": LATER.isoformat()})),
        422,
        "implausible",
        "date-not-future",
    )
    # At the edges: all of the input recovered, the input at the tolerance.
    edge = fix({"input_mass_kg": "102", "recovered": [{"material": "copper", "mass_kg": "102"}]})
    out = event(c, world.recycler, item, "corrected", edge)
    assert out["entry"]["data"]["fields"] == {
        "input_mass_kg": "102",
        "recovered": [
            {"material": "copper", "mass_kg": "102", "element": "cu", "element_mass_kg": "102"}
        ],
    }
    # The corrected values are what the next correction is checked against.
    _refused(
        _post(world, world.recycler, item, "corrected", fix({"input_mass_kg": "101"})),
        422,
        "mass-balance",
    )


def test_a_correction_keeps_custody_and_cannot_be_corrected_itself(world: World) -> None:
    c = world.client
    item = register(c, world.oem)["id"]
    event(c, world.oem, item, "retired", {"reason": "x"})
    moved = event(c, world.oem, item, "transferred", {"to_org": world.recycler.id})["entry"]
    body = _refused(
        _post(
            world,
            world.oem,
            item,
            "corrected",
            {"seq": moved["seq"], "fields": {"to_org": world.recycler2.id}},
        ),
        422,
        "implausible",
        "correction-keeps-identity",
    )
    assert body["pointer"] == "/data/fields/to_org"
    registered = c.get(f"/v1/items/{item}/history", headers=world.oem.headers).json()["entries"][0]
    _refused(
        _post(
            world,
            world.oem,
            item,
            "corrected",
            {"seq": registered["seq"], "fields": {"code": battery_code()}},
        ),
        422,
        "implausible",
        "correction-keeps-identity",
    )
    fixed = event(
        c, world.oem, item, "corrected", {"seq": moved["seq"], "fields": {"date": "2024-05-31"}}
    )["entry"]
    body = _refused(
        _post(world, world.oem, item, "corrected", {"seq": fixed["seq"], "fields": {"seq": 0}}),
        422,
        "invalid-value",
    )
    assert body["pointer"] == "/data/seq"
    # Custody is where the transfer put it.
    got = c.get(f"/v1/items/{item}", headers=world.oem.headers).json()
    assert got["holder"] == world.recycler.id


def test_material_content_is_declared_in_kg_and_fits_the_item(world: World) -> None:
    c = world.client

    def pack(materials: Any) -> dict[str, Any]:
        return registration(attributes={"mass_kg": "400", "materials": materials})

    bad = [
        ({"li": "5", "co": 1.5}, "/attributes"),
        ({"li": "5", "fe": "3"}, "/attributes"),
        ("lots", "/attributes"),
    ]
    for materials, pointer in bad:
        body = _refused(
            c.post("/v1/items", json=pack(materials), headers=world.oem.headers),
            422,
            "invalid-value",
        )
        assert body["pointer"] == pointer, body
    body = _refused(
        c.post(
            "/v1/items",
            json=pack({"li": "100", "co": "100", "ni": "100", "mn": "50", "cu": "50.000001"}),
            headers=world.oem.headers,
        ),
        422,
        "implausible",
        "content-within-mass",
    )
    assert (body["content_kg"], body["mass_kg"]) == ("400.000001", "400")
    declared = {"li": "100", "co": "100", "ni": "100", "mn": "50", "cu": 50}
    item = register(c, world.oem, pack(declared))
    assert item["attributes"]["materials"] == {**declared, "cu": "50"}


def test_recovered_compounds_carry_their_element_mass(world: World) -> None:
    c = world.client
    item = _collected(world, "400", registration("battery_pack"))
    wrong = {"material": "lithium carbonate", "mass_kg": "100", "element": "co"}
    body = _refused(
        _post(world, world.recycler, item, "recycled", {**_recycled("400"), "recovered": [wrong]}),
        422,
        "implausible",
        "element-of-compound",
    )
    assert body["pointer"] == "/data/recovered/0/element"
    off = {"material": "lithium carbonate", "mass_kg": "100", "element_mass_kg": "19"}
    body = _refused(
        _post(world, world.recycler, item, "recycled", {**_recycled("400"), "recovered": [off]}),
        422,
        "implausible",
        "element-mass-stoichiometry",
    )
    assert body["element_mass_kg"] == "18.785188"
    unknown = {"material": "black mass", "mass_kg": "50", "element": "ni"}
    body = _refused(
        _post(
            world, world.recycler, item, "recycled", {**_recycled("400"), "recovered": [unknown]}
        ),
        422,
        "invalid-value",
    )
    assert body["pointer"] == "/data/recovered/0/element_mass_kg"
    lines = [
        # 100 kg Li2CO3 x 2(6.94) / 73.888 = 18.785188393… kg of lithium
        {"material": "Lithium Carbonate", "mass_kg": "100"},
        # 100 kg NiSO4·6H2O x 58.6934 / 262.8394 = 22.330518179… kg of nickel
        {"material": "nickel sulfate hexahydrate", "mass_kg": "100", "element": "ni"},
        {"material": "black mass", "mass_kg": "50", "element": "co", "element_mass_kg": "7.5"},
        {"material": "steel", "mass_kg": "20"},
    ]
    out = event(c, world.recycler, item, "recycled", {**_recycled("400"), "recovered": lines})
    assert out["entry"]["data"]["recovered"] == [
        {**lines[0], "element": "li", "element_mass_kg": "18.785188"},
        {**lines[1], "element_mass_kg": "22.330518"},
        lines[2],
        lines[3],
    ]


@pytest.mark.parametrize(("given", "percent"), [("2", "2"), ("2.5%", "2.5"), (" 0 % ", "0")])
def test_the_tolerance_setting_is_a_percentage(given: str, percent: str) -> None:
    settings = Settings(mass_tolerance=given, _env_file=None)
    assert settings.mass_tolerance == Decimal(percent)
    assert settings.tolerances() == Tolerances(mass=Decimal(percent) / 100)


def test_the_tolerance_setting_defaults_to_two_percent_and_stays_in_range() -> None:
    assert Settings(_env_file=None).mass_tolerance == Decimal(2)
    with pytest.raises(ValueError, match="mass_tolerance"):
        Settings(mass_tolerance="-1", _env_file=None)
