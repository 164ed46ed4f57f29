"""POST /v1/intake: a recycler collects a whole delivery in one request, on both databases.

Lines stand on their own: a refused line (unknown scan, scanned twice, not
retired, not transferred to this recycler, bad mass) writes nothing for
its item, and the others are written together. Entries are counted per
item and for the whole log to prove it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import World
from tests.factories import Org, event, event_data, register, registration

BASE = "http://retrace.test"
PROBLEM = "application/problem+json"
SITE = "Dock 3, Foshan"


def log_size(world: World) -> int:
    response = world.client.get(
        "/v1/log/entries", params={"limit": 1}, headers=world.regulator.headers
    )
    assert response.status_code == 200, response.text
    size: int = response.json()["size"]
    return size


def history(world: World, item_id: str) -> list[dict[str, Any]]:
    response = world.client.get(f"/v1/items/{item_id}/history", headers=world.regulator.headers)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def delivered_to(world: World, recycler: Org, kind: str = "battery_pack") -> dict[str, Any]:
    """A new item, retired by its OEM and transferred to ``recycler``."""
    item = register(world.client, world.oem, registration(kind))
    event(world.client, world.oem, item["id"], "retired", event_data("retired"))
    event(
        world.client,
        world.oem,
        item["id"],
        "transferred",
        event_data("transferred", to_org=recycler.id),
    )
    return item


def post_intake(
    world: World,
    lines: list[tuple[str, Any]],
    org: Org | None = None,
    key: str | None = None,
    site: str = SITE,
) -> Any:
    headers = dict((org or world.recycler).headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    body = {"site": site, "deliveries": [{"payload": p, "mass_kg": m} for p, m in lines]}
    return world.client.post("/v1/intake", json=body, headers=headers)


def test_a_delivery_is_collected_in_one_write(world: World) -> None:
    pack = delivered_to(world, world.recycler)
    panel = delivered_to(world, world.recycler, "pv_module")
    blade = delivered_to(world, world.recycler, "wind_blade")
    before = log_size(world)
    response = post_intake(
        world,
        [
            (f"{BASE}/p/{pack['id']}", "410.2"),
            (f" {panel['code'].lower()} ", "22.5"),
            (blade["code"], 11_000),
        ],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["refused"], body["site"]) == (3, 0, SITE)
    assert [r["item"] for r in body["results"]] == [pack["id"], panel["id"], blade["id"]]
    assert all(r["ok"] and r["state"] == "collected" for r in body["results"])
    assert all(r["holder"] == world.recycler.id for r in body["results"])
    assert log_size(world) == before + 3
    seqs = [r["seq"] for r in body["results"]]
    assert seqs == list(range(before, before + 3))
    last = history(world, pack["id"])[-1]
    assert last["type"] == "collected"
    assert last["actor"] == world.recycler.id
    assert last["data"] == {"site": SITE, "mass_kg": "410.2"}
    assert last["hash"] == body["results"][0]["hash"]
    assert history(world, blade["id"])[-1]["data"]["mass_kg"] == "11000"


def test_each_refused_line_says_why_and_writes_nothing(world: World) -> None:
    good = delivered_to(world, world.recycler)
    also_good = delivered_to(world, world.recycler, "pv_module")
    in_service = register(world.client, world.oem)
    event(world.client, world.oem, in_service["id"], "installed", event_data("installed"))
    not_transferred = register(world.client, world.oem)
    event(world.client, world.oem, not_transferred["id"], "retired", event_data("retired"))
    elsewhere = delivered_to(world, world.recycler2)
    bad_mass = delivered_to(world, world.recycler)
    refused_ids = [in_service["id"], not_transferred["id"], elsewhere["id"], bad_mass["id"]]
    counts = {i: len(history(world, i)) for i in refused_ids}
    before = log_size(world)

    response = post_intake(
        world,
        [
            (good["id"], "400"),  # 0 collected
            (in_service["code"], "400"),  # 1 not retired
            (not_transferred["id"], "400"),  # 2 held by the OEM
            (f"{BASE}/p/{good['id']}", "401"),  # 3 line 0 again
            ("NO-SUCH-SERIAL-42", "400"),  # 4 unknown
            (elsewhere["code"].lower(), "400"),  # 5 held by recycler2
            (bad_mass["id"], "41.2.3"),  # 6 not a decimal
            ("   ", "1"),  # 7 nothing scanned
            (f"https://id.gs1.org/01/09506000134352/21/{also_good['code']}", "22.5"),  # 8
            (good["code"], "400"),  # 9 line 0 once more
        ],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    results = body["results"]
    assert [r["line"] for r in results] == list(range(10))
    assert [r["ok"] for r in results] == [
        True,
        False,
        False,
        False,
        False,
        False,
        False,
        False,
        True,
        False,
    ]
    assert (body["accepted"], body["refused"]) == (2, 8)
    assert log_size(world) == before + 2
    assert {i: len(history(world, i)) for i in refused_ids} == counts

    codes = [r.get("error", {}).get("code") for r in results]
    assert codes == [
        None,
        "illegal-transition",
        "forbidden",
        "duplicate-in-delivery",
        "not-found",
        "forbidden",
        "invalid-value",
        "invalid-value",
        None,
        "duplicate-in-delivery",
    ]
    assert results[1]["state"] == "in_service"
    assert results[1]["holder"] == world.oem.id
    assert "in_service" in results[1]["error"]["detail"]
    not_held = results[2]["error"]
    assert not_held["status"] == 403
    assert not_held["holder"] == world.oem.id
    assert "oem org" in not_held["detail"]
    assert results[2]["state"] == "retired"
    duplicate = results[3]["error"]
    assert duplicate["first_line"] == 0
    assert duplicate["item"] == good["id"]
    assert results[3]["item"] == good["id"]
    assert results[3]["state"] == "collected"
    assert results[9]["error"]["first_line"] == 0
    assert results[4]["item"] is None
    assert "NO-SUCH-SERIAL-42" in results[4]["error"]["detail"]
    assert results[4]["error"]["pointer"] == "/deliveries/4/payload"
    assert results[5]["error"]["holder"] == world.recycler2.id
    assert "recycler2 org" in results[5]["error"]["detail"]
    assert results[6]["error"]["pointer"] == "/deliveries/6/mass_kg"
    assert results[6]["state"] == "retired"
    # the first scan of an item counts: its mass, not the repeat's
    assert history(world, good["id"])[-1]["data"]["mass_kg"] == "400"


def test_a_retried_delivery_writes_nothing_and_answers_the_same(world: World) -> None:
    items = [delivered_to(world, world.recycler) for _ in range(3)]
    lines = [(item["code"], "400.5") for item in items] + [("UNKNOWN-1", "1")]
    first = post_intake(world, lines, key="delivery-2026-11-29-007")
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 3
    size = log_size(world)

    again = post_intake(world, lines, key="delivery-2026-11-29-007")
    assert again.status_code == 200, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.content == first.content
    assert log_size(world) == size

    # the same key on another delivery is a client error, not a silent replay
    other = post_intake(world, lines[:1], key="delivery-2026-11-29-007")
    assert other.status_code == 422, other.text
    assert other.json()["code"] == "idempotency-key-reused"

    # without a key the repeat is refused line by line: those items are collected already
    repeat = post_intake(world, lines)
    assert repeat.status_code == 200, repeat.text
    assert repeat.json()["accepted"] == 0
    assert [r.get("error", {}).get("code") for r in repeat.json()["results"]] == [
        "illegal-transition",
        "illegal-transition",
        "illegal-transition",
        "not-found",
    ]
    assert log_size(world) == size


@pytest.mark.parametrize("who", ["oem", "operator", "regulator", "admin"])
def test_only_recyclers_take_deliveries(world: World, who: str) -> None:
    item = delivered_to(world, world.recycler)
    org = world.admin if who == "admin" else getattr(world, who)
    before = log_size(world)
    response = post_intake(world, [(item["id"], "1")], org=org)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert log_size(world) == before
    assert world.client.post("/v1/intake", json={}).status_code == 401


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"site": SITE, "deliveries": []}, "/deliveries"),
        ({"site": SITE, "deliveries": [{"payload": "x", "mass_kg": "1"}] * 2001}, "/deliveries"),
        ({"site": "", "deliveries": [{"payload": "x", "mass_kg": "1"}]}, "/site"),
        ({"site": SITE, "deliveries": [{"payload": "x"}]}, "/deliveries/0/mass_kg"),
        (
            {"site": SITE, "deliveries": [{"payload": "x", "mass_kg": "1", "n": 1}]},
            "/deliveries/0/n",
        ),
        ({"deliveries": [{"payload": "x", "mass_kg": "1"}]}, "/site"),
    ],
)
def test_malformed_deliveries_are_refused_whole(
    world: World, body: dict[str, Any], pointer: str
) -> None:
    before = log_size(world)
    response = world.client.post("/v1/intake", json=body, headers=world.recycler.headers)
    assert response.status_code == 422, response.text
    assert response.json()["pointer"] == pointer
    assert log_size(world) == before


def test_a_delivery_where_every_line_is_refused(world: World) -> None:
    before = log_size(world)
    response = post_intake(world, [("NOPE-1", "1"), ("NOPE-2", "2")])
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["refused"]) == (0, 2)
    assert log_size(world) == before


def test_collected_items_go_on_through_their_lives(world: World) -> None:
    item = delivered_to(world, world.recycler)
    assert post_intake(world, [(item["id"], "400")]).json()["accepted"] == 1
    got = world.client.post(
        "/v1/scan", json={"payload": item["code"]}, headers=world.recycler.headers
    ).json()
    assert got["item"]["state"] == "collected"
    assert "assessed" in got["allowed_events"]
    event(world.client, world.recycler, item["id"], "assessed", event_data("assessed"))
