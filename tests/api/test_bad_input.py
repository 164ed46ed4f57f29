"""Bad input is refused with a 4xx problem+json that says what is wrong, never a 500.

Every refused write leaves the log exactly as it was (the regulator's view of
its size is compared before and after). Bulk registration refuses bad lines
one by one, with a pointer to the line, and keeps the good ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import World
from tests.factories import Org, battery_code, register, registration, to_state

PROBLEM = "application/problem+json"
LIMIT = 1024 * 1024  # settings.max_body_bytes in the test settings


def _size(world: World) -> int:
    answer = world.client.get(
        "/v1/log/entries", params={"limit": 1}, headers=world.regulator.headers
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["size"])


def _assert_problem(
    answer: Any, status: int, code: str | None = None, pointer: str | None = None
) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM), answer.headers
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:retrace:problem:")
    assert body["title"]
    assert body["detail"]
    if code is not None:
        assert body["code"] == code, body
    if pointer is not None:
        assert body.get("pointer") == pointer, body
    return body


@dataclass
class Bad:
    """One bad request and the refusal it must get."""

    label: str
    method: str
    url: str
    org: str
    status: int
    code: str | None = None
    pointer: str | None = None
    says: str | None = None  # a phrase the detail must contain
    kwargs: dict[str, Any] = field(default_factory=dict)


def _json(raw: bytes) -> dict[str, Any]:
    return {"content": raw, "headers": {"content-type": "application/json"}}


def _cases(item: str, held: str, collected: str, regulator: str) -> Iterator[Bad]:
    """Bad requests on the routes: ``item`` is a retired pack the OEM holds, ``held``
    and ``collected`` are packs the recycler holds, retired and collected."""
    reg = registration()
    events = f"/v1/items/{item}/events"
    collect = f"/v1/items/{held}/events"
    # malformed bodies
    yield Bad(
        "malformed JSON",
        "POST",
        "/v1/items",
        "oem",
        400,
        "malformed-json",
        "/",
        kwargs=_json(b'{"kind": "pv_module", "code": '),
    )
    yield Bad(
        "trailing garbage",
        "POST",
        "/v1/items",
        "oem",
        400,
        "malformed-json",
        kwargs=_json(json.dumps(reg).encode() + b"}"),
    )
    yield Bad(
        "not UTF-8",
        "POST",
        "/v1/items",
        "oem",
        400,
        "malformed-json",
        kwargs=_json(b'{"kind": "pv_module", "code": "\xff\xfe"}'),
    )
    yield Bad(
        "Latin-1 bytes",
        "POST",
        "/v1/orgs",
        "admin",
        400,
        "malformed-json",
        kwargs=_json('{"name": "Müller", "role": "oem", "region": "DE"}'.encode("latin-1")),
    )
    yield Bad(
        "deep nesting",
        "POST",
        "/v1/items",
        "oem",
        400,
        "malformed-json",
        kwargs=_json(b"[" * 100_000 + b"]" * 100_000),
    )
    yield Bad(
        "deep nesting in data",
        "POST",
        events,
        "oem",
        400,
        "malformed-json",
        kwargs=_json(b'{"type": "retired", "data": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
    )
    yield Bad(
        "empty body", "POST", "/v1/items", "oem", 422, "invalid-request", "/", kwargs=_json(b"")
    )
    yield Bad(
        "null body", "POST", "/v1/items", "oem", 422, "invalid-request", "/", kwargs=_json(b"null")
    )
    yield Bad(
        "array body",
        "POST",
        "/v1/items",
        "oem",
        422,
        "invalid-request",
        "/",
        kwargs={"json": [reg]},
    )
    yield Bad(
        "text/plain body",
        "POST",
        "/v1/items",
        "oem",
        422,
        "invalid-request",
        kwargs={"content": json.dumps(reg), "headers": {"content-type": "text/plain"}},
    )
    yield Bad(
        "form body",
        "POST",
        "/v1/orgs",
        "admin",
        422,
        "invalid-request",
        kwargs={"data": {"name": "x", "role": "oem", "region": "CN"}},
    )
    # wrong types
    yield Bad(
        "kind is a number",
        "POST",
        "/v1/items",
        "oem",
        422,
        "invalid-request",
        "/kind",
        kwargs={"json": {**reg, "kind": 5}},
    )
    yield Bad(
        "unknown kind",
        "POST",
        "/v1/items",
        "oem",
        422,
        "invalid-request",
        "/kind",
        kwargs={"json": {**reg, "kind": "flux_capacitor"}},
    )
    yield Bad(
        "code is a list",
        "POST",
        "/v1/items",
        "oem",
        422,
        "invalid-request",
        "/code",
        kwargs={"json": {**reg, "code": ["A"]}},
    )
    yield Bad(
        "attributes is a string",
        "POST",
        "/v1/items",
        "oem",
        422,
        None,
        "/attributes",
        kwargs={"json": {**reg, "attributes": "heavy"}},
    )
    yield Bad(
        "role unknown",
        "POST",
        "/v1/orgs",
        "admin",
        422,
        "invalid-request",
        "/role",
        kwargs={"json": {"name": "x", "role": "overlord", "region": "CN"}},
    )
    yield Bad(
        "event data is a list",
        "POST",
        events,
        "oem",
        422,
        "invalid-request",
        "/data",
        kwargs={"json": {"type": "retired", "data": []}},
    )
    yield Bad(
        "unknown event type",
        "POST",
        events,
        "oem",
        422,
        "invalid-request",
        "/type",
        kwargs={"json": {"type": "exploded", "data": {}}},
    )
    yield Bad(
        "registered through events",
        "POST",
        events,
        "oem",
        422,
        None,
        "/type",
        kwargs={"json": {"type": "registered", "data": {}}},
    )
    yield Bad(
        "mass is a boolean",
        "POST",
        collect,
        "recycler",
        422,
        "invalid-value",
        "/data/mass_kg",
        kwargs={"json": {"type": "collected", "data": {"site": "Dock", "mass_kg": True}}},
    )
    yield Bad(
        "scan payload is a number",
        "POST",
        "/v1/scan",
        "oem",
        422,
        "invalid-request",
        "/payload",
        kwargs={"json": {"payload": 5}},
    )
    yield Bad(
        "limit is text",
        "GET",
        "/v1/log/entries?limit=many",
        "regulator",
        422,
        "invalid-request",
        "query:/limit",
    )
    # unknown fields
    yield Bad(
        "unknown field",
        "POST",
        "/v1/items",
        "oem",
        422,
        "invalid-request",
        "/colour",
        kwargs={"json": {**reg, "colour": "blue"}},
    )
    yield Bad(
        "unknown org field",
        "POST",
        "/v1/orgs",
        "admin",
        422,
        "invalid-request",
        "/password",
        kwargs={"json": {"name": "x", "role": "oem", "region": "CN", "password": "hunter2"}},
    )
    yield Bad(
        "unknown event field",
        "POST",
        events,
        "oem",
        422,
        "invalid-request",
        "/when",
        kwargs={"json": {"type": "retired", "data": {"reason": "old"}, "when": "now"}},
    )
    yield Bad(
        "unknown data field",
        "POST",
        events,
        "oem",
        422,
        "invalid-value",
        "/data/colour",
        kwargs={"json": {"type": "retired", "data": {"reason": "old", "colour": "red"}}},
    )
    # missing fields
    yield Bad(
        "no kind",
        "POST",
        "/v1/items",
        "oem",
        422,
        "invalid-request",
        "/kind",
        kwargs={"json": {"code": "PV-1"}},
    )
    yield Bad(
        "no code",
        "POST",
        "/v1/items",
        "oem",
        422,
        "invalid-request",
        "/code",
        kwargs={"json": {"kind": "pv_module"}},
    )
    yield Bad(
        "no region",
        "POST",
        "/v1/orgs",
        "admin",
        422,
        "invalid-request",
        "/region",
        kwargs={"json": {"name": "x", "role": "oem"}},
    )
    yield Bad(
        "no data",
        "POST",
        events,
        "oem",
        422,
        "invalid-request",
        "/data",
        kwargs={"json": {"type": "retired"}},
    )
    yield Bad(
        "no reason",
        "POST",
        events,
        "oem",
        422,
        "invalid-value",
        "/data/reason",
        kwargs={"json": {"type": "retired", "data": {}}},
    )
    yield Bad(
        "no mass",
        "POST",
        collect,
        "recycler",
        422,
        "invalid-value",
        "/data/mass_kg",
        kwargs={"json": {"type": "collected", "data": {"site": "Dock"}}},
    )
    yield Bad(
        "no vin or site",
        "POST",
        events,
        "oem",
        422,
        "invalid-value",
        kwargs={"json": {"type": "installed", "data": {}}},
    )
    # floats for masses and percentages
    yield Bad(
        "float mass",
        "POST",
        collect,
        "recycler",
        422,
        "invalid-value",
        "/data/mass_kg",
        "as a string",
        kwargs={"json": {"type": "collected", "data": {"site": "Dock", "mass_kg": 410.2}}},
    )
    yield Bad(
        "float attribute mass",
        "POST",
        "/v1/items",
        "oem",
        422,
        "invalid-value",
        None,
        "as a string",
        kwargs={"json": {**registration(), "attributes": {"mass_kg": 412.5}}},
    )
    yield Bad(
        "float attribute",
        "POST",
        "/v1/items",
        "oem",
        422,
        "invalid-value",
        None,
        "as a string",
        kwargs={"json": {**registration(), "attributes": {"v": 3.7}}},
    )
    yield Bad(
        "float in a correction",
        "POST",
        events,
        "oem",
        422,
        "invalid-value",
        None,
        "as a string",
        kwargs={"json": {"type": "corrected", "data": {"seq": 0, "fields": {"mass_kg": 1.5}}}},
    )
    # negative and oversized numbers
    yield Bad(
        "negative mass",
        "POST",
        collect,
        "recycler",
        422,
        "invalid-value",
        "/data/mass_kg",
        kwargs={"json": {"type": "collected", "data": {"site": "Dock", "mass_kg": "-1"}}},
    )
    yield Bad(
        "exponent mass",
        "POST",
        collect,
        "recycler",
        422,
        "invalid-value",
        "/data/mass_kg",
        kwargs={"json": {"type": "collected", "data": {"site": "Dock", "mass_kg": "1e3"}}},
    )
    yield Bad(
        "huge mass",
        "POST",
        collect,
        "recycler",
        422,
        "invalid-value",
        "/data/mass_kg",
        kwargs={"json": {"type": "collected", "data": {"site": "Dock", "mass_kg": "1" * 13}}},
    )
    yield Bad(
        "too precise mass",
        "POST",
        collect,
        "recycler",
        422,
        "invalid-value",
        "/data/mass_kg",
        kwargs={"json": {"type": "collected", "data": {"site": "Dock", "mass_kg": "1.0000001"}}},
    )
    yield Bad(
        "negative attribute mass",
        "POST",
        "/v1/items",
        "oem",
        422,
        "invalid-value",
        kwargs={"json": {**registration(), "attributes": {"mass_kg": "-3"}}},
    )
    yield Bad(
        "integer beyond 2^53",
        "POST",
        "/v1/items",
        "oem",
        422,
        "invalid-value",
        kwargs={"json": {**registration(), "attributes": {"cycles": 2**60}}},
    )
    yield Bad(
        "negative seq",
        "POST",
        events,
        "oem",
        422,
        "invalid-value",
        "/data/seq",
        kwargs={"json": {"type": "corrected", "data": {"seq": -1, "fields": {"reason": "x"}}}},
    )
    yield Bad(
        "negative start",
        "GET",
        "/v1/log/entries?start=-1",
        "regulator",
        422,
        "invalid-request",
        "query:/start",
    )
    yield Bad(
        "zero limit",
        "GET",
        "/v1/log/entries?limit=0",
        "regulator",
        422,
        "invalid-request",
        "query:/limit",
    )
    yield Bad(
        "huge limit",
        "GET",
        "/v1/log/entries?limit=1001",
        "regulator",
        422,
        "invalid-request",
        "query:/limit",
    )
    yield Bad(
        "start beyond 2^53",
        "GET",
        f"/v1/log/entries?start={2**64}",
        "regulator",
        422,
        "invalid-request",
        "query:/start",
    )
    yield Bad(
        "long name",
        "POST",
        "/v1/orgs",
        "admin",
        422,
        "invalid-request",
        "/name",
        kwargs={"json": {"name": "x" * 201, "role": "oem", "region": "CN"}},
    )
    yield Bad(
        "long item id",
        "GET",
        "/v1/items/" + "x" * 41,
        "oem",
        422,
        "invalid-request",
        "path:/item_id",
    )
    yield Bad(
        "lone surrogate",
        "POST",
        "/v1/items",
        "oem",
        422,
        "invalid-value",
        kwargs=_json(b'{"kind": "pv_module", "code": "PV-9", "attributes": {"note": "\\ud800"}}'),
    )
    # headers
    yield Bad(
        "blank Idempotency-Key",
        "POST",
        "/v1/items",
        "oem",
        422,
        "invalid-value",
        "header:/Idempotency-Key",
        kwargs={"json": registration(), "headers": {"Idempotency-Key": " "}},
    )
    yield Bad(
        "long Idempotency-Key",
        "POST",
        "/v1/items",
        "oem",
        422,
        "invalid-request",
        kwargs={"json": registration(), "headers": {"Idempotency-Key": "k" * 201}},
    )
    # unknown things, routes and methods
    yield Bad(
        "unknown item", "GET", "/v1/items/itm_00000000000000000000000000", "oem", 404, "not-found"
    )
    yield Bad("unknown item history", "GET", "/v1/items/itm_nope/history", "oem", 404, "not-found")
    yield Bad(
        "event on unknown item",
        "POST",
        "/v1/items/itm_nope/events",
        "oem",
        404,
        "not-found",
        kwargs={"json": {"type": "retired", "data": {"reason": "x"}}},
    )
    yield Bad(
        "unknown parent",
        "POST",
        "/v1/items",
        "oem",
        404,
        "not-found",
        "/parent",
        kwargs={"json": {**registration("battery_module"), "parent": "itm_nope"}},
    )
    yield Bad(
        "transfer to unknown org",
        "POST",
        events,
        "oem",
        404,
        "not-found",
        "/data/to_org",
        kwargs={"json": {"type": "transferred", "data": {"to_org": "org_nope"}}},
    )
    yield Bad("keys for unknown org", "POST", "/v1/orgs/org_nope/keys", "admin", 404, "not-found")
    yield Bad("revoke unknown key", "POST", "/v1/keys/key_nope/revoke", "admin", 404, "not-found")
    yield Bad(
        "scan of nothing",
        "POST",
        "/v1/scan",
        "oem",
        404,
        "not-found",
        "/payload",
        kwargs={"json": {"payload": "http://retrace.test/p/itm_nope"}},
    )
    yield Bad("unknown route", "GET", "/v1/widgets", "oem", 404, "not-found")
    yield Bad("unknown route, no key", "POST", "/v2/items", "", 404, "not-found")
    yield Bad("wrong method", "DELETE", "/v1/items", "oem", 405, "method-not-allowed")
    yield Bad(
        "wrong method on an item",
        "PUT",
        f"/v1/items/{item}",
        "oem",
        405,
        "method-not-allowed",
        kwargs={"json": {}},
    )
    yield Bad("wrong method on orgs", "PATCH", "/v1/orgs", "admin", 405, "method-not-allowed")
    # domain refusals of well-formed requests
    yield Bad(
        "transfer to a regulator",
        "POST",
        events,
        "oem",
        422,
        "invalid-transfer",
        "/data/to_org",
        kwargs={"json": {"type": "transferred", "data": {"to_org": regulator}}},
    )
    yield Bad(
        "illegal transition",
        "POST",
        events,
        "oem",
        409,
        "illegal-transition",
        kwargs={"json": {"type": "installed", "data": {"site": "x"}}},
    )
    yield Bad(
        "recycled before collection",
        "POST",
        collect,
        "recycler",
        409,
        "illegal-transition",
        kwargs={
            "json": {
                "type": "recycled",
                "data": {
                    "input_mass_kg": "10",
                    "process": "shredding",
                    "recovered": [{"material": "copper", "mass_kg": "1"}],
                },
            }
        },
    )
    yield Bad(
        "recovered beyond input",
        "POST",
        f"/v1/items/{collected}/events",
        "recycler",
        422,
        "mass-balance",
        "/data/recovered",
        kwargs={
            "json": {
                "type": "recycled",
                "data": {
                    "input_mass_kg": "10",
                    "process": "shredding",
                    "recovered": [{"material": "copper", "mass_kg": "11"}],
                },
            }
        },
    )
    yield Bad(
        "duplicate org name",
        "POST",
        "/v1/orgs",
        "admin",
        409,
        "duplicate",
        "/name",
        kwargs={"json": {"name": "oem org", "role": "oem", "region": "CN"}},
    )


def _org(world: World, name: str) -> Org | None:
    if not name:
        return None
    return world.admin if name == "admin" else getattr(world, name)


def _setup(world: World) -> tuple[str, str, str]:
    """A retired pack the OEM holds; packs the recycler holds, retired and collected."""
    c = world.client
    item = register(c, world.oem)
    to_state(c, world.oem, world.recycler, item["id"], "retired")
    held = register(c, world.oem)
    to_state(c, world.oem, world.recycler, held["id"], "retired")
    answer = c.post(
        f"/v1/items/{held['id']}/events",
        headers=world.oem.headers,
        json={"type": "transferred", "data": {"to_org": world.recycler.id}},
    )
    assert answer.status_code == 201, answer.text
    collected = register(c, world.oem)
    to_state(c, world.oem, world.recycler, collected["id"], "collected")
    return item["id"], held["id"], collected["id"]


def _send(c: TestClient, world: World, bad: Bad) -> Any:
    kwargs = {**bad.kwargs}
    org = _org(world, bad.org)
    headers = {**kwargs.pop("headers", {}), **(org.headers if org else {})}
    return c.request(bad.method, bad.url, headers=headers, **kwargs)


def test_every_bad_request_gets_its_problem_and_writes_nothing(world: World) -> None:
    c = world.client
    wrong: list[str] = []
    cases = list(_cases(*_setup(world), world.regulator.id))
    for bad in cases:
        before = _size(world)
        answer = _send(c, world, bad)
        try:
            body = _assert_problem(answer, bad.status, bad.code, bad.pointer)
            if bad.says is not None:
                assert bad.says in body["detail"], body["detail"]
        except AssertionError as exc:
            wrong.append(f"{bad.label}: {exc}")
        if _size(world) != before:
            wrong.append(f"{bad.label}: the log grew")
    assert len(cases) > 60
    assert not wrong, "\n".join(wrong)


# -- body size ----------------------------------------------------------------


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A streamed body (no Content-Length: chunked on the wire)."""
    sent = 0
    yield b'[{"kind": "pv_module", "code": "'
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}]'


