"""An unexpected error: one log line, a problem+json 500 with the request id.

The error is a real one: an item row whose attributes are not JSON (a store
failure nothing maps to a ledger error). The log line names the exception type,
the request id and the route, and nothing of the request: no key, no body, no
traceback, no local variable. The error ends at the handler, so the server
below it logs no traceback of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from tests.conftest import World
from tests.factories import register

PROBLEM = "application/problem+json"


@contextmanager
def unreadable_item(world: World, item_id: str) -> Iterator[None]:
    """The item's attributes column holds text that is not JSON, for the block."""
    engine = world.app.state.ledger.store.engine
    with engine.begin() as conn:
        kept = conn.execute(
            sa.text("SELECT attributes FROM items WHERE id = :id"), {"id": item_id}
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE items SET attributes = :a WHERE id = :id"),
            {"a": "{not json", "id": item_id},
        )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE items SET attributes = :a WHERE id = :id"),
                {"a": kept, "id": item_id},
            )


def test_an_unexpected_error_logs_one_line_without_the_request(world: World) -> None:
    item = register(world.client, world.oem)
    headers = {**world.oem.headers, "X-Request-Id": "crash-1"}
    with unreadable_item(world, item["id"]), capture_logs() as events:
        answer = world.client.get(f"/v1/items/{item['id']}", headers=headers)

    assert answer.status_code == 500
    assert answer.headers["content-type"] == PROBLEM
    assert answer.headers["x-request-id"] == "crash-1"
    body = answer.json()
    assert body["code"] == "internal"
    assert body["request_id"] == "crash-1"
    assert body["instance"] == f"/v1/items/{item['id']}"

    failures = [e for e in events if e["log_level"] in {"error", "critical", "exception"}]
    assert failures == [
        {
            "event": "request.crashed",
            "log_level": "error",
            "error": "JSONDecodeError",
            "request_id": "crash-1",
            "method": "GET",
            "route": "/v1/items/{item_id}",
        }
    ]
    logged = repr(events)
    assert world.oem.key not in logged
    assert "Traceback" not in logged


def test_the_error_ends_at_the_handler(world: World) -> None:
    """Nothing is raised to the server (uvicorn would log a traceback of its own)."""
    item = register(world.client, world.oem)
    raising = TestClient(world.app, raise_server_exceptions=True)
    with unreadable_item(world, item["id"]):
        answer = raising.get(f"/v1/items/{item['id']}", headers=world.oem.headers)
    assert answer.status_code == 500
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["request_id"] == answer.headers["x-request-id"]
    # The service goes on answering.
    fine = world.client.get(f"/v1/items/{item['id']}", headers=world.oem.headers)
    assert fine.status_code == 200
