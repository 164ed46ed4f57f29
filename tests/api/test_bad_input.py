"""Bad input is refused with a 4xx problem+json that says what is wrong, never a 500.

Every refused write leaves the log exactly as it was (the regulator's view of
its size is compared before and after). Bulk registration refuses bad lines
one by one, with a pointer to the line, and keeps the good ones.

Each bad request is a case of its own, with an id that says what it sends
(route, then what is wrong), on each backend.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

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


def _org(world: World, name: str) -> Org | None:
    if not name:
        return None
    return world.admin if name == "admin" else getattr(world, name)


def _fill(value: Any, targets: dict[str, str]) -> Any:
    """``value`` with every string that is a whole placeholder (``"{regulator}"``)
    replaced by its target; the rest is left as it is."""
    if isinstance(value, dict):
        return {key: _fill(inner, targets) for key, inner in value.items()}
    if isinstance(value, list):
        return [_fill(inner, targets) for inner in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return targets.get(value[1:-1], value)
    return value


def _request(
    world: World, method: str, url: str, org: str, kwargs: dict[str, Any], targets: dict[str, str]
) -> Any:
    """Send as ``org`` (none if empty), placeholders in the URL and JSON body filled in."""
    kwargs = {**kwargs}
    if "json" in kwargs:
        kwargs["json"] = _fill(kwargs["json"], targets)
    who = _org(world, org)
    headers = {**kwargs.pop("headers", {}), **(who.headers if who else {})}
    return world.client.request(method, url.format_map(targets), headers=headers, **kwargs)


@dataclass(frozen=True)
class Bad:
    """One bad request and the refusal it must get."""

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


# Placeholders that _setup fills in for each case: {item} is a retired pack the OEM
# holds, {held} and {collected} are packs the recycler holds, retired and collected.
ITEM = "/v1/items/{item}"
EVENTS = "/v1/items/{item}/events"
COLLECT = "/v1/items/{held}/events"
RECYCLE = "/v1/items/{collected}/events"
REGULATOR = "{regulator}"  # the regulator's org ID, as a JSON string
_REG = registration()

BAD_REQUESTS = [
    # malformed bodies
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            400,
            "malformed-json",
            "/",
            kwargs=_json(b'{"kind": "pv_module", "code": '),
        ),
        id="items-malformed-json",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            400,
            "malformed-json",
            kwargs=_json(json.dumps(_REG).encode() + b"}"),
        ),
        id="items-trailing-garbage",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            400,
            "malformed-json",
            kwargs=_json(b'{"kind": "pv_module", "code": "\xff\xfe"}'),
        ),
        id="items-not-utf8",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/orgs",
            "admin",
            400,
            "malformed-json",
            kwargs=_json('{"name": "Müller", "role": "oem", "region": "DE"}'.encode("latin-1")),
        ),
        id="orgs-latin1-bytes",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            "limit-exceeded",
            "/0" * 32,
            kwargs=_json(b"[" * 100_000 + b"]" * 100_000),
        ),
        id="items-deep-nesting",
    ),
    pytest.param(
        Bad(
            "POST",
            EVENTS,
            "oem",
            422,
            "limit-exceeded",
            "/data" + "/0" * 31,
            kwargs=_json(b'{"type": "retired", "data": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
        ),
        id="events-deep-nesting-in-data",
    ),
    pytest.param(
        Bad("POST", "/v1/items", "oem", 422, "invalid-request", "/", kwargs=_json(b"")),
        id="items-empty-body",
    ),
    pytest.param(
        Bad("POST", "/v1/items", "oem", 422, "invalid-request", "/", kwargs=_json(b"null")),
        id="items-null-body",
    ),
    pytest.param(
        Bad("POST", "/v1/items", "oem", 422, "invalid-request", "/", kwargs={"json": [_REG]}),
        id="items-array-body",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            "invalid-request",
            kwargs={"content": json.dumps(_REG), "headers": {"content-type": "text/plain"}},
        ),
        id="items-text-plain-body",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/orgs",
            "admin",
            422,
            "invalid-request",
            kwargs={"data": {"name": "x", "role": "oem", "region": "CN"}},
        ),
        id="orgs-form-body",
    ),
    # wrong types
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            "invalid-request",
            "/kind",
            kwargs={"json": {**_REG, "kind": 5}},
        ),
        id="items-kind-number",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            "invalid-request",
            "/kind",
            kwargs={"json": {**_REG, "kind": "flux_capacitor"}},
        ),
        id="items-kind-unknown",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            "invalid-request",
            "/code",
            kwargs={"json": {**_REG, "code": ["A"]}},
        ),
        id="items-code-list",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            None,
            "/attributes",
            kwargs={"json": {**_REG, "attributes": "heavy"}},
        ),
        id="items-attributes-string",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/orgs",
            "admin",
            422,
            "invalid-request",
            "/role",
            kwargs={"json": {"name": "x", "role": "overlord", "region": "CN"}},
        ),
        id="orgs-role-unknown",
    ),
    pytest.param(
        Bad(
            "POST",
            EVENTS,
            "oem",
            422,
            "invalid-request",
            "/data",
            kwargs={"json": {"type": "retired", "data": []}},
        ),
        id="events-data-list",
    ),
    pytest.param(
        Bad(
            "POST",
            EVENTS,
            "oem",
            422,
            "invalid-request",
            "/type",
            kwargs={"json": {"type": "exploded", "data": {}}},
        ),
        id="events-type-unknown",
    ),
    pytest.param(
        Bad(
            "POST",
            EVENTS,
            "oem",
            422,
            None,
            "/type",
            kwargs={"json": {"type": "registered", "data": {}}},
        ),
        id="events-type-registered",
    ),
    pytest.param(
        Bad(
            "POST",
            COLLECT,
            "recycler",
            422,
            "invalid-value",
            "/data/mass_kg",
            kwargs={"json": {"type": "collected", "data": {"site": "Dock", "mass_kg": True}}},
        ),
        id="events-collected-mass-boolean",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/scan",
            "oem",
            422,
            "invalid-request",
            "/payload",
            kwargs={"json": {"payload": 5}},
        ),
        id="scan-payload-number",
    ),
    pytest.param(
        Bad(
            "GET", "/v1/log/entries?limit=many", "regulator", 422, "invalid-request", "query:/limit"
        ),
        id="log-limit-text",
    ),
    # unknown fields
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            "invalid-request",
            "/colour",
            kwargs={"json": {**_REG, "colour": "blue"}},
        ),
        id="items-unknown-field",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/orgs",
            "admin",
            422,
            "invalid-request",
            "/password",
            kwargs={"json": {"name": "x", "role": "oem", "region": "CN", "password": "hunter2"}},
        ),
        id="orgs-unknown-field",
    ),
    pytest.param(
        Bad(
            "POST",
            EVENTS,
            "oem",
            422,
            "invalid-request",
            "/when",
            kwargs={"json": {"type": "retired", "data": {"reason": "old"}, "when": "now"}},
        ),
        id="events-unknown-field",
    ),
    pytest.param(
        Bad(
            "POST",
            EVENTS,
            "oem",
            422,
            "invalid-value",
            "/data/colour",
            kwargs={"json": {"type": "retired", "data": {"reason": "old", "colour": "red"}}},
        ),
        id="events-retired-unknown-data-field",
    ),
    # missing fields
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            "invalid-request",
            "/kind",
            kwargs={"json": {"code": "PV-1"}},
        ),
        id="items-no-kind",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            "invalid-request",
            "/code",
            kwargs={"json": {"kind": "pv_module"}},
        ),
        id="items-no-code",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/orgs",
            "admin",
            422,
            "invalid-request",
            "/region",
            kwargs={"json": {"name": "x", "role": "oem"}},
        ),
        id="orgs-no-region",
    ),
    pytest.param(
        Bad(
            "POST",
            EVENTS,
            "oem",
            422,
            "invalid-request",
            "/data",
            kwargs={"json": {"type": "retired"}},
        ),
        id="events-retired-no-data",
    ),
    pytest.param(
        Bad(
            "POST",
            EVENTS,
            "oem",
            422,
            "invalid-value",
            "/data/reason",
            kwargs={"json": {"type": "retired", "data": {}}},
        ),
        id="events-retired-no-reason",
    ),
    pytest.param(
        Bad(
            "POST",
            COLLECT,
            "recycler",
            422,
            "invalid-value",
            "/data/mass_kg",
            kwargs={"json": {"type": "collected", "data": {"site": "Dock"}}},
        ),
        id="events-collected-no-mass",
    ),
    pytest.param(
        Bad(
            "POST",
            EVENTS,
            "oem",
            422,
            "invalid-value",
            kwargs={"json": {"type": "installed", "data": {}}},
        ),
        id="events-installed-no-vin-or-site",
    ),
    # floats for masses and percentages
    pytest.param(
        Bad(
            "POST",
            COLLECT,
            "recycler",
            422,
            "invalid-value",
            "/data/mass_kg",
            "as a string",
            kwargs={"json": {"type": "collected", "data": {"site": "Dock", "mass_kg": 410.2}}},
        ),
        id="events-collected-mass-float",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            "invalid-value",
            None,
            "as a string",
            kwargs={"json": {**registration(), "attributes": {"mass_kg": 412.5}}},
        ),
        id="items-attribute-mass-float",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            "invalid-value",
            None,
            "as a string",
            kwargs={"json": {**registration(), "attributes": {"v": 3.7}}},
        ),
        id="items-attribute-float",
    ),
    pytest.param(
        Bad(
            "POST",
            EVENTS,
            "oem",
            422,
            "invalid-value",
            None,
            "as a string",
            kwargs={"json": {"type": "corrected", "data": {"seq": 0, "fields": {"mass_kg": 1.5}}}},
        ),
        id="events-corrected-mass-float",
    ),
    # negative and oversized numbers
    pytest.param(
        Bad(
            "POST",
            COLLECT,
            "recycler",
            422,
            "invalid-value",
            "/data/mass_kg",
            kwargs={"json": {"type": "collected", "data": {"site": "Dock", "mass_kg": "-1"}}},
        ),
        id="events-collected-mass-negative",
    ),
    pytest.param(
        Bad(
            "POST",
            COLLECT,
            "recycler",
            422,
            "invalid-value",
            "/data/mass_kg",
            kwargs={"json": {"type": "collected", "data": {"site": "Dock", "mass_kg": "1e3"}}},
        ),
        id="events-collected-mass-exponent",
    ),
    pytest.param(
        Bad(
            "POST",
            COLLECT,
            "recycler",
            422,
            "invalid-value",
            "/data/mass_kg",
            kwargs={"json": {"type": "collected", "data": {"site": "Dock", "mass_kg": "1" * 13}}},
        ),
        id="events-collected-mass-13-digits",
    ),
    pytest.param(
        Bad(
            "POST",
            COLLECT,
            "recycler",
            422,
            "invalid-value",
            "/data/mass_kg",
            kwargs={
                "json": {"type": "collected", "data": {"site": "Dock", "mass_kg": "1.0000001"}}
            },
        ),
        id="events-collected-mass-7-decimals",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            "invalid-value",
            kwargs={"json": {**registration(), "attributes": {"mass_kg": "-3"}}},
        ),
        id="items-attribute-mass-negative",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            "invalid-value",
            kwargs={"json": {**registration(), "attributes": {"cycles": 2**60}}},
        ),
        id="items-attribute-int-2pow60",
    ),
    pytest.param(
        Bad(
            "POST",
            EVENTS,
            "oem",
            422,
            "invalid-value",
            "/data/seq",
            kwargs={"json": {"type": "corrected", "data": {"seq": -1, "fields": {"reason": "x"}}}},
        ),
        id="events-corrected-seq-negative",
    ),
    pytest.param(
        Bad("GET", "/v1/log/entries?start=-1", "regulator", 422, "invalid-request", "query:/start"),
        id="log-start-negative",
    ),
    pytest.param(
        Bad("GET", "/v1/log/entries?limit=0", "regulator", 422, "invalid-request", "query:/limit"),
        id="log-limit-zero",
    ),
    pytest.param(
        Bad(
            "GET", "/v1/log/entries?limit=1001", "regulator", 422, "invalid-request", "query:/limit"
        ),
        id="log-limit-1001",
    ),
    pytest.param(
        Bad(
            "GET",
            f"/v1/log/entries?start={2**64}",
            "regulator",
            422,
            "invalid-request",
            "query:/start",
        ),
        id="log-start-2pow64",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/orgs",
            "admin",
            422,
            "invalid-request",
            "/name",
            kwargs={"json": {"name": "x" * 201, "role": "oem", "region": "CN"}},
        ),
        id="orgs-name-201-chars",
    ),
    pytest.param(
        Bad("GET", "/v1/items/" + "x" * 41, "oem", 422, "invalid-request", "path:/item_id"),
        id="items-get-id-41-chars",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            "invalid-value",
            kwargs=_json(
                b'{"kind": "pv_module", "code": "PV-9", "attributes": {"note": "\\ud800"}}'
            ),
        ),
        id="items-attribute-lone-surrogate",
    ),
    # headers
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            "invalid-value",
            "header:/Idempotency-Key",
            kwargs={"json": registration(), "headers": {"Idempotency-Key": " "}},
        ),
        id="items-idempotency-key-blank",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            422,
            "invalid-request",
            kwargs={"json": registration(), "headers": {"Idempotency-Key": "k" * 201}},
        ),
        id="items-idempotency-key-201-chars",
    ),
    # unknown things, routes and methods
    pytest.param(
        Bad("GET", "/v1/items/itm_00000000000000000000000000", "oem", 404, "not-found"),
        id="items-get-unknown",
    ),
    pytest.param(
        Bad("GET", "/v1/items/itm_nope/history", "oem", 404, "not-found"),
        id="items-history-unknown",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items/itm_nope/events",
            "oem",
            404,
            "not-found",
            kwargs={"json": {"type": "retired", "data": {"reason": "x"}}},
        ),
        id="events-unknown-item",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/items",
            "oem",
            404,
            "not-found",
            "/parent",
            kwargs={"json": {**registration("battery_module"), "parent": "itm_nope"}},
        ),
        id="items-parent-unknown",
    ),
    pytest.param(
        Bad(
            "POST",
            EVENTS,
            "oem",
            404,
            "not-found",
            "/data/to_org",
            kwargs={"json": {"type": "transferred", "data": {"to_org": "org_nope"}}},
        ),
        id="events-transferred-to-unknown-org",
    ),
    pytest.param(
        Bad("POST", "/v1/orgs/org_nope/keys", "admin", 404, "not-found"), id="orgs-keys-unknown-org"
    ),
    pytest.param(
        Bad("POST", "/v1/keys/key_nope/revoke", "admin", 404, "not-found"), id="keys-revoke-unknown"
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/scan",
            "oem",
            404,
            "not-found",
            "/payload",
            kwargs={"json": {"payload": "http://retrace.test/p/itm_nope"}},
        ),
        id="scan-unknown-item",
    ),
    pytest.param(Bad("GET", "/v1/widgets", "oem", 404, "not-found"), id="get-unknown-route"),
    pytest.param(Bad("POST", "/v2/items", "", 404, "not-found"), id="post-unknown-route-no-key"),
    pytest.param(Bad("DELETE", "/v1/items", "oem", 405, "method-not-allowed"), id="items-delete"),
    pytest.param(
        Bad("PUT", ITEM, "oem", 405, "method-not-allowed", kwargs={"json": {}}), id="items-put"
    ),
    pytest.param(Bad("PATCH", "/v1/orgs", "admin", 405, "method-not-allowed"), id="orgs-patch"),
    # domain refusals of well-formed requests
    pytest.param(
        Bad(
            "POST",
            EVENTS,
            "oem",
            422,
            "invalid-transfer",
            "/data/to_org",
            kwargs={"json": {"type": "transferred", "data": {"to_org": REGULATOR}}},
        ),
        id="events-transferred-to-regulator",
    ),
    pytest.param(
        Bad(
            "POST",
            EVENTS,
            "oem",
            409,
            "illegal-transition",
            kwargs={"json": {"type": "installed", "data": {"site": "x"}}},
        ),
        id="events-installed-after-retired",
    ),
    pytest.param(
        Bad(
            "POST",
            COLLECT,
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
        ),
        id="events-recycled-before-collected",
    ),
    pytest.param(
        Bad(
            "POST",
            RECYCLE,
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
        ),
        id="events-recycled-recovered-beyond-input",
    ),
    pytest.param(
        Bad(
            "POST",
            "/v1/orgs",
            "admin",
            409,
            "duplicate",
            "/name",
            kwargs={"json": {"name": "oem org", "role": "oem", "region": "CN"}},
        ),
        id="orgs-duplicate-name",
    ),
]


def _setup(world: World) -> dict[str, str]:
    """A retired pack the OEM holds; packs the recycler holds, retired and collected;
    and the regulator: the targets of the placeholders."""
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
    return {
        "item": item["id"],
        "held": held["id"],
        "collected": collected["id"],
        "regulator": world.regulator.id,
    }


def test_the_bad_request_table_is_complete() -> None:
    assert len(BAD_REQUESTS) > 60


@pytest.mark.parametrize("bad", BAD_REQUESTS)
def test_bad_request_gets_its_problem_and_writes_nothing(world: World, bad: Bad) -> None:
    targets = _setup(world)
    before = _size(world)
    answer = _request(world, bad.method, bad.url, bad.org, bad.kwargs, targets)
    body = _assert_problem(answer, bad.status, bad.code, bad.pointer)
    if bad.says is not None:
        assert bad.says in body["detail"], body["detail"]
    assert _size(world) == before, "the log grew"


# -- body size ----------------------------------------------------------------


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A streamed body (no Content-Length: chunked on the wire)."""
    sent = 0
    yield b'[{"kind": "pv_module", "code": "'
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}]'