def test_oversized_bodies_are_refused_with_413(world: World) -> None:
    c = world.client
    before = _size(world)
    for path, org in [
        ("/v1/items", world.oem),
        ("/v1/items/bulk", world.oem),
        ("/v1/scan", world.oem),
        ("/v1/orgs", world.admin),
        (f"/v1/items/{register(c, world.oem)['id']}/events", world.oem),
    ]:
        before = _size(world)
        headers = {**org.headers, "content-type": "application/json"}
        declared = c.post(path, content=b" " * (LIMIT + 1), headers=headers)
        body = _assert_problem(declared, 413, "request-too-large")
        assert str(LIMIT) in body["detail"]
        streamed = c.post(path, content=_chunks(LIMIT + 1), headers=headers)
        _assert_problem(streamed, 413, "request-too-large")
        assert "content-length" not in {k.lower() for k in streamed.request.headers}
        assert _size(world) == before, path


def test_a_body_under_the_limit_is_read(world: World) -> None:
    c = world.client
    lines = [registration("pv_module") for _ in range(3)]
    padding = " " * (LIMIT - len(json.dumps(lines)) - 10)
    raw = (json.dumps(lines)[:-1] + padding + "]").encode()
    assert len(raw) <= LIMIT
    before = _size(world)
    answer = c.post(
        "/v1/items/bulk",
        content=raw,
        headers={**world.oem.headers, "content-type": "application/json"},
    )
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["accepted"] == 3
    assert _size(world) == before + 3


