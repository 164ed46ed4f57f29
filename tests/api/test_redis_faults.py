"""Redis that hangs or goes away: writes never wait for it, and the stream catches up.

Between the app and the real Redis sits a TCP relay the test controls. As a black
hole it accepts connections and never answers (what a hung Redis or a dropped
network looks like); as a relay it forwards to Redis. Writes made while it is a
black hole answer at once, ``/readyz`` says ``degraded``, and once it relays
again every entry committed meanwhile reaches the stream, read back from the
database.
"""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.bootstrap import prepare
from api.settings import Settings
from tests.api.test_redis import _entries, _stream, bus
from tests.conftest import assert_ledger_sound
from tests.factories import make_world, register
from tests.relay import Relay


def test_a_hung_redis_never_holds_a_write_and_the_stream_catches_up(
    settings: Settings, redis_url: str, relay: Relay
) -> None:
    db = redis_url.rsplit("/", 1)[1]
    configured = settings.model_copy(
        update={"redis_url": SecretStr(f"redis://127.0.0.1:{relay.port}/{db}")}
    )
    prepare(configured)
    app = create_app(configured)
    with TestClient(app, raise_server_exceptions=False) as c:
        _, orgs = make_world(c)
        slowest = 0.0
        for _ in range(10):
            started = time.monotonic()
            register(c, orgs["oem"])
            slowest = max(slowest, time.monotonic() - started)
        # The bus's socket timeout is 0.5 s and the cache's 0.1 s: a write that waited
        # for the black hole would take at least that; none did after the first.
        assert slowest < 2.0
        ready = c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        waiting = bus(c).backlog()
        assert waiting > 10, "entries wait for Redis"
        assert _stream(redis_url) == {}

        relay.relay()
        assert bus(c).flush(10.0), f"{bus(c).backlog()} entries never reached the stream"
        log = _entries(c, orgs["regulator"])
        stream = _stream(redis_url)
        published = {e["seq"]: e["hash"] for e in log if e["seq"] in stream}
        assert len(published) >= waiting
        assert all(stream[seq]["hash"] == h for seq, h in published.items())
        # Every entry this app committed is there: all of the log but what
        # `prepare` wrote before the app ran.
        assert sorted(stream) == [e["seq"] for e in log if e["seq"] >= min(stream)]
        assert c.get("/readyz").json()["status"] == "ok"
        assert_ledger_sound(app.state.ledger)