@pytest.mark.parametrize(
    "streamed",
    [pytest.param(False, id="content-length"), pytest.param(True, id="chunked")],
)
@pytest.mark.parametrize(
    ("path", "org"),
    [
        pytest.param("/v1/items", "oem", id="items"),
        pytest.param("/v1/items/bulk", "oem", id="bulk"),
        pytest.param("/v1/events/bulk", "oem", id="events-bulk"),
        pytest.param("/v1/scan", "oem", id="scan"),
        pytest.param("/v1/orgs", "admin", id="orgs"),
        pytest.param("/v1/items/{item}/events", "oem", id="events"),  # a pack just registered
    ],
)
def test_oversized_body_is_refused_with_413(
    world: World, path: str, org: str, streamed: bool
) -> None:
    targets = {"item": register(world.client, world.oem)["id"]}
    before = _size(world)
    kwargs: dict[str, Any] = {"headers": {"content-type": "application/json"}}
    if streamed:
        answer = _request(
            world, "POST", path, org, {**kwargs, "content": _chunks(LIMIT + 1)}, targets
        )
        _assert_problem(answer, 413, "request-too-large")
        assert "content-length" not in {k.lower() for k in answer.request.headers}
    else:
        answer = _request(
            world, "POST", path, org, {**kwargs, "content": b" " * (LIMIT + 1)}, targets
        )
        body = _assert_problem(answer, 413, "request-too-large")
        assert str(LIMIT) in body["detail"]
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