# -- battery codes ------------------------------------------------------------


def _mutate(code: str, position: int, char: str) -> str:
    return code[: position - 1] + char + code[position:]


BAD_CODES: list[tuple[str, Callable[[str], str], int]] = [
    ("product type", lambda code: _mutate(code, 4, "M"), 4),
    ("battery type", lambda code: _mutate(code, 5, "?"), 5),
    ("year", lambda code: _mutate(code, 15, "!"), 15),
    ("month", lambda code: _mutate(code, 16, "D"), 16),
    ("day", lambda code: _mutate(code, 17, "W"), 17),
    ("30 February", lambda code: code[:14] + "B2U" + code[17:], 17),
    ("serial", lambda code: _mutate(code, 20, "X"), 20),
    ("lower case", lambda code: code.lower(), 1),
    ("short", lambda code: code[:23], 24),
    ("long", lambda code: code + "1", 25),
]


def test_bad_battery_codes_name_the_position(world: World) -> None:
    c = world.client
    for label, change, position in BAD_CODES:
        before = _size(world)
        code = change(battery_code())
        answer = c.post(
            "/v1/items", json={**registration(), "code": code}, headers=world.oem.headers
        )
        body = _assert_problem(answer, 422, "invalid-code", "/code")
        assert body["position"] == position, (label, body)
        assert "position" in body["detail"] if len(code) == 24 else "24" in body["detail"]
        # The same code inside a bulk request is refused on its own line.
        bulk = c.post(
            "/v1/items/bulk",
            json=[registration(), {**registration(), "code": code}],
            headers=world.oem.headers,
        )
        assert bulk.status_code == 200, bulk.text
        result = bulk.json()["results"][1]
        assert result["ok"] is False, label
        assert result["error"]["code"] == "invalid-code"
        assert result["error"]["pointer"] == "/1/code"
        assert result["error"]["position"] == position
        assert _size(world) == before + 1, label


