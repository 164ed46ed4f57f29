"""``POST /v1/events/bulk``: many items' events in one request, line by line.

Each line is refused or recorded exactly as ``POST /v1/items/{id}/events`` would
(same rules, same problems), lines count from 1 in ``line`` and in texts, a refused
line leaves nothing behind, and the accepted ones are in the log as answered.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.conftest import World
from tests.factories import Org, battery_code, event, register, registration, to_state

NDJSON = {"content-type": "application/x-ndjson"}


def _size(world: World) -> int:
    answer = world.client.get(
        "/v1/log/entries", params={"limit": 1}, headers=world.regulator.headers
    )
    size: int = answer.json()["size"]
    return size


def _entries(world: World, start: int) -> list[dict[str, Any]]:
    answer = world.client.get(
        "/v1/log/entries", params={"start": start, "limit": 1000}, headers=world.regulator.headers
    )
    entries: list[dict[str, Any]] = answer.json()["entries"]
    return entries


def _item(world: World, item_id: str) -> dict[str, Any]:
    answer = world.client.get(f"/v1/items/{item_id}", headers=world.regulator.headers)
    assert answer.status_code == 200, answer.text
    item: dict[str, Any] = answer.json()
    return item


def _bulk(world: World, org: Org, lines: list[Any], **kwargs: Any) -> dict[str, Any]:
    answer = world.client.post("/v1/events/bulk", json=lines, headers=org.headers, **kwargs)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["accepted"] + body["refused"] == len(body["results"])
    return body


def test_lines_are_recorded_in_order_and_refused_alone(world: World) -> None:
    c = world.client
    packs = [register(c, world.oem)["id"] for _ in range(3)]
    stranger = register(c, world.oem2)["id"]
    retire = {"type": "retired", "data": {"reason": "end of warranty"}}
    lines: list[Any] = [
        {"item": packs[0], **retire},
        # A later line sees an earlier one: retired, then handed over.
        {"item": packs[0], "type": "transferred", "data": {"to_org": world.recycler.id}},
        {"item": "itm_01JD8Z3K5V7W9XQRSTABCDEFGH", **retire},  # no such item
        {"item": packs[1], "type": "melted", "data": {}},  # no such event type
        {"item": packs[1], "type": "retired", "data": {"reason": ""}},  # empty reason
        {"item": stranger, **retire},  # held by another OEM
        {"item": packs[1], "type": "collected", "data": {"site": "x", "mass_kg": "1"}},  # role
        "not an object",
        {"item": packs[1], **retire, "note": "extra"},  # unknown field
        {"item": packs[1], "type": "retired", "data": {"reason": "a\u0000b"}},  # NUL
        {"item": packs[2], **retire},
        {"item": packs[2], **retire},  # retired already, by the line before
    ]
    start = _size(world)
    body = _bulk(world, world.oem, lines)
    results = body["results"]
    assert [r["line"] for r in results] == list(range(1, len(lines) + 1))
    assert [r["ok"] for r in results] == [
        True, True, False, False, False, False, False, False, False, False, True, False,
    ]  # fmt: skip
    assert (body["accepted"], body["refused"]) == (3, 9)
    errors = {r["line"]: r["error"] for r in results if not r["ok"]}
    assert (errors[3]["code"], errors[3]["status"], errors[3]["pointer"]) == (
        "not-found",
        404,
        "/item",
    )
    assert (errors[4]["code"], errors[4]["pointer"]) == ("invalid-value", "/type")
    assert errors[5]["pointer"] == "/data/reason"
    assert (errors[6]["code"], errors[6]["status"]) == ("forbidden", 403)
    assert "oem2 org" in errors[6]["detail"]
    assert errors[7]["status"] == 403
    assert errors[8]["pointer"] == "/"
    assert errors[9]["pointer"] == "/note"
    assert errors[10]["pointer"] == "/data"
    assert (errors[12]["code"], errors[12]["status"]) == ("illegal-transition", 409)
    assert [r["item"] for r in results[:2]] == [packs[0], packs[0]]
    assert results[7]["item"] is None

    written = _entries(world, start)
    accepted = [r for r in results if r["ok"]]
    assert [(e["seq"], e["hash"], e["item"], e["type"]) for e in written] == [
        (r["seq"], r["hash"], r["item"], lines[r["line"] - 1]["type"]) for r in accepted
    ]
    assert _item(world, packs[0])["holder"] == world.recycler.id
    assert _item(world, packs[1])["state"] == "registered"
    assert _item(world, packs[2])["state"] == "retired"
    assert _item(world, stranger)["state"] == "registered"


def test_a_refusal_reads_as_the_single_event_route_says_it(world: World) -> None:
    c = world.client
    pack = register(c, world.oem)["id"]
    event(c, world.oem, pack, "retired", {"reason": "worn"})
    line = {"type": "collected", "data": {"site": "Dock 3", "mass_kg": "410.2"}}
    single = c.post(f"/v1/items/{pack}/events", json=line, headers=world.recycler.headers)
    assert single.status_code == 403
    body = _bulk(world, world.recycler, [{"item": pack, **line}])
    (result,) = body["results"]
    expected = {k: v for k, v in single.json().items() if k != "instance"}
    assert result["error"] == expected


def test_json_lines_count_every_line_of_the_text(world: World) -> None:
    c = world.client
    packs = [register(c, world.oem)["id"] for _ in range(2)]
    text = "\n".join(
        [
            json.dumps({"item": packs[0], "type": "retired", "data": {"reason": "worn"}}),
            "",
            '{"item": "itm_x", "type": ',
            json.dumps({"item": packs[1], "type": "retired", "data": {"reason": "worn"}}),
        ]
    )
    answer = c.post(
        "/v1/events/bulk", content=text.encode(), headers={**world.oem.headers, **NDJSON}
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [(r["line"], r["ok"]) for r in results] == [(1, True), (3, False), (4, True)]
    assert results[1]["error"]["detail"].startswith("line 3 is not JSON")
    assert results[1]["error"]["pointer"] == "/"


@pytest.mark.parametrize(
    ("path", "lines"),
    [
        pytest.param("/v1/items/bulk", [registration("pv_module"), registration()], id="items"),
        pytest.param(
            "/v1/events/bulk",
            [{"item": "itm_a", "type": "retired", "data": {"reason": "x"}}] * 2,
            id="events",
        ),
    ],
)
def test_json_lines_sent_as_json_are_refused_with_the_content_type_to_use(
    world: World, path: str, lines: list[dict[str, Any]]
) -> None:
    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    before = _size(world)
    answer = world.client.post(
        path,
        content=text.encode(),
        headers={**world.oem.headers, "content-type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert "application/x-ndjson" in problem["detail"]
    assert "line 2" in problem["detail"]
    assert problem["pointer"] == "/"
    # One JSON Lines line alone, sent as JSON, is an object: the same advice.
    single = world.client.post(
        path,
        content=json.dumps(lines[0]).encode(),
        headers=world.oem.headers | {"content-type": "application/json"},
    )
    assert single.status_code == 422
    assert "application/x-ndjson" in single.json()["detail"]
    assert _size(world) == before


def test_second_lives_and_parts_are_named_on_their_line(world: World) -> None:
    c = world.client
    packs = [register(c, world.oem)["id"] for _ in range(3)]
    for pack in packs:
        to_state(c, world.oem, world.recycler, pack, "assessed")
    taken = battery_code("battery_module")
    register(c, world.oem, {**registration("battery_module"), "code": taken})
    first_part = battery_code("battery_module")
    second_life = battery_code()
    lines = [
        # The second part's code is taken: the line is refused, and the first part's
        # code, which it had claimed, stays free for a later line.
        {
            "item": packs[0],
            "type": "dismantled",
            "data": {
                "children": [
                    {"kind": "battery_module", "code": first_part},
                    {"kind": "battery_module", "code": taken},
                ]
            },
        },
        {
            "item": packs[1],
            "type": "dismantled",
            "data": {"children": [{"kind": "battery_module", "code": first_part}]},
        },
        {
            "item": packs[2],
            "type": "repurposed",
            "data": {"new_code": second_life, "application": "grid storage"},
        },
    ]
    results = _bulk(world, world.recycler, lines)["results"]
    assert [r["ok"] for r in results] == [False, True, True]
    assert (results[0]["error"]["code"], results[0]["error"]["pointer"]) == (
        "duplicate",
        "/data/children/1/code",
    )
    assert results[0]["created"] is None
    (part,) = results[1]["created"]
    assert (_item(world, part)["code"], _item(world, part)["parent"]) == (first_part, packs[1])
    (new,) = results[2]["created"]
    assert (_item(world, new)["code"], _item(world, new)["origin"]) == (second_life, packs[2])
    assert _item(world, packs[0])["state"] == "assessed"


def test_a_correction_may_name_an_entry_of_an_earlier_line(world: World) -> None:
    c = world.client
    pack = register(c, world.oem)["id"]
    seq = _size(world)  # the retired entry the first line appends
    lines = [
        {"item": pack, "type": "retired", "data": {"reason": "worn"}},
        {"item": pack, "type": "corrected", "data": {"seq": seq, "fields": {"reason": "fire"}}},
    ]
    results = _bulk(world, world.oem, lines)["results"]
    assert [r["ok"] for r in results] == [True, True], results
    assert results[0]["seq"] == seq


def test_the_idempotency_key_replays_the_first_answer(world: World) -> None:
    c = world.client
    packs = [register(c, world.oem)["id"] for _ in range(2)]
    lines = [{"item": p, "type": "retired", "data": {"reason": "worn"}} for p in packs]
    lines.append({"item": "itm_nope", "type": "retired", "data": {"reason": "worn"}})
    key = {"Idempotency-Key": "retire-batch-7"}
    first = c.post("/v1/events/bulk", json=lines, headers={**world.oem.headers, **key})
    size = _size(world)
    again = c.post("/v1/events/bulk", json=lines, headers={**world.oem.headers, **key})
    assert again.status_code == first.status_code == 200
    assert again.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json() == first.json()
    assert first.json()["accepted"] == 2
    assert _size(world) == size
    other = c.post("/v1/events/bulk", json=lines[:1], headers={**world.oem.headers, **key})
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency-key-reused"


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        pytest.param(b"[]", "no events", id="empty-array"),
        pytest.param(b"", "not valid JSON", id="empty-body"),
        pytest.param(b'{"item": "itm_a"}', "JSON array", id="object"),
        pytest.param(b"[{", "not valid JSON", id="malformed"),
    ],
)
def test_a_body_that_is_not_lines_is_refused_whole(world: World, raw: bytes, detail: str) -> None:
    answer = world.client.post(
        "/v1/events/bulk",
        content=raw,
        headers={**world.oem.headers, "content-type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert detail in answer.json()["detail"]


def test_the_limits_of_single_events_hold(world: World) -> None:
    line = {"item": "itm_a", "type": "retired", "data": {"reason": "worn"}}
    before = _size(world)
    too_many = world.client.post("/v1/events/bulk", json=[line] * 5001, headers=world.oem.headers)
    assert too_many.status_code == 422
    assert "at most 5000" in too_many.json()["detail"]
    regulator = world.client.post("/v1/events/bulk", json=[line], headers=world.regulator.headers)
    assert regulator.status_code == 403
    anonymous = world.client.post("/v1/events/bulk", json=[line])
    assert anonymous.status_code == 401
    assert _size(world) == before


def test_a_thousand_packs_retire_and_move_in_two_calls(world: World) -> None:
    c = world.client
    lines = [registration() for _ in range(1000)]
    made = c.post("/v1/items/bulk", json=lines, headers=world.oem.headers).json()
    ids = [r["id"] for r in made["results"]]
    assert len(ids) == 1000
    began = time.monotonic()
    retired = _bulk(
        world,
        world.oem,
        [{"item": i, "type": "retired", "data": {"reason": "fleet renewal"}} for i in ids],
    )
    moved = _bulk(
        world,
        world.oem,
        [{"item": i, "type": "transferred", "data": {"to_org": world.recycler.id}} for i in ids],
    )
    elapsed = time.monotonic() - began
    assert retired["accepted"] == moved["accepted"] == 1000
    assert elapsed < 60, elapsed
    sample = _item(world, ids[-1])
    assert (sample["state"], sample["holder"]) == ("retired", world.recycler.id)


def test_a_line_holding_a_unicode_line_separator_is_one_line(world: World) -> None:
    """JSON allows U+2028 raw inside a string; JSON Lines splits at LF only."""
    oem = world.orgs["oem"]
    lines = [
        {"kind": "pv_module", "code": "PV-LS-1", "attributes": {"note": "first\u2028second"}},
        {"kind": "pv_module", "code": "PV-LS-2"},
    ]
    body = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode()
    answer = world.client.post(
        "/v1/items/bulk",
        content=body,
        headers={**oem.headers, "Content-Type": "application/x-ndjson"},
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [(r["line"], r["ok"]) for r in results] == [(1, True), (2, True)]