@pytest.mark.parametrize(
    ("change", "position"),
    [
        pytest.param(lambda code: _mutate(code, 4, "M"), 4, id="battery-code-product-type"),
        pytest.param(lambda code: _mutate(code, 5, "?"), 5, id="battery-code-battery-type"),
        pytest.param(lambda code: _mutate(code, 15, "!"), 15, id="battery-code-year"),
        pytest.param(lambda code: _mutate(code, 16, "D"), 16, id="battery-code-month"),
        pytest.param(lambda code: _mutate(code, 17, "W"), 17, id="battery-code-day"),
        pytest.param(lambda code: code[:14] + "B2U" + code[17:], 17, id="battery-code-30-february"),
        pytest.param(lambda code: _mutate(code, 20, "X"), 20, id="battery-code-serial"),
        pytest.param(lambda code: code.lower(), 1, id="battery-code-lower-case"),
        pytest.param(lambda code: code[:23], 24, id="battery-code-23-chars"),
        pytest.param(lambda code: code + "1", 25, id="battery-code-25-chars"),
    ],
)
def test_bad_battery_code_names_the_position(
    world: World, change: Callable[[str], str], position: int
) -> None:
    c = world.client
    before = _size(world)
    code = change(battery_code())
    answer = c.post("/v1/items", json={**registration(), "code": code}, headers=world.oem.headers)
    body = _assert_problem(answer, 422, "invalid-code", "/code")
    assert body["position"] == position, body
    assert "position" in body["detail"] if len(code) == 24 else "24" in body["detail"]
    # The same code inside a bulk request is refused on its own line.
    bulk = c.post(
        "/v1/items/bulk",
        json=[registration(), {**registration(), "code": code}],
        headers=world.oem.headers,
    )
    assert bulk.status_code == 200, bulk.text
    result = bulk.json()["results"][1]
    assert (result["line"], result["ok"]) == (2, False)
    assert result["error"]["code"] == "invalid-code"
    assert result["error"]["pointer"] == "/code"  # inside the line
    assert result["error"]["position"] == position
    assert _size(world) == before + 1


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
    # Lines count from 1; each refusal points inside its line.
    assert [r["line"] for r in results] == list(range(1, len(lines) + 1))
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
    assert pointers[2] == "/code"
    assert pointers[4] == "/code"
    assert pointers[5] == "/colour"
    assert pointers[6].startswith("/attributes")
    assert pointers[7] == "/"
    assert pointers[8] == "/code"
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
            '{"kind": ]',
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
    # Numbered by their line in the text (the blank third line counts too).
    assert [(r["line"], r["ok"]) for r in results] == [
        (1, True),
        (2, False),
        (4, True),
        (5, False),
        (6, True),
    ]
    assert results[1]["error"]["pointer"] == "/"
    assert results[1]["error"]["code"] == "invalid-value"
    assert results[1]["error"]["detail"].startswith("line 2 is not JSON")
    assert results[3]["error"]["detail"].startswith("line 5 is not JSON")
    assert len(_log_entries(world, start)) == 3


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        pytest.param(
            b'{"kind": "pv_module", "code": "PV-1"}', "application/json", id="bulk-object"
        ),
        pytest.param(b"42", "application/json", id="bulk-number"),
        pytest.param(b"[{", "application/json", id="bulk-malformed"),
        pytest.param(b"[]", "application/json", id="bulk-empty-array"),
        pytest.param(b"", "application/json", id="bulk-empty-body"),
        pytest.param(b"\n\n \n", "application/x-ndjson", id="bulk-ndjson-blank-lines"),
    ],
)
def test_bulk_refuses_a_body_that_is_not_a_list(
    world: World, raw: bytes, content_type: str
) -> None:
    before = _size(world)
    answer = world.client.post(
        "/v1/items/bulk",
        content=raw,
        headers={**world.oem.headers, "content-type": content_type},
    )
    assert answer.status_code == 422, answer.text
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