# -- bulk registration ----------------------------------------------------------


def _log_entries(world: World, start: int) -> list[dict[str, Any]]:
    answer = world.client.get(
        "/v1/log/entries", params={"start": start, "limit": 1000}, headers=world.regulator.headers
    )
    return list(answer.json()["entries"])


def test_bulk_array_keeps_good_lines_and_points_at_bad_ones(world: World) -> None:
    c = world.client
    good = [registration(), registration("pv_module"), registration("wind_blade")]
    dup = dict(good[0])
    lines: list[Any] = [
        good[0],
        {**registration(), "code": "CATPB01A1B2C3DB3W0000001"},  # bad date
        good[1],
        {"kind": "pv_module"},  # no code
        {**registration("pv_module"), "colour": "blue"},  # unknown field
        {**registration(), "attributes": {"mass_kg": 412.5}},  # float mass
        "not an object",
        dup,  # the same code twice in one request
        good[2],
    ]
    start = _size(world)
    answer = c.post("/v1/items/bulk", json=lines, headers=world.oem.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["refused"]) == (3, 6)
    results = body["results"]
    assert [r["line"] for r in results] == list(range(len(lines)))
    assert [r["ok"] for r in results] == [
        True,
        False,
        True,
        False,
        False,
        False,
        False,
        False,
        True,
    ]
    pointers = {r["line"]: r["error"]["pointer"] for r in results if not r["ok"]}
    assert pointers[1] == "/1/code"
    assert pointers[3] == "/3/code"
    assert pointers[4] == "/4/colour"
    assert pointers[5].startswith("/5/attributes")
    assert pointers[7] == "/7/code"
    for r in results:
        if not r["ok"]:
            assert r["error"]["status"] in {404, 409, 422}
            assert r["error"]["detail"]
    assert results[1]["error"]["code"] == "invalid-code"
    assert results[7]["error"]["code"] == "duplicate"
    assert "as a string" in results[5]["error"]["detail"]
    written = _log_entries(world, start)
    assert len(written) == 3
    accepted = [r for r in results if r["ok"]]
    assert [(e["seq"], e["hash"], e["item"]) for e in written] == [
        (r["seq"], r["hash"], r["id"]) for r in accepted
    ]
    assert [e["data"]["code"] for e in written] == [g["code"] for g in good]


