"""Idempotency-Key binds the meaning of a JSON body, not its bytes.

The same JSON with other spacing or key order is a retry (the first answer,
``Idempotent-Replayed: true``); a body that means something else is refused.
A JSON Lines body is compared line by line, in order.
"""

from __future__ import annotations

import json
from typing import Any

from ledger.idempotency import fingerprint
from tests.conftest import World
from tests.factories import Org, registration

REPLAYED = "Idempotent-Replayed"
NDJSON = {"content-type": "application/x-ndjson"}
JSON_BODY = {"content-type": "application/json"}


def _post(world: World, org: Org, path: str, key: str, body: bytes, kind: dict[str, str]) -> Any:
    headers = {**org.headers, **kind, "Idempotency-Key": key}
    return world.client.post(path, content=body, headers=headers)


def _size(world: World) -> int:
    answer = world.client.get(
        "/v1/log/entries", params={"limit": 1}, headers=world.regulator.headers
    )
    return int(answer.json()["size"])


def _spaced(value: Any) -> bytes:
    """The same JSON, keys reversed and spread over lines."""

    def reverse(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: reverse(node[k]) for k in reversed(list(node))}
        if isinstance(node, list):
            return [reverse(v) for v in node]
        return node

    return json.dumps(reverse(value), indent=3, ensure_ascii=False).encode()


def test_the_same_json_spelt_otherwise_is_a_retry(world: World) -> None:
    body = registration(attributes={"mass_kg": "412.5", "chemistry": "LFP", "note": "Zürich"})
    tight = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    before = _size(world)
    first = _post(world, world.oem, "/v1/items", "canon-1", tight, JSON_BODY)
    assert first.status_code == 201, first.text
    again = _post(world, world.oem, "/v1/items", "canon-1", _spaced(body), JSON_BODY)
    assert again.status_code == 201, again.text
    assert again.headers[REPLAYED] == "true"
    assert again.content == first.content
    # Escapes that spell the same characters are the same JSON too.
    escaped = tight.replace("ü".encode(), b"\\u00fc")
    assert escaped != tight
    third = _post(world, world.oem, "/v1/items", "canon-1", escaped, JSON_BODY)
    assert third.headers[REPLAYED] == "true"
    assert _size(world) == before + 1


def test_a_body_that_means_something_else_is_still_refused(world: World) -> None:
    body = registration()
    first = _post(world, world.oem, "/v1/items", "canon-2", json.dumps(body).encode(), JSON_BODY)
    assert first.status_code == 201, first.text
    before = _size(world)
    for label, other in [
        ("another value", {**body, "attributes": {**body["attributes"], "mass_kg": "412.6"}}),
        ("a field more", {**body, "origin": None}),
        ("a number for a string", {**body, "attributes": {"mass_kg": 412, "chemistry": "LFP"}}),
    ]:
        answer = _post(world, world.oem, "/v1/items", "canon-2", _spaced(other), JSON_BODY)
        assert answer.status_code == 422, (label, answer.text)
        assert answer.json()["code"] == "idempotency-key-reused", label
        assert REPLAYED not in answer.headers
    assert _size(world) == before


def test_json_lines_are_compared_line_by_line_in_order(world: World) -> None:
    lines = [registration("wind_blade"), registration("pv_module"), registration("wind_blade")]
    tight = "\n".join(json.dumps(line, separators=(",", ":")) for line in lines).encode()
    loose = "\n".join(json.dumps(dict(reversed(line.items())), indent=None) for line in lines)
    before = _size(world)
    first = _post(world, world.oem, "/v1/items/bulk", "lines-1", tight, NDJSON)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 3
    again = _post(world, world.oem, "/v1/items/bulk", "lines-1", loose.encode() + b"\n", NDJSON)
    assert again.headers[REPLAYED] == "true", again.text
    assert again.content == first.content
    assert _size(world) == before + 3

    refused = [
        ("lines in another order", "\n".join(loose.splitlines()[::-1])),
        ("a line fewer", "\n".join(loose.splitlines()[:2])),
        # Line numbers in the answer count blank lines: a blank line is a change.
        ("a blank line between", loose.replace("\n", "\n\n", 1)),
    ]
    for label, text in refused:
        answer = _post(world, world.oem, "/v1/items/bulk", "lines-1", text.encode(), NDJSON)
        assert answer.status_code == 422, (label, answer.text)
        assert answer.json()["code"] == "idempotency-key-reused", label
    assert _size(world) == before + 3


def test_a_json_array_in_other_spacing_is_a_retry(world: World) -> None:
    lines = [registration(), registration("pv_module")]
    first = _post(
        world, world.oem, "/v1/items/bulk", "array-1", json.dumps(lines).encode(), JSON_BODY
    )
    assert first.status_code == 200, first.text
    again = _post(world, world.oem, "/v1/items/bulk", "array-1", _spaced(lines), JSON_BODY)
    assert again.headers[REPLAYED] == "true"
    assert again.content == first.content
    # The same lines sent as JSON Lines are another request (another form of body).
    as_lines = "\n".join(json.dumps(line) for line in lines).encode()
    other = _post(world, world.oem, "/v1/items/bulk", "array-1", as_lines, NDJSON)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency-key-reused"


def test_bodies_that_cannot_be_canonical_count_by_their_bytes() -> None:
    one = fingerprint("POST", "/v1/items", b'{"mass_kg": 1.5}')
    assert one == fingerprint("POST", "/v1/items", b'{"mass_kg": 1.5}')
    assert one != fingerprint("POST", "/v1/items", b'{"mass_kg":1.5}')  # a float: bytes
    for body in (
        b"",
        b"{not json",
        b"\xff\xfe",
        b"[" * 5000 + b"]" * 5000,
        b'{"n": 123456789012345678901234567890}',
        b'{"s": "\\ud800"}',
    ):
        assert fingerprint("POST", "/v1/items", body) == fingerprint("POST", "/v1/items", body)
        assert fingerprint("POST", "/v1/items", body, lines=True) != fingerprint(
            "POST", "/v1/other", body, lines=True
        )
    # The method and the path are part of it; so is the form of the body.
    body = b'{"a": 1}'
    assert (
        len(
            {
                fingerprint("POST", "/v1/items", body),
                fingerprint("PUT", "/v1/items", body),
                fingerprint("POST", "/v1/items/bulk", body),
                fingerprint("POST", "/v1/items", body, lines=True),
            }
        )
        == 4
    )