@pytest.mark.parametrize(
    ("method", "url", "org", "kwargs"),
    [
        pytest.param("GET", "/v1/items/itm_%00", "oem", {}, id="items-get-id-nul"),
        pytest.param("GET", "/v1/items/%00/history", "oem", {}, id="items-history-id-nul"),
        pytest.param(
            "POST", "/v1/scan", "oem", {"json": {"payload": "PV\u0000"}}, id="scan-payload-nul"
        ),
        pytest.param(
            "POST",
            "/v1/orgs",
            "admin",
            {"json": {"name": "nul\u0000org", "role": "oem", "region": "CN"}},
            id="orgs-name-nul",
        ),
        pytest.param(
            "POST",
            "/v1/orgs",
            "admin",
            {"json": {"name": "ok", "role": "oem", "region": "C\u0000N"}},
            id="orgs-region-nul",
        ),
        pytest.param("POST", "/v1/orgs/org_%00/keys", "admin", {}, id="orgs-keys-org-id-nul"),
        pytest.param(
            "POST",
            "/v1/items",
            "oem",
            {"json": {**registration("battery_module"), "parent": "itm_\u0000"}},
            id="items-parent-nul",
        ),
        pytest.param(
            "POST",
            "/v1/items",
            "oem",
            {"json": {**registration("pv_module"), "code": "PV-\u0000"}},
            id="items-code-nul",
        ),
        pytest.param(
            "POST",
            "/v1/items/{item}/events",
            "oem",
            {"json": {"type": "transferred", "data": {"to_org": "org_\u0000"}}},
            id="events-transferred-to-org-nul",
        ),
        pytest.param(
            "POST",
            "/v1/items",
            "oem",
            _json(b'{"kind": "pv_module", "code": "PV-\\ud800"}'),
            id="items-code-lone-surrogate",
        ),
        pytest.param(
            "POST",
            "/v1/items",
            "oem",
            _json(b'{"kind": "pv_module", "code": "PV-7", "attributes": {"a": ["\\udfff"]}}'),
            id="items-attribute-list-lone-surrogate",
        ),
        pytest.param(
            "POST",
            "/v1/items/{item}/events",
            "oem",
            _json(b'{"type": "corrected", "data": {"seq": 0, "fields": {"code": "\\ud800"}}}'),
            id="events-corrected-code-lone-surrogate",
        ),
    ],
)
def test_nul_characters_and_lone_surrogates_are_refused_not_crashed(
    world: World, method: str, url: str, org: str, kwargs: dict[str, Any]
) -> None:
    """PostgreSQL text cannot hold U+0000 and UTF-8 cannot hold a lone surrogate: such
    input is a 4xx on both databases, and nothing is written. ({item} is a pack the OEM
    has just registered.)"""
    targets = {"item": register(world.client, world.oem)["id"]}
    before = _size(world)
    answer = _request(world, method, url, org, kwargs, targets)
    assert 400 <= answer.status_code < 500, f"{answer.status_code} {answer.text[:200]}"
    assert answer.headers["content-type"].startswith(PROBLEM), answer.headers
    assert _size(world) == before, "the log grew"


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
        "/code",
        "/code",
        "/attributes",
    ]
    assert _size(world) == before + 1
