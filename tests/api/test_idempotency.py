"""Idempotency-Key: a retried POST returns the first answer and writes nothing.

A key belongs to the org that sent it and to the exact request (method, path
and body) it first came with: the same key with another request is refused,
another org's identical key is its own. Concurrent retries write once.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.conftest import World
from tests.factories import Org, register, registration, to_state

REPLAYED = "Idempotent-Replayed"


def _size(world: World) -> int:
    answer = world.client.get(
        "/v1/log/entries", params={"limit": 1}, headers=world.regulator.headers
    )
    return int(answer.json()["size"])


def _post(world: World, org: Org, path: str, key: str, **kwargs: Any) -> Any:
    headers = {**kwargs.pop("headers", {}), **org.headers, "Idempotency-Key": key}
    return world.client.post(path, headers=headers, **kwargs)


def _assert_replay(first: Any, again: Any) -> None:
    assert REPLAYED not in first.headers
    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again.headers[REPLAYED] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]


def test_a_retry_returns_the_first_answer_and_writes_nothing(world: World) -> None:
    body = registration()
    before = _size(world)
    first = _post(world, world.oem, "/v1/items", "reg-1", json=body)
    assert first.status_code == 201, first.text
    assert _size(world) == before + 1
    for _ in range(3):
        _assert_replay(first, _post(world, world.oem, "/v1/items", "reg-1", json=body))
    assert _size(world) == before + 1
    item = first.json()["item"]["id"]
    history = world.client.get(f"/v1/items/{item}/history", headers=world.oem.headers).json()
    assert [e["seq"] for e in history["entries"]] == [first.json()["entry"]["seq"]]


def test_the_same_key_with_another_request_is_refused(world: World) -> None:
    first = _post(world, world.oem, "/v1/items", "reg-2", json=registration())
    assert first.status_code == 201, first.text
    before = _size(world)
    others: list[tuple[str, str, dict[str, Any]]] = [
        ("another body", "/v1/items", {"json": registration()}),
        ("another path", "/v1/items/bulk", {"json": [registration()]}),
        (
            "another item",
            f"/v1/items/{first.json()['item']['id']}/events",
            {"json": {"type": "retired", "data": {"reason": "old"}}},
        ),
    ]
    for label, path, kwargs in others:
        answer = _post(world, world.oem, path, "reg-2", **kwargs)
        assert answer.status_code == 422, (label, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "idempotency-key-reused", label
        assert "reg-2" in answer.json()["detail"]
        assert REPLAYED not in answer.headers
    assert _size(world) == before
    # The key still replays its own request.
    _assert_replay(
        first,
        _post(
            world,
            world.oem,
            "/v1/items",
            "reg-2",
            content=first.request.content,
            headers={"content-type": "application/json"},
        ),
    )


def test_keys_belong_to_the_org_that_sent_them(world: World) -> None:
    before = _size(world)
    mine = _post(world, world.oem, "/v1/items", "shared-key", json=registration())
    theirs = _post(world, world.oem2, "/v1/items", "shared-key", json=registration())
    assert mine.status_code == theirs.status_code == 201
    assert REPLAYED not in theirs.headers
    assert mine.json()["item"]["id"] != theirs.json()["item"]["id"]
    assert theirs.json()["item"]["manufacturer"] == world.oem2.id
    # Even the same body under another org's key is evaluated afresh, not replayed.
    body = registration("pv_module")
    one = _post(world, world.oem, "/v1/items", "same-body", json=body)
    two = _post(world, world.oem2, "/v1/items", "same-body", json=body)
    assert one.status_code == 201
    assert REPLAYED not in two.headers
    assert two.content != one.content
    after = _size(world)
    # And the admin's use of the key string is its own too.
    org = _post(
        world,
        world.admin,
        "/v1/orgs",
        "shared-key",
        json={"name": "keyed org", "role": "operator", "region": "CN"},
    )
    assert org.status_code == 201, org.text
    assert after >= before + 3
    assert _size(world) == after + 2


def test_bulk_registration_honours_the_key(world: World) -> None:
    lines = [registration(), registration("pv_module"), {"kind": "pv_module"}]
    before = _size(world)
    first = _post(world, world.oem, "/v1/items/bulk", "bulk-1", json=lines)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 2
    _assert_replay(first, _post(world, world.oem, "/v1/items/bulk", "bulk-1", json=lines))
    assert _size(world) == before + 2
    ndjson = "\n".join(f'{{"kind": "wind_blade", "code": "B-{n}"}}' for n in range(3))
    headers = {"content-type": "application/x-ndjson"}
    first = _post(world, world.oem, "/v1/items/bulk", "bulk-2", content=ndjson, headers=headers)
    assert first.json()["accepted"] == 3, first.text
    _assert_replay(
        first, _post(world, world.oem, "/v1/items/bulk", "bulk-2", content=ndjson, headers=headers)
    )
    assert _size(world) == before + 5
    changed = _post(
        world, world.oem, "/v1/items/bulk", "bulk-2", content=ndjson + "\n{}", headers=headers
    )
    assert changed.json()["code"] == "idempotency-key-reused"
    assert _size(world) == before + 5


def test_events_honour_the_key(world: World) -> None:
    item = register(world.client, world.oem)["id"]
    path = f"/v1/items/{item}/events"
    retire = {"type": "retired", "data": {"reason": "capacity below 80%"}}
    before = _size(world)
    first = _post(world, world.oem, path, "ev-1", json=retire)
    assert first.status_code == 201, first.text
    _assert_replay(first, _post(world, world.oem, path, "ev-1", json=retire))
    # Without the key the same request is a new attempt, refused by the lifecycle.
    assert world.client.post(path, json=retire, headers=world.oem.headers).status_code == 409
    transfer = {"type": "transferred", "data": {"to_org": world.recycler.id}}
    reused = _post(world, world.oem, path, "ev-1", json=transfer)
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency-key-reused"
    assert _size(world) == before + 1
    moved = _post(world, world.oem, path, "ev-2", json=transfer)
    assert moved.status_code == 201
    _assert_replay(moved, _post(world, world.oem, path, "ev-2", json=transfer))
    state = world.client.get(f"/v1/items/{item}", headers=world.oem.headers).json()
    assert (state["state"], state["holder"]) == ("retired", world.recycler.id)
    assert _size(world) == before + 2


def test_a_refusal_is_not_remembered(world: World) -> None:
    """Nothing was written, so a retry after the cause is fixed is a new attempt."""
    item = register(world.client, world.oem)["id"]
    to_state(world.client, world.oem, world.recycler, item, "retired")
    path = f"/v1/items/{item}/events"
    collect = {"type": "collected", "data": {"site": "Dock 3", "mass_kg": "410.2"}}
    refused = _post(world, world.recycler, path, "collect-1", json=collect)
    assert refused.status_code == 403  # not transferred yet
    transfer = {"type": "transferred", "data": {"to_org": world.recycler.id}}
    assert world.client.post(path, json=transfer, headers=world.oem.headers).status_code == 201
    before = _size(world)
    accepted = _post(world, world.recycler, path, "collect-1", json=collect)
    assert accepted.status_code == 201, accepted.text
    assert REPLAYED not in accepted.headers
    _assert_replay(accepted, _post(world, world.recycler, path, "collect-1", json=collect))
    assert _size(world) == before + 1


def test_org_creation_and_keys_honour_the_key(world: World) -> None:
    body = {"name": "retried recycler", "role": "recycler", "region": "DE-BY"}
    before = _size(world)
    first = _post(world, world.admin, "/v1/orgs", "org-1", json=body)
    assert first.status_code == 201, first.text
    _assert_replay(first, _post(world, world.admin, "/v1/orgs", "org-1", json=body))
    assert _size(world) == before + 2  # org_created and key_issued
    orgs = world.client.get("/v1/orgs", headers=world.admin.headers).json()
    assert sum(1 for o in orgs if o["name"] == body["name"]) == 1
    org_id = first.json()["org"]["id"]
    issued = _post(world, world.admin, f"/v1/orgs/{org_id}/keys", "key-1")
    assert issued.status_code == 201, issued.text
    _assert_replay(issued, _post(world, world.admin, f"/v1/orgs/{org_id}/keys", "key-1"))
    key_id = issued.json()["key_id"]
    revoked = _post(world, world.admin, f"/v1/keys/{key_id}/revoke", "revoke-1")
    assert revoked.status_code == 200, revoked.text
    _assert_replay(revoked, _post(world, world.admin, f"/v1/keys/{key_id}/revoke", "revoke-1"))
    assert _size(world) == before + 4


def test_concurrent_retries_write_once(world: World) -> None:
    body = registration()
    before = _size(world)

    def attempt(_: int) -> Any:
        return _post(world, world.oem, "/v1/items", "race-1", json=body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(attempt, range(8)))
    assert [a.status_code for a in answers] == [201] * 8, [a.text for a in answers]
    assert len({a.content for a in answers}) == 1
    assert sum(1 for a in answers if a.headers.get(REPLAYED) == "true") == 7
    assert _size(world) == before + 1


def test_concurrent_writes_with_distinct_keys_all_land_once(world: World) -> None:
    bodies = [registration() for _ in range(8)]
    before = _size(world)

    def attempt(n: int) -> Any:
        return _post(world, world.oem, "/v1/items", f"distinct-{n % 4}", json=bodies[n % 4])

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(attempt, range(8)))
    assert [a.status_code for a in answers] == [201] * 8
    assert len({a.json()["item"]["id"] for a in answers}) == 4
    assert sum(1 for a in answers if REPLAYED not in a.headers) == 4
    assert _size(world) == before + 4
