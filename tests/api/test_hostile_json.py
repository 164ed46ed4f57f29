"""Hostile JSON bodies: too deep, too big, repeated keys, not UTF-8.

Each is refused with a problem+json that names the limit (or the key, or the byte) and
the JSON pointer where it is, before the ledger does anything: the log's size is the
same after. Values at a limit are accepted, one past it refused.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.limits import BODY, FREE_FORM
from tests.conftest import World
from tests.factories import battery_code, register, registration, to_state

PROBLEM = "application/problem+json"


def _size(world: World) -> int:
    answer = world.client.get(
        "/v1/log/entries", params={"limit": 1}, headers=world.regulator.headers
    )
    return int(answer.json()["size"])


def _refused(answer: Any, status: int, code: str, pointer: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body: dict[str, Any] = answer.json()
    assert (body["status"], body["code"], body["pointer"]) == (status, code, pointer), body
    return body


def _nested(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def _post(world: World, path: str, raw: bytes | str, content_type: str = "application/json") -> Any:
    return world.client.post(
        path, content=raw, headers={**world.oem.headers, "content-type": content_type}
    )


def test_the_attackers_256_deep_body_is_refused_at_once_naming_depth(world: World) -> None:
    body = registration()
    body["attributes"]["deep"] = _nested(256)
    before = _size(world)
    answer = _post(world, "/v1/items", json.dumps(body))
    pointer = "/attributes/deep" + "/a" * (BODY.depth - 2)
    found = _refused(answer, 422, "limit-exceeded", pointer)
    assert (found["limit"], found["bound"]) == ("depth", BODY.depth)
    assert "depth" in found["detail"]
    assert _size(world) == before


def test_a_body_too_deep_to_parse_is_refused_with_its_pointer(world: World) -> None:
    raw = '{"kind": "battery_pack", "attributes": {"list": [1, ' + "[" * 5000 + "]" * 5000 + "]}}"
    answer = _post(world, "/v1/items", raw)
    found = _refused(answer, 422, "limit-exceeded", "/attributes/list/1" + "/0" * 29)
    assert found["limit"] == "depth"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_free_form_nesting_at_the_limit_is_kept_one_past_is_refused(world: World) -> None:
    at = registration()
    at["attributes"]["deep"] = _nested(FREE_FORM.depth - 1)  # attributes is level 1
    item = register(world.client, world.oem, at)
    assert item["attributes"]["deep"] == at["attributes"]["deep"]

    past = registration()
    past["attributes"]["deep"] = _nested(FREE_FORM.depth)
    before = _size(world)
    answer = world.client.post("/v1/items", json=past, headers=world.oem.headers)
    found = _refused(answer, 422, "invalid-value", "/attributes/deep" + "/a" * 15)
    assert "depth limit (16)" in found["detail"]
    assert _size(world) == before


def _too_much(limit: str) -> tuple[dict[str, Any], str]:
    """Attributes that break ``limit`` of the free-form limits, and where."""
    if limit == "keys":
        return {f"k{i}": 1 for i in range(FREE_FORM.keys + 1)}, ""
    if limit == "key_bytes":
        return {"é" * 129: 1}, "/" + "é" * 129
    if limit == "string_bytes":  # 4,097 bytes in 1,366 characters
        return {"note": "ab" + "€" * 1365}, "/note"
    if limit == "items":
        return {"list": list(range(FREE_FORM.items + 1))}, "/list"
    # total_bytes: sixteen strings of 1 KiB
    return {f"part{i}": "x" * 1024 for i in range(16)}, ""


@pytest.mark.parametrize("limit", ["keys", "key_bytes", "string_bytes", "items", "total_bytes"])
def test_each_free_form_limit_is_named_where_it_is_broken(world: World, limit: str) -> None:
    attributes, where = _too_much(limit)
    before = _size(world)
    answer = world.client.post(
        "/v1/items", json=registration(attributes=attributes), headers=world.oem.headers
    )
    # 65 keys break the body's limit too, which is checked first.
    code = "limit-exceeded" if limit == "keys" else "invalid-value"
    found = _refused(answer, 422, code, "/attributes" + where)
    assert f"{limit} limit" in found["detail"], found
    assert _size(world) == before


@pytest.mark.parametrize("backend", ["sqlite"])
def test_free_form_strings_at_the_limit_are_kept(world: World) -> None:
    attributes = {"note": "a" + "€" * 1365, "é" * 128: ["y"] * FREE_FORM.items}
    item = register(world.client, world.oem, registration(attributes=attributes))
    assert item["attributes"]["note"] == attributes["note"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_dismantled_childs_attributes_are_limited_where_they_are(world: World) -> None:
    c = world.client
    item = register(c, world.oem)["id"]
    to_state(c, world.oem, world.recycler, item, "assessed")
    child = {"kind": "battery_module", "code": battery_code("battery_module")}
    deep = {**child, "attributes": {"deep": _nested(FREE_FORM.depth)}}
    answer = c.post(
        f"/v1/items/{item}/events",
        json={"type": "dismantled", "data": {"children": [child, deep]}},
        headers=world.recycler.headers,
    )
    _refused(answer, 422, "invalid-value", "/data/children/1/attributes/deep" + "/a" * 15)


@pytest.mark.parametrize(
    ("raw", "pointer", "key"),
    [
        ('{"kind": "pv_module", "kind": "wind_blade", "code": "X"}', "/", "kind"),
        (
            '{"kind": "pv_module", "code": "X", "attributes": {"a": [{"b": 1, "b": 2}]}}',
            "/attributes/a/0",
            "b",
        ),
    ],
    ids=["top", "nested"],
)
def test_a_repeated_key_is_refused_naming_it(
    world: World, raw: str, pointer: str, key: str
) -> None:
    before = _size(world)
    found = _refused(_post(world, "/v1/items", raw), 400, "duplicate-key", pointer)
    assert found["key"] == key
    assert repr(key) in found["detail"]
    assert _size(world) == before


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_repeated_key_in_a_bulk_line_refuses_the_body(world: World) -> None:
    good = json.dumps(registration())
    array = f'[{good}, {{"kind": "pv_module", "code": "P-1", "code": "P-2"}}]'
    _refused(_post(world, "/v1/items/bulk", array), 400, "duplicate-key", "/1")
    lines = f'{good}\n\n{{"kind": "pv_module", "code": "P-1", "code": "P-2"}}\n'
    found = _refused(
        _post(world, "/v1/items/bulk", lines, "application/x-ndjson"), 400, "duplicate-key", "/"
    )
    assert found["line"] == 3


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/x-ndjson", "application/merge-patch+json"]
)
def test_a_body_that_is_not_utf8_is_refused_with_the_byte(world: World, content_type: str) -> None:
    raw = b'{"kind": "pv_module", "code": "PV-\xff\xfe"}'
    before = _size(world)
    answer = _post(
        world, "/v1/items/bulk" if "ndjson" in content_type else "/v1/items", raw, content_type
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == PROBLEM
    found = answer.json()
    assert (found["code"], found["offset"]) == ("malformed-json", raw.index(b"\xff"))
    assert "not UTF-8" in found["detail"]
    assert _size(world) == before


@pytest.mark.parametrize("backend", ["sqlite"])
def test_bodies_within_the_limits_pass_untouched(world: World) -> None:
    # A bulk array longer than any nested array may be.
    lines = [registration("pv_module") for _ in range(BODY.items // 1000 + 2)]
    answer = world.client.post("/v1/items/bulk", json=lines, headers=world.oem.headers)
    assert answer.status_code in (200, 201), answer.text
    assert answer.json()["accepted"] == len(lines)
    # A byte order mark is ignored, as the route's own parser does, not a way around.
    deep = json.dumps(registration(attributes={"deep": _nested(40)}))
    answer = _post(world, "/v1/items", "\ufeff" + deep)
    _refused(answer, 422, "limit-exceeded", "/attributes/deep" + "/a" * 30)


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "pointer", "line"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 422, "/0" * 32, None),
        (
            b'[{"kind": "pv_module"}, ' + b"[" * 40 + b"]" * 40 + b"]",
            "application/json",
            422,
            "/1" + "/0" * 31,
            None,
        ),
        (
            b'{"kind": "pv_module"}\n[' + b"[" * 5000 + b"]" * 5000 + b"]\n",
            "application/x-ndjson",
            422,
            "/0" * 32,
            2,
        ),
        (b'[{"code": "\xff"}]', "application/json", 400, None, None),
    ],
    ids=["array-too-deep-to-parse", "line-too-deep", "json-lines-too-deep", "not-utf8"],
)
def test_a_hostile_bulk_body_is_refused_whole(
    world: World,
    raw: bytes,
    content_type: str,
    status: int,
    pointer: str | None,
    line: int | None,
) -> None:
    before = _size(world)
    answer = _post(world, "/v1/items/bulk", raw, content_type)
    assert answer.status_code == status, answer.text
    found = answer.json()
    assert found["code"] == ("limit-exceeded" if status == 422 else "malformed-json")
    assert found.get("pointer") == pointer
    assert found.get("line") == line
    assert _size(world) == before
