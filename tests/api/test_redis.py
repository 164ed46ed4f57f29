"""Redis: every write is published to the ``retrace:entries`` stream; losing Redis loses no data.

The database is the source of truth. With Redis up, each committed entry is
added to the stream with its seq, hash and canonical body, and ``/readyz``
reports Redis. With Redis unreachable, writes still succeed and verify, and
``/readyz`` answers 200, ``degraded``, naming Redis.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from structlog.testing import capture_logs

from api.app import create_app
from api.bootstrap import prepare
from api.bus import STREAM, EntryBus
from api.settings import Settings
from tests.conftest import assert_ledger_sound
from tests.factories import make_world, register, registration, to_state

CLOSED_PORT = "redis://127.0.0.1:1/0"


def _client(settings: Settings, redis_url: str) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"redis_url": SecretStr(redis_url)})
    prepare(configured)
    app = create_app(configured)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
        assert_ledger_sound(app.state.ledger)


@pytest.fixture
def with_redis(settings: Settings, redis_url: str) -> Iterator[TestClient]:
    yield from _client(settings, redis_url)


@pytest.fixture
def without_redis(settings: Settings) -> Iterator[TestClient]:
    yield from _client(settings, CLOSED_PORT)


def bus(client: TestClient) -> EntryBus:
    app = client.app
    assert isinstance(app, FastAPI)
    found = app.state.bus
    assert isinstance(found, EntryBus)
    return found


def _entries(client: TestClient, regulator: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    start: int | None = 0
    while start is not None:
        page = client.get(
            "/v1/log/entries", params={"start": start, "limit": 1000}, headers=regulator.headers
        ).json()
        out += page["entries"]
        start = page["next"]
    return out


def _stream(redis_url: str) -> dict[int, dict[str, str]]:
    """The stream's messages by seq (fields decoded)."""
    r = redis.Redis.from_url(redis_url)
    try:
        messages = r.xrange(STREAM)
    finally:
        r.close()
    assert messages is not None
    out: dict[int, dict[str, str]] = {}
    for _, fields in messages:
        assert fields is not None
        decoded = {_text(k): _text(v) for k, v in fields.items()}
        out[int(decoded["seq"])] = decoded
    return out


def _text(value: bytes | str) -> str:
    """A field name or value as text (the client returns bytes, not decoding responses)."""
    return value.decode() if isinstance(value, bytes) else value


def test_every_write_is_published_with_its_seq_and_hash(
    with_redis: TestClient, redis_url: str
) -> None:
    c = with_redis
    _, orgs = make_world(c)
    # The bootstrap admin was written by `prepare`, before this app ran: not published.
    first = min(_stream(redis_url))
    item = register(c, orgs["oem"])
    to_state(c, orgs["oem"], orgs["recycler"], item["id"], "dismantled")
    bulk = c.post(
        "/v1/items/bulk",
        json=[registration(), registration("pv_module")],
        headers=orgs["oem"].headers,
    )
    assert bulk.json()["accepted"] == 2
    log = [e for e in _entries(c, orgs["regulator"]) if e["seq"] >= first]
    stream = _stream(redis_url)
    assert len(log) >= 20
    assert log[0]["type"] == "org_created"
    assert sorted(stream) == [e["seq"] for e in log]
    for entry in log:
        published = stream.get(entry["seq"])
        assert published is not None, f"entry {entry['seq']} ({entry['type']}) not published"
        assert published["hash"] == entry["hash"]
        assert published["type"] == entry["type"]
        assert published["item"] == (entry["item"] or "")
        leaf = hashlib.sha256(b"\x00" + published["body"].encode()).hexdigest()
        assert leaf == entry["hash"]


def test_readyz_reports_redis(with_redis: TestClient) -> None:
    answer = with_redis.get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_without_redis_writes_succeed_and_readyz_names_redis(without_redis: TestClient) -> None:
    c = without_redis
    with capture_logs() as events:
        _, orgs = make_world(c)
        item = register(c, orgs["oem"])
        to_state(c, orgs["oem"], orgs["recycler"], item["id"], "collected")
        bus(c).flush(1.0)  # the bus's thread has tried (and failed) by now
    log = _entries(c, orgs["regulator"])
    assert [e["type"] for e in log if e["item"] == item["id"]] == [
        "registered",
        "retired",
        "transferred",
        "collected",
    ]
    verify = c.get("/v1/log/verify", headers=orgs["regulator"].headers).json()
    assert verify["ok"] is True
    assert verify["size"] == len(log)
    failed = [e for e in events if e["event"] == "bus.publish_failed"]
    assert len(failed) == 1, "an outage is logged once, not once a write"
    assert failed[0]["log_level"] == "warning"
    # Redis only speeds things up: without it the service is degraded, not down.
    ready = c.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["redis"].startswith("unreachable")
    # Liveness does not depend on Redis.
    assert c.get("/healthz").status_code == 200