def test_bulk_json_lines_refuse_a_malformed_line_alone(world: World) -> None:
    c = world.client
    good = [registration("pv_module"), registration("wind_blade"), registration()]
    text = "\n".join(
        [
            json.dumps(good[0]),
            '{"kind": "pv_module", "code": ',
            "",
            json.dumps(good[1]),
            "[" * 5000 + "]" * 5000,
            json.dumps(good[2]),
        ]
    )
    start = _size(world)
    answer = c.post(
        "/v1/items/bulk",
        content=text.encode() + b"\n",
        headers={**world.oem.headers, "content-type": "application/x-ndjson"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["refused"]) == (3, 2)
    results = body["results"]
    assert [r["ok"] for r in results] == [True, False, True, False, True]
    assert results[1]["error"]["pointer"] == "/1"
    assert results[1]["error"]["code"] == "invalid-value"
    assert "not JSON" in results[1]["error"]["detail"]
    assert results[3]["error"]["pointer"] == "/3"
    assert len(_log_entries(world, start)) == 3


NOT_A_LIST: list[tuple[str, bytes, str]] = [
    ("an object", b'{"kind": "pv_module", "code": "PV-1"}', "application/json"),
    ("a number", b"42", "application/json"),
    ("malformed", b"[{", "application/json"),
    ("not UTF-8", b'[{"code": "\xff"}]', "application/json"),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ("empty array", b"[]", "application/json"),
    ("empty body", b"", "application/json"),
    ("blank lines", b"\n\n \n", "application/x-ndjson"),
]


def test_bulk_refuses_a_body_that_is_not_a_list(world: World) -> None:
    before = _size(world)
    for label, raw, content_type in NOT_A_LIST:
        answer = world.client.post(
            "/v1/items/bulk",
            content=raw,
            headers={**world.oem.headers, "content-type": content_type},
        )
        assert answer.status_code == 422, (label, answer.text)
        _assert_problem(answer, 422, "invalid-value", "/")
    assert _size(world) == before


def test_bulk_refuses_more_lines_than_the_limit(world: World) -> None:
    lines = [{"kind": "pv_module", "code": f"PV-{n}"} for n in range(5001)]  # limit: 5000
    before = _size(world)
    answer = world.client.post("/v1/items/bulk", json=lines, headers=world.oem.headers)
    body = _assert_problem(answer, 422, "invalid-value", "/")
    assert "5000" in body["detail"]
    assert _size(world) == before


# -- text the databases cannot hold -------------------------------------------


def test_nul_characters_and_lone_surrogates_are_refused_not_crashed(world: World) -> None:
    """PostgreSQL text cannot hold U+0000 and UTF-8 cannot hold a lone surrogate: such
    input is a 4xx on both databases, and nothing is written."""
    c = world.client
    item = register(c, world.oem)
    oem = {**world.oem.headers, "content-type": "application/json"}
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/v1/items/itm_%00", {"headers": world.oem.headers}),
        ("GET", "/v1/items/%00/history", {"headers": world.oem.headers}),
        ("POST", "/v1/scan", {"json": {"payload": "PV\u0000"}, "headers": world.oem.headers}),
        (
            "POST",
            "/v1/orgs",
            {
                "json": {"name": "nul\u0000org", "role": "oem", "region": "CN"},
                "headers": world.admin.headers,
            },
        ),
        (
            "POST",
            "/v1/orgs",
            {
                "json": {"name": "ok", "role": "oem", "region": "C\u0000N"},
                "headers": world.admin.headers,
            },
        ),
        ("POST", "/v1/orgs/org_%00/keys", {"headers": world.admin.headers}),
        (
            "POST",
            "/v1/items",
            {
                "json": {**registration("battery_module"), "parent": "itm_\u0000"},
                "headers": world.oem.headers,
            },
        ),
        (
            "POST",
            "/v1/items",
            {
                "json": {**registration("pv_module"), "code": "PV-\u0000"},
                "headers": world.oem.headers,
            },
        ),
        (
            "POST",
            f"/v1/items/{item['id']}/events",
            {
                "json": {"type": "transferred", "data": {"to_org": "org_\u0000"}},
                "headers": world.oem.headers,
            },
        ),
        (
            "POST",
            "/v1/items",
            {"content": b'{"kind": "pv_module", "code": "PV-\\ud800"}', "headers": oem},
        ),
        (
            "POST",
            "/v1/items",
            {
                "content": b'{"kind": "pv_module", "code": "PV-7", '
                b'"attributes": {"a": ["\\udfff"]}}',
                "headers": oem,
            },
        ),
        (
            "POST",
            f"/v1/items/{item['id']}/events",
            {
                "content": b'{"type": "corrected", "data": {"seq": 0, '
                b'"fields": {"code": "\\ud800"}}}',
                "headers": oem,
            },
        ),
    ]
    wrong = []
    for method, url, kwargs in requests:
        before = _size(world)
        answer = c.request(method, url, **kwargs)
        ok = 400 <= answer.status_code < 500 and answer.headers["content-type"].startswith(PROBLEM)
        if not ok or _size(world) != before:
            wrong.append(
                f"{method} {url} {kwargs.get('json')}: {answer.status_code} {answer.text[:200]}"
            )
    assert not wrong, "\n".join(wrong)


def test_bulk_lines_with_nul_or_surrogates_are_refused_alone(world: World) -> None:
    good = registration("pv_module")
    raw = (
        "[" + json.dumps(good) + ', {"kind": "pv_module", "code": "PV-\\u0000"}'
        ', {"kind": "pv_module", "code": "PV-\\ud800"}'
        ', {"kind": "pv_module", "code": "PV-8", "attributes": {"n": "\\ud800"}}]'
    )
    before = _size(world)
    answer = world.client.post(
        "/v1/items/bulk",
        content=raw.encode(),
        headers={**world.oem.headers, "content-type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [r["ok"] for r in body["results"]] == [True, False, False, False]
    assert [r["error"]["pointer"] for r in body["results"][1:]] == [
        "/1/code",
        "/2/code",
        "/3/attributes",
    ]
    assert _size(world) == before + 1
