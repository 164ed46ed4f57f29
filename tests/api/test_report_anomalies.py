"""The anomalies report through the HTTP API, on both databases: each kind planted once.

Most are written through the API, as a careless or dishonest org could: a second
life assessed healthier than its origin, a battery code whose manufacturer code no
org has bound, one bound to another maker after the registration, a recycling that
recovered more lithium than the battery declared, an item heavier at collection
than registered. A second collection the rules refuse is planted as a log entry
written past them (what a log kept under older rules could hold), and must still
be found. Nothing else may be flagged.
"""

from __future__ import annotations

from typing import Any

from ledger.lifecycle import State
from tests.conftest import World
from tests.factories import Org, battery_code, event, to_state


def _reg(world: World, org: Org, kind: str, code: str, **attributes: Any) -> dict[str, Any]:
    body = {"kind": kind, "code": code, "attributes": {"mass_kg": "100", **attributes}}
    answer = world.client.post("/v1/items", json=body, headers=org.headers)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def _bind(world: World, code: str, org: Org) -> int:
    answer = world.client.post(
        "/v1/makers", json={"code": code, "org": org.id}, headers=world.admin.headers
    )
    assert answer.status_code == 201, answer.text
    seq: int = answer.json()["entry"]["seq"]
    return seq


def _seq(written: dict[str, Any]) -> int:
    seq: int = written["entry"]["seq"]
    return seq


def test_every_anomaly_kind_is_found_once(world: World) -> None:
    client, oem, recycler = world.client, world.oem, world.recycler
    _bind(world, "CAT", oem)  # the maker code of the factories' battery codes
    found: list[dict[str, Any]] = []

    # A battery code whose maker code is bound to no one.
    unbound = _reg(world, oem, "battery_pack", battery_code(manufacturer="QQQ"))
    found.append(
        {"kind": "unbound_maker_code", "item": unbound["item"]["id"], "entries": [_seq(unbound)]}
    )

    # Registered under a maker code that is then bound to another OEM.
    foreign = _reg(world, oem, "battery_pack", battery_code(manufacturer="XYZ"))
    bound = _bind(world, "XYZ", world.oem2)
    found.append(
        {
            "kind": "foreign_maker_code",
            "item": foreign["item"]["id"],
            "entries": [_seq(foreign), bound],
        }
    )

    # More lithium recovered than the battery declared (1 kg).
    rich = _reg(
        world, oem, "battery_pack", battery_code(), materials={"li": "1", "ni": "5"}, mass_kg="410"
    )
    rich_id = rich["item"]["id"]
    to_state(client, oem, recycler, rich_id, "collected")
    line = {"material": "lithium concentrate", "mass_kg": "2", "element": "li"}
    recycled = event(
        client,
        recycler,
        rich_id,
        "recycled",
        {
            "input_mass_kg": "100",
            "process": "hydro",
            "recovered": [{**line, "element_mass_kg": "2"}],
        },
    )
    found.append(
        {
            "kind": "recovery_above_content",
            "item": rich_id,
            "entries": [_seq(rich), _seq(recycled)],
        }
    )

    # Registered at 100 kg, weighed at 120 kg (the others are weighed at 410.2 kg).
    heavy = _reg(world, oem, "pv_module", "PV-HEAVY-1")
    heavy_id = heavy["item"]["id"]
    event(client, oem, heavy_id, "retired", {"reason": "hail"})
    event(client, oem, heavy_id, "transferred", {"to_org": recycler.id})
    weighed = event(client, recycler, heavy_id, "collected", {"site": "Dock", "mass_kg": "120"})
    found.append(
        {
            "kind": "collected_above_registered",
            "item": heavy_id,
            "entries": [_seq(heavy), _seq(weighed)],
        }
    )

    # A second life assessed healthier (85%) than its origin was (60%).
    origin = _reg(world, oem, "pv_module", "PV-ORIGIN-1", mass_kg="410")["item"]["id"]
    to_state(client, oem, recycler, origin, "collected")
    first = event(client, recycler, origin, "assessed", {"soh_pct": "60", "grade": "repurpose"})
    reborn = event(
        client,
        recycler,
        origin,
        "repurposed",
        {"new_code": "PV-SECOND-1", "application": "off-grid pumps"},
    )["created"][0]["id"]
    operator, recycler2 = world.operator, world.recycler2
    event(client, recycler, reborn, "transferred", {"to_org": operator.id})
    event(client, operator, reborn, "retired", {"reason": "pump replaced"})
    event(client, operator, reborn, "transferred", {"to_org": recycler2.id})
    event(client, recycler2, reborn, "collected", {"site": "Yard", "mass_kg": "20"})
    second = event(client, recycler2, reborn, "assessed", {"soh_pct": "85", "grade": "recycle"})
    found.append({"kind": "soh_rising", "item": reborn, "entries": [_seq(first), _seq(second)]})

    # Collected twice: the rules refuse it, so it is written past them.
    twice = _reg(world, oem, "wind_blade", "BLADE-TWICE-1", mass_kg="410")["item"]["id"]
    to_state(client, oem, recycler, twice, "collected")
    once = [
        e["seq"]
        for e in client.get(f"/v1/items/{twice}/history", headers=world.regulator.headers).json()[
            "entries"
        ]
        if e["type"] == "collected"
    ]
    ledger = world.app.state.ledger

    def collect_again(tx: Any) -> int:
        item = tx.item(twice)
        assert item.state == State.COLLECTED
        return int(
            tx.append(
                recycler.id, item, twice, "collected", {"site": "Dock", "mass_kg": "410.2"}
            ).seq
        )

    again = ledger.write(collect_again)
    found.append({"kind": "collected_twice", "item": twice, "entries": [*once, again]})

    answer = client.get("/v1/reports/anomalies", headers=world.regulator.headers)
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    assert all(isinstance(row.pop("detail"), str) for row in rows)
    key = lambda row: (row["kind"], row["item"])  # noqa: E731 - a sort key
    assert sorted(rows, key=key) == sorted(found, key=key)

    # The second maker sees only what is in its own items' chains: nothing here.
    mine = client.get("/v1/reports/anomalies", headers=world.oem2.headers).json()["rows"]
    assert mine == []
    # The second recycler sees the second life it assessed, not its origin's other rows.
    theirs = client.get("/v1/reports/anomalies", headers=recycler2.headers).json()["rows"]
    assert [(r["kind"], r["item"]) for r in theirs] == [("soh_rising", reborn)]
