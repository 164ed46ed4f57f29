"""The whole path a pack takes, through the API, on both databases."""

from __future__ import annotations

from tests.conftest import World
from tests.factories import event, event_data, register, registration, to_state


def test_pack_from_registration_to_recycling(world: World) -> None:
    c = world.client
    item = register(c, world.oem)
    to_state(c, world.oem, world.recycler, item["id"], "recycled")
    got = c.get(f"/v1/items/{item['id']}", headers=world.regulator.headers).json()
    assert got["state"] == "recycled"
    assert got["holder"] == world.recycler.id
    history = c.get(f"/v1/items/{item['id']}/history", headers=world.oem.headers).json()
    types = [e["type"] for e in history["entries"]]
    assert types == ["registered", "retired", "transferred", "collected", "assessed", "recycled"]
    # each entry links to the item's previous one
    for before, after in zip(history["entries"], history["entries"][1:], strict=False):
        assert after["item_prev"] == before["hash"]
    verify = c.get("/v1/log/verify", headers=world.regulator.headers).json()
    assert verify["ok"] is True
    assert verify["first_bad"] is None


def test_repurposed_item_is_a_new_item_linked_to_its_origin(world: World) -> None:
    c = world.client
    item = register(c, world.oem)
    to_state(c, world.oem, world.recycler, item["id"], "assessed")
    data = event_data("repurposed")
    answer = c.post(
        f"/v1/items/{item['id']}/events",
        json={"type": "repurposed", "data": data},
        headers={**world.recycler.headers, "Idempotency-Key": "second-life-1"},
    )
    assert answer.status_code == 201, answer.text
    out = answer.json()
    # The answer names the old item and, in `created`, the new one.
    (created,) = out["created"]
    new_id = out["entries"][1]["item"]
    assert created["id"] == new_id == out["entry"]["data"]["new_item"]
    new = c.get(f"/v1/items/{new_id}", headers=world.oem.headers).json()
    assert created == new
    assert new["origin"] == item["id"]
    assert new["code"] == data["new_code"]
    assert new["holder"] == world.recycler.id
    assert new["state"] == "registered"
    assert out["item"]["id"] == item["id"]
    assert out["item"]["state"] == "repurposed"
    again = c.post(
        f"/v1/items/{item['id']}/events",
        json={"type": "repurposed", "data": data},
        headers={**world.recycler.headers, "Idempotency-Key": "second-life-1"},
    )
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == out
    retired = event(c, world.oem, register(c, world.oem)["id"], "retired", {"reason": "worn"})
    assert retired["created"] == []


def test_pv_serials_are_unique_per_manufacturer(world: World) -> None:
    c = world.client
    body = {"kind": "pv_module", "code": "JA-2019-000123"}
    register(c, world.oem, body)
    again = c.post("/v1/items", json=body, headers=world.oem.headers)
    assert again.status_code == 409
    assert again.json()["pointer"] == "/code"
    # Another maker may use the same serial; a battery code is unique whoever registers it.
    other = register(c, world.oem2, body)
    assert other["manufacturer"] == world.oem2.id
    pack = registration()
    register(c, world.oem, pack)
    clash = c.post("/v1/items", json=pack, headers=world.oem2.headers)
    assert clash.status_code == 409
