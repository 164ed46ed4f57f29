"""The answers sent without a second check against their response models.

``POST /v1/items``, ``POST /v1/items/{id}/events`` and ``POST /v1/scan`` send what
``api.presenters`` built, encoded once (``api.deps.Answer``): each answer here
must already be exactly its model's JSON, whatever the item (a battery with its
decoded code, a repurposed one with the item it created, an event with a
recovered compound's element mass).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.schemas import ScanResult, Written
from tests.conftest import World
from tests.factories import event_data, registration, to_state


def _as_model(answer: Any, model: type[BaseModel]) -> dict[str, Any]:
    assert answer.headers["content-type"] == "application/json"
    body: dict[str, Any] = answer.json()
    assert model.model_validate(body).model_dump(mode="json") == body
    return body


def test_a_registration_answers_its_model(world: World) -> None:
    c = world.client
    for kind in ("battery_pack", "pv_module", "wind_blade"):
        answer = c.post("/v1/items", json=registration(kind), headers=world.oem.headers)
        assert answer.status_code == 201, answer.text
        body = _as_model(answer, Written)
        assert body["item"]["kind"] == kind
        assert (body["item"]["decoded"] is not None) == (kind == "battery_pack")


def test_events_answer_their_model(world: World) -> None:
    c = world.client
    item = c.post("/v1/items", json=registration(), headers=world.oem.headers).json()["item"]
    to_state(c, world.oem, world.recycler, item["id"], "collected")
    for event_type in ("assessed", "repurposed"):
        answer = c.post(
            f"/v1/items/{item['id']}/events",
            json={"type": event_type, "data": event_data(event_type)},
            headers=world.recycler.headers,
        )
        assert answer.status_code == 201, answer.text
        body = _as_model(answer, Written)
    assert len(body["created"]) == 1

    other = c.post("/v1/items", json=registration(), headers=world.oem.headers).json()["item"]
    to_state(c, world.oem, world.recycler, other["id"], "collected")
    answer = c.post(
        f"/v1/items/{other['id']}/events",
        json={"type": "recycled", "data": event_data("recycled")},
        headers=world.recycler.headers,
    )
    assert answer.status_code == 201, answer.text
    body = _as_model(answer, Written)
    assert body["entry"]["data"]["recovered"][0]["element"] == "li"


def test_a_scan_answers_its_model(world: World) -> None:
    c = world.client
    item = c.post("/v1/items", json=registration(), headers=world.oem.headers).json()["item"]
    answer = c.post("/v1/scan", json={"payload": item["code"]}, headers=world.recycler.headers)
    assert answer.status_code == 200, answer.text
    body = _as_model(answer, ScanResult)
    assert body["item"]["id"] == item["id"]


def test_a_replayed_registration_says_so(world: World) -> None:
    headers = {**world.oem.headers, "Idempotency-Key": "answers-1"}
    body = registration("pv_module")
    first = world.client.post("/v1/items", json=body, headers=headers)
    again = world.client.post("/v1/items", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert _as_model(again, Written) == _as_model(first, Written)
