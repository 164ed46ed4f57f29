"""Compliance reports through the HTTP API, on both databases, against generated histories.

Hypothesis draws lifecycles (kind, maker, recycler, how far the item goes, the day
its events happened, its mass, declared content, state of health, what was
recovered); they are written through the API, and every report, seen by each org
in turn, must equal what ``tests.api.report_model`` works out from the entries the
test itself wrote: a regulator sees every item, an org only the items in its chain.
The CSV form parses and says what the JSON says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.report_model import (
    BATTERIES,
    Model,
    Row,
    Tracked,
    china_day,
    decimals,
    flat,
    parse_csv,
)
from tests.conftest import World
from tests.factories import Org, code_for, create_org

KINDS = ("battery_pack", "battery_module", "battery_cell", "pv_module", "wind_blade")
PATHS: dict[str, list[str]] = {
    "registered": [],
    "in_service": ["installed"],
    "retired": ["retired"],
    "transferred": ["retired", "transferred"],
    "collected": ["retired", "transferred", "collected"],
    "assessed": ["retired", "transferred", "collected", "assessed"],
    "recycled": ["retired", "transferred", "collected", "recycled"],
    "assessed_recycled": ["retired", "transferred", "collected", "assessed", "recycled"],
    "repurposed": ["retired", "transferred", "collected", "assessed", "repurposed"],
    "disposed": ["retired", "transferred", "collected", "disposed"],
    # Collected, then passed on to the other recycler: the first one held it.
    "passed_on": ["retired", "transferred", "collected", "passed_on"],
}
STATE_AFTER = {
    "installed": "in_service",
    "retired": "retired",
    "collected": "collected",
    "assessed": "assessed",
    "recycled": "recycled",
    "repurposed": "repurposed",
    "disposed": "disposed",
}
DECLARED = {"li": "5", "ni": "20", "co": "8"}
REPORTS = ("inventory", "recovery", "deadlines", "second-life", "flows", "anomalies")


@dataclass(frozen=True)
class Plan:
    kind: str
    maker: int
    recycler: int
    path: str
    day: date | None
    mass: int
    declared: bool
    li: str
    soh: int


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    kind = draw(st.sampled_from(KINDS))
    return Plan(
        kind=kind,
        maker=draw(st.integers(0, 1)),
        recycler=draw(st.integers(0, 1)),
        path=draw(st.sampled_from(list(PATHS))),
        day=draw(st.sampled_from([None, date(2025, 1, 24), date(2025, 9, 30), date(2026, 11, 20)])),
        mass=draw(st.integers(50, 500)),
        declared=kind in BATTERIES and draw(st.booleans()),
        li=draw(st.sampled_from(["4", "4.75", "5.5"])),
        soh=draw(st.integers(30, 100)),
    )


@dataclass
class Cast:
    makers: list[Org]
    recyclers: list[Org]
    regulator: Org
    outsider: Org


def _cast(world: World, model: Model) -> Cast:
    makers = [
        create_org(world.client, "Maker GD", "oem", "CN-GD"),
        create_org(world.client, "Maker BY", "oem", "DE-BY"),
    ]
    recyclers = [
        create_org(world.client, "Recycler JS", "recycler", "CN-JS"),
        create_org(world.client, "Recycler NW", "recycler", "DE-NW"),
    ]
    for org, region in zip(
        [*makers, *recyclers], ["CN-GD", "DE-BY", "CN-JS", "DE-NW"], strict=True
    ):
        model.add_org(org, region)
    model.add_org(world.regulator, "CN")
    model.add_org(world.oem, "CN")
    return Cast(makers, recyclers, world.regulator, world.oem)


def _data(event_type: str, plan: Plan, recycler: Org, other: Org) -> dict[str, Any]:
    recovered: list[dict[str, str]] = [{"material": "glass cullet", "mass_kg": "10"}]
    if plan.kind in BATTERIES:
        recovered = [
            {"material": "lithium concentrate", "mass_kg": plan.li, "element": "li"},
            {"material": "mixed hydroxide", "mass_kg": "19.5", "element": "ni"},
        ]
        for line in recovered:
            line["element_mass_kg"] = line["mass_kg"]
    by_type: dict[str, dict[str, Any]] = {
        "installed": {"site": "Wind farm 7"},
        "retired": {"reason": "end of life"},
        "transferred": {"to_org": recycler.id},
        "passed_on": {"to_org": other.id},
        "collected": {"site": "Dock 1", "mass_kg": str(plan.mass)},
        "assessed": {"soh_pct": str(plan.soh), "grade": "repurpose"},
        "recycled": {"input_mass_kg": str(plan.mass), "process": "hydro", "recovered": recovered},
        "repurposed": {"new_code": code_for(plan.kind), "application": "grid storage"},
        "disposed": {"method": "co-processing"},
    }
    data = by_type[event_type]
    if plan.day is not None:
        data["date"] = plan.day.isoformat()
    return data


def _play(world: World, cast: Cast, model: Model, plan: Plan) -> None:
    maker, recycler = cast.makers[plan.maker], cast.recyclers[plan.recycler]
    other = cast.recyclers[1 - plan.recycler]
    attributes: dict[str, Any] = {"mass_kg": str(plan.mass)}
    if plan.declared:
        attributes["materials"] = DECLARED
    body: dict[str, Any] = {
        "kind": plan.kind,
        "code": code_for(plan.kind),
        "attributes": attributes,
    }
    answer = world.client.post("/v1/items", json=body, headers=maker.headers)
    assert answer.status_code == 201, answer.text
    made = answer.json()
    item = Tracked(
        made["item"]["id"], plan.kind, maker.id, maker.id, "registered", -1, Decimal(plan.mass)
    )
    if plan.declared:
        item.materials = {k: Decimal(v) for k, v in DECLARED.items()}
    model.items[item.id] = item
    model.record(item, made["entry"])
    for event_type in PATHS[plan.path]:
        org = maker if event_type in ("installed", "retired", "transferred") else recycler
        answer = world.client.post(
            f"/v1/items/{item.id}/events",
            json={
                "type": "transferred" if event_type == "passed_on" else event_type,
                "data": _data(event_type, plan, recycler, other),
            },
            headers=org.headers,
        )
        assert answer.status_code == 201, answer.text
        for entry in answer.json()["entries"]:
            if entry["item"] != item.id:  # a second life, registered by the recycler
                new = Tracked(
                    entry["item"], plan.kind, org.id, org.id, "registered", -1, Decimal(0)
                )
                new.origin = item.id
                model.items[new.id] = new
                model.record(new, entry)
            else:
                model.record(item, entry)
        item.state = STATE_AFTER.get(event_type, item.state)
        if event_type == "transferred":
            item.holder = recycler.id
        elif event_type == "passed_on":
            item.holder = other.id


def _get(world: World, name: str, org: Org, csv: bool = False, table: str = "rows") -> Any:
    headers = {**org.headers, **({"Accept": "text/csv"} if csv else {})}
    answer = world.client.get(f"/v1/reports/{name}", params={"table": table}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.text if csv else answer.json()


def _with_entries(world: World, org: Org, rows: list[Row]) -> list[Row]:
    """Rows of sums with the entries their ``entries_url`` lists, as the model has them."""
    out = []
    for row in rows:
        row = dict(row)
        if "entries_url" in row:
            answer = world.client.get(row.pop("entries_url"), headers=org.headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["row"] == row.pop("row_key")
            row["entries"] = answer.json()["entries"]
        out.append(row)
    return out


def _sorted(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda row: repr(sorted(row.items())))


def _anomalies(model: Model, org_id: str) -> list[Row]:
    rows = []
    for item in model.visible(org_id):
        registered = item.of("registered")[0].seq
        if item.kind in BATTERIES and model.orgs[item.maker][0] == "oem":
            rows.append({"kind": "unbound_maker_code", "item": item.id, "entries": [registered]})
        for e in item.of("recycled"):
            li = Decimal(e.data["recovered"][0].get("element_mass_kg", "0"))
            if item.materials is not None and li > item.materials["li"]:
                entries = [registered, e.seq]
                rows.append({"kind": "recovery_above_content", "item": item.id, "entries": entries})
    return rows


def _check(world: World, model: Model, org: Org) -> None:
    got = _get(world, "inventory", org)
    rows, monthly = model.inventory(org.id)
    assert _sorted(_with_entries(world, org, got["rows"])) == _sorted(rows)
    assert _sorted(_with_entries(world, org, got["monthly"])) == _sorted(monthly)

    got = _with_entries(world, org, _get(world, "recovery", org)["rows"])
    fields = ("input_kg", "recovered_kg", "recovered_undeclared_kg", "rate", "declared_share")
    served = []
    for row in got:
        row = decimals(row, *fields)
        row["met"] = [target["met"] for target in row.pop("targets")]
        served.append(row)
    assert _sorted(served) == _sorted(model.recovery(org.id))

    body = _get(world, "deadlines", org)
    today = china_day(body["generated_at"])
    assert _sorted(body["rows"]) == _sorted(model.deadlines(org.id, today, 90, 365, 15))

    got = _with_entries(world, org, _get(world, "second-life", org)["rows"])
    for row in got:
        for outcome in ("repurposed", "recycled"):
            share = Decimal(row.pop(f"{outcome}_share"))
            assert share == (Decimal(row[outcome]) / row["assessed"]).quantize(Decimal("0.0001"))
    assert _sorted(got) == _sorted(model.second_life(org.id))

    got = _with_entries(world, org, _get(world, "flows", org)["rows"])
    assert all(row.pop("mass_unknown") == 0 for row in got)
    assert _sorted([decimals(r, "mass_kg") for r in got]) == _sorted(model.flows(org.id))

    got = _get(world, "anomalies", org)["rows"]
    assert all(row.pop("detail") for row in got)
    assert _sorted(got) == _sorted(_anomalies(model, org.id))


def _check_csv(world: World, org: Org) -> None:
    for name in REPORTS:
        body = _get(world, name, org)
        tables = ["rows", "monthly"] if name == "inventory" else ["rows"]
        for table in tables:
            parsed = parse_csv(_get(world, name, org, csv=True, table=table))
            assert parsed == [{k: flat(v) for k, v in row.items()} for row in body[table]]


def test_reports_match_generated_histories_for_every_org(world: World) -> None:
    model = Model()
    cast = _cast(world, model)
    readers = [cast.regulator, *cast.makers, *cast.recyclers, cast.outsider]

    @settings(
        max_examples=5,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.lists(plans(), min_size=1, max_size=5))
    def more_history(drawn: list[Plan]) -> None:
        for plan in drawn:
            _play(world, cast, model, plan)
        for reader in readers:
            _check(world, model, reader)
        _check_csv(world, cast.regulator)

    more_history()
    # What the drawn histories held, so a passing run is known to have tested something.
    assert len(model.items) >= 5
    assert _get(world, "inventory", cast.outsider)["rows"] == []


def test_an_unknown_report_or_table_is_a_problem(world: World) -> None:
    answer = world.client.get("/v1/reports/nonsense", headers=world.regulator.headers)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "not-found"
    answer = world.client.get(
        "/v1/reports/flows",
        params={"table": "monthly"},
        headers={**world.regulator.headers, "Accept": "text/csv"},
    )
    assert answer.status_code == 404
    assert answer.json()["pointer"] == "query:/table"
    assert world.client.get("/v1/reports/inventory").status_code == 401


def test_a_rows_entries_come_a_page_of_items_at_a_time(world: World) -> None:
    maker = create_org(world.client, "Paging maker", "oem", "CN-GD")
    made = []
    for _ in range(7):
        body = {"kind": "wind_blade", "code": code_for("wind_blade"), "attributes": {}}
        answer = world.client.post("/v1/items", json=body, headers=maker.headers)
        assert answer.status_code == 201, answer.text
        made.append(answer.json()["entry"]["seq"])
    rows = _get(world, "inventory", world.regulator)["rows"]
    [row] = [r for r in rows if r["kind"] == "wind_blade" and r["region"] == "CN-GD"]
    assert row["count"] == 7
    whole = world.client.get(row["entries_url"], headers=world.regulator.headers).json()
    assert whole["entries"] == sorted(made)
    assert whole["next_after"] is None
    pages: list[list[int]] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"row": row["row_key"], "limit": 3}
        if after is not None:
            params["after"] = after
        answer = world.client.get(
            "/v1/reports/inventory/entries", params=params, headers=world.regulator.headers
        )
        assert answer.status_code == 200, answer.text
        pages.append(answer.json()["entries"])
        after = answer.json()["next_after"]
        if after is None:
            break
    assert [len(page) for page in pages] == [3, 3, 1]
    assert sorted(seq for page in pages for seq in page) == sorted(made)
    too_many = world.client.get(
        "/v1/reports/inventory/entries",
        params={"row": row["row_key"], "limit": 0},
        headers=world.regulator.headers,
    )
    assert too_many.status_code == 422
    assert too_many.headers["content-type"].startswith("application/problem+json")


def test_a_rows_entries_are_documented_as_their_own_schema(world: World) -> None:
    doc = world.client.get("/openapi.json").json()
    answer = doc["paths"]["/v1/reports/{name}/entries"]["get"]["responses"]["200"]
    ref = answer["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ReportRowEntries"
    schema = doc["components"]["schemas"]["ReportRowEntries"]
    assert set(schema["properties"]) == {"report", "table", "row", "entries", "next_after"}
    assert "RowEntries" not in doc["components"]["schemas"]
