"""The read-through cache of scans, item views and passports, and the API key cache.

With Redis, a second read is served from Redis and reads no item from the
database; a write, by any org, is seen by the very next read (the writer
replaces the tokens of what it changed before it is answered), a parent shows
a child registered after it was cached, a scanned code that a new item shares
turns ambiguous, and a passport follows new checkpoints. A revoked key is
refused at once by the process that revoked it and within a second by any
other. Without Redis, or with a hung one, every read answers from the database.

These tests use Redis database 14 and flush nothing: every app names its keys
after its own log key, so tests running side by side never share a value.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy import event as sa_event

from api.app import create_app
from api.bootstrap import prepare
from api.cache import KEY_SECONDS, PAUSE_SECONDS, RedisCache
from api.settings import Settings
from tests.conftest import REDIS_URL, World, assert_ledger_sound, unavailable
from tests.factories import Org, event, event_data, make_world, register, registration

JSON = {"Accept": "application/json"}
CACHE_REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/14"
CLOSED_PORT = "redis://127.0.0.1:1/0"


def reachable_cache_url() -> str:
    """Redis database 14, or a skip (a failure in CI) naming why not."""
    client = redis.Redis.from_url(CACHE_REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError:
        unavailable(f"Redis is not reachable at {CACHE_REDIS_URL}")
    finally:
        client.close()
    return CACHE_REDIS_URL


@pytest.fixture
def cache_url() -> str:
    return reachable_cache_url()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No periodic checkpoint in the middle of a test: each publishes one when it wants.
    return settings.model_copy(update={"checkpoint_interval": 3600.0})


def with_redis(settings: Settings, url: str) -> Settings:
    return settings.model_copy(update={"redis_url": SecretStr(url)})


@contextmanager
def app_client(settings: Settings) -> Iterator[TestClient]:
    prepare(settings)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
        assert_ledger_sound(app.state.ledger)


@pytest.fixture
def cached(settings: Settings, cache_url: str) -> Iterator[World]:
    with app_client(with_redis(settings, cache_url)) as client:
        admin, orgs = make_world(client)
        yield World(client, admin, orgs)


def lookups(cache: str, result: str) -> float:
    return (
        REGISTRY.get_sample_value("retrace_cache_lookups_total", {"cache": cache, "result": result})
        or 0.0
    )


@contextmanager
def selects(app: FastAPI) -> Iterator[list[str]]:
    """Every SELECT the app sends to the database inside the block."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement = str(args[2])
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engine = app.state.ledger.store.engine
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)


def of_items(seen: list[str]) -> list[str]:
    """The statements that read items or entries (not the key, not the checkpoint)."""
    return [s for s in seen if "FROM items" in s or "FROM entries" in s]


def scan(world: World, payload: str, org: Org) -> dict[str, Any]:
    answer = world.client.post("/v1/scan", json={"payload": payload}, headers=org.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def get_item(world: World, item_id: str, org: Org) -> dict[str, Any]:
    answer = world.client.get(f"/v1/items/{item_id}", headers=org.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def passport(world: World, item_id: str, org: Org) -> dict[str, Any]:
    answer = world.client.get(f"/p/{item_id}", headers={**JSON, **org.headers})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


# -- hits ----------------------------------------------------------------------


def test_a_second_read_is_a_hit_and_reads_no_item(cached: World) -> None:
    w = cached
    pack = register(w.client, w.oem)
    first = get_item(w, pack["id"], w.recycler)
    cache = w.app.state.reads.cache
    stored = redis.Redis.from_url(CACHE_REDIS_URL)
    try:
        assert stored.exists(cache.key("item", pack["id"]))
    finally:
        stored.close()
    hits = lookups("item", "hit")
    with selects(w.app) as seen:
        again = get_item(w, pack["id"], w.recycler)
    assert again == first
    assert lookups("item", "hit") == hits + 1
    assert of_items(seen) == []


def test_a_scan_by_code_is_served_from_the_cache_once_read(cached: World) -> None:
    w = cached
    panel = register(w.client, w.oem, registration("pv_module"))
    first = scan(w, panel["code"].lower(), w.recycler)  # the code's item id is cached
    scan(w, panel["code"].lower(), w.recycler)  # ... and then the item
    scans, items = lookups("scan", "hit"), lookups("item", "hit")
    with selects(w.app) as seen:
        again = scan(w, panel["code"].lower(), w.recycler)
    assert again == first
    assert (lookups("scan", "hit"), lookups("item", "hit")) == (scans + 1, items + 1)
    assert of_items(seen) == []
    # What the caller may do is the caller's own, never another's cached answer.
    assert scan(w, panel["code"], w.oem)["allowed_events"] == [
        "installed",
        "retired",
        "transferred",
    ]
    assert scan(w, panel["code"], w.recycler)["allowed_events"] == []


def test_a_passport_is_served_from_the_cache_at_each_readers_tier(cached: World) -> None:
    w = cached
    pack = register(w.client, w.oem)
    passport(w, pack["id"], w.regulator)
    hits = lookups("passport", "hit")
    with selects(w.app) as seen:
        regulator = passport(w, pack["id"], w.regulator)
        interested = passport(w, pack["id"], w.oem)
    assert lookups("passport", "hit") == hits + 2
    assert of_items(seen) == []
    assert (regulator["access"], interested["access"]) == ("regulator", "interested")
    assert regulator["item"]["head"] == pack["head"]
    assert "head" not in interested["item"]
    assert w.client.get(f"/p/{pack['id']}").text.count(pack["code"]) >= 1  # HTML, public


# -- invalidation ----------------------------------------------------------------


def test_a_write_by_another_org_is_seen_by_the_next_read(cached: World) -> None:
    w = cached
    pack = register(w.client, w.oem)
    for _ in range(3):  # cached: the code's id, the item, the passport
        before = scan(w, pack["code"], w.recycler)
        get_item(w, pack["id"], w.recycler)
        passport(w, pack["id"], w.recycler)
    assert before["holder"]["id"] == w.oem.id
    assert before["allowed_events"] == []
    event(w.client, w.oem, pack["id"], "retired", event_data("retired"))
    event(
        w.client, w.oem, pack["id"], "transferred", event_data("transferred", to_org=w.recycler.id)
    )
    after = scan(w, pack["code"], w.recycler)
    assert after["item"]["state"] == "retired"
    assert after["holder"]["id"] == w.recycler.id
    assert "collected" in after["allowed_events"]
    assert get_item(w, pack["id"], w.oem)["holder"] == w.recycler.id
    page = passport(w, pack["id"], w.recycler)
    assert [e["type"] for e in page["timeline"]] == ["registered", "retired", "transferred"]
    assert page["item"]["holder"]["name"] == "recycler org"


def test_a_parent_shows_a_child_registered_after_it_was_cached(cached: World) -> None:
    w = cached
    pack = register(w.client, w.oem)
    for _ in range(2):
        assert get_item(w, pack["id"], w.oem)["children"] == []
        assert passport(w, pack["id"], w.oem)["item"]["children"] == []
    module = register(w.client, w.oem, registration("battery_module", parent=pack["id"]))
    assert get_item(w, pack["id"], w.oem)["children"] == [module["id"]]
    assert scan(w, pack["id"], w.oem)["item"]["children"] == [module["id"]]
    links = passport(w, pack["id"], w.oem)["item"]["children"]
    assert [(c["id"], c["state"]) for c in links] == [(module["id"], "registered")]
    # The passport shows its links' states: the child's own write refreshes them.
    event(w.client, w.oem, module["id"], "retired", event_data("retired"))
    links = passport(w, pack["id"], w.oem)["item"]["children"]
    assert [(c["id"], c["state"]) for c in links] == [(module["id"], "retired")]
    event(w.client, w.oem, pack["id"], "installed", event_data("installed"))
    assert passport(w, module["id"], w.oem)["item"]["parent"]["state"] == "in_service"


def test_a_cached_code_turns_ambiguous_when_a_new_item_shares_it(cached: World) -> None:
    w = cached
    panel = register(w.client, w.oem, registration("pv_module", code="CACHE-SHARED-0001"))
    for _ in range(3):
        assert scan(w, "cache-shared-0001", w.oem)["item"]["id"] == panel["id"]
    register(w.client, w.oem, registration("wind_blade", code="CACHE-SHARED-0001"))
    answer = w.client.post("/v1/scan", json={"payload": "cache-shared-0001"}, headers=w.oem.headers)
    assert answer.status_code == 409, answer.text
    assert answer.json()["code"] == "ambiguous-scan"


def test_a_cached_code_follows_a_new_item_it_names_exactly(cached: World) -> None:
    w = cached
    upper = register(w.client, w.oem, registration("pv_module", code="CACHE-CASE-0001"))
    for _ in range(3):  # typed in lowercase, it names the uppercase serial
        assert scan(w, "cache-case-0001", w.oem)["item"]["id"] == upper["id"]
    lower = register(w.client, w.oem, registration("pv_module", code="cache-case-0001"))
    for _ in range(3):  # ... until a serial matches it as typed
        assert scan(w, "cache-case-0001", w.oem)["item"]["id"] == lower["id"]
    assert scan(w, "CACHE-CASE-0001", w.oem)["item"]["id"] == upper["id"]


def _publish(w: World) -> str:
    answer = w.client.post("/v1/log/checkpoint", headers=w.regulator.headers)
    assert answer.status_code == 200, answer.text
    return answer.text


def test_a_passport_follows_a_new_checkpoint(cached: World) -> None:
    w = cached
    pack = register(w.client, w.oem)
    first = _publish(w)
    register(w.client, w.oem)  # the log grows; nothing about the pack changes
    for _ in range(2):
        seen = passport(w, pack["id"], w.regulator)["verification"]["checkpoint"]
    assert seen["note"] == first
    second = _publish(w)  # a new checkpoint, signed apart from any commit
    assert second != first
    seen = passport(w, pack["id"], w.regulator)["verification"]["checkpoint"]
    assert seen["note"] == second
    assert seen["size"] == int(second.splitlines()[1])


# -- API keys --------------------------------------------------------------------


def test_a_revoked_key_is_refused_at_once_here_and_within_a_second_elsewhere(
    settings: Settings, cache_url: str
) -> None:
    configured = with_redis(settings, cache_url)
    with app_client(configured) as here, app_client(configured) as elsewhere:
        admin, orgs = make_world(here)
        org = orgs["recycler"]
        issued = here.post(f"/v1/orgs/{org.id}/keys", headers=admin.headers).json()
        second = {"Authorization": f"Bearer {issued['api_key']}"}
        for client in (here, elsewhere):  # each process remembers the key
            assert client.get("/v1/orgs/me", headers=second).status_code == 200
        revoke = here.post(f"/v1/keys/{issued['key_id']}/revoke", headers=admin.headers)
        assert revoke.status_code == 200, revoke.text
        revoked_at = time.monotonic()
        assert here.get("/v1/orgs/me", headers=second).status_code == 401
        # Elsewhere the key may pass only while it is remembered: no request sent a
        # second after the revocation was answered is let through.
        while True:
            sent = time.monotonic()
            status = elsewhere.get("/v1/orgs/me", headers=second).status_code
            if status == 401:
                break
            assert status == 200
            assert sent < revoked_at + KEY_SECONDS, "a revoked key was accepted after a second"
            time.sleep(0.01)
        assert elsewhere.get("/v1/orgs/me", headers=org.headers).status_code == 200


# -- Redis lost or hung ----------------------------------------------------------


def _reads_answer(w: World) -> None:
    pack = register(w.client, w.oem)
    for _ in range(2):
        assert get_item(w, pack["id"], w.oem)["state"] == "registered"
        assert scan(w, pack["code"], w.oem)["item"]["id"] == pack["id"]
        assert scan(w, f"http://retrace.test/p/{pack['id']}", w.oem)["via"] == "label"
        assert passport(w, pack["id"], w.regulator)["item"]["id"] == pack["id"]
        assert w.client.get(f"/p/{pack['id']}").status_code == 200
    event(w.client, w.oem, pack["id"], "installed", event_data("installed"))
    assert get_item(w, pack["id"], w.oem)["state"] == "in_service"
    assert scan(w, pack["code"], w.oem)["item"]["state"] == "in_service"


def test_with_redis_down_reads_answer_from_the_database(settings: Settings) -> None:
    with app_client(with_redis(settings, CLOSED_PORT)) as client:
        admin, orgs = make_world(client)
        _reads_answer(World(client, admin, orgs))


@pytest.fixture
def hung_redis() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def test_a_hung_redis_does_not_stall_reads(settings: Settings, hung_redis: str) -> None:
    # The world is made without Redis: a write publishes to the stream (api.bus),
    # which waits longer on a hung Redis; reads are what this is about.
    with app_client(settings) as plain:
        admin, orgs = make_world(plain)
        pack = register(plain, orgs["oem"])
    with app_client(with_redis(settings, hung_redis)) as client:
        w = World(client, admin, orgs)
        started = time.monotonic()
        for _ in range(20):
            assert get_item(w, pack["id"], w.oem)["id"] == pack["id"]
            assert scan(w, pack["code"], w.recycler)["item"]["id"] == pack["id"]
            assert passport(w, pack["id"], w.oem)["item"]["id"] == pack["id"]
        # 60 reads; a stalled one would wait seconds, a timed-out one 0.1 s and
        # then the cache is left alone for a second.
        assert time.monotonic() - started < 10.0


# -- tokens, with Redis itself ------------------------------------------------------


def test_a_value_read_before_a_write_is_never_served_after_it(cache_url: str) -> None:
    cache = RedisCache(cache_url, f"test ledger {uuid.uuid4()}")
    key, version = cache.key("item", "itm_A"), cache.item_version("itm_A")

    async def run() -> None:
        before = await cache.get(key, [version])  # a reader's tokens, before its database read
        assert before is not None
        assert before.value is None
        cache.invalidate([version])  # a writer commits, then replaces the token
        await cache.put(key, before.tag, b"read before the write")  # the reader stores late
        after = await cache.get(key, [version])
        assert after is not None
        assert after.value is None
        await cache.put(key, after.tag, b"read after the write")
        now = await cache.get(key, [version])
        assert now is not None
        assert now.value == b"read after the write"
        # A token that is lost (evicted, expired) is made anew, never matched.
        cache.redis.delete(version)
        lost = await cache.get(key, [version])
        assert lost is not None
        assert lost.value is None
        await cache.close()

    asyncio.run(run())


class Outage:
    """A TCP relay to Redis that can be cut: the network between one process and Redis."""

    def __init__(self, upstream: str) -> None:
        host_port = upstream.split("//", 1)[1].split("/", 1)[0]
        self.upstream = (host_port.split(":")[0], int(host_port.split(":")[1]))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/14"
        self.up = True
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(self.upstream)
            self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            s.close()

    def cut(self) -> None:
        self.up = False
        for s in self.open:
            s.close()
        self.open.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


def test_a_lost_invalidation_drops_every_value_before_the_cache_is_read_again(
    cache_url: str,
) -> None:
    ledger = f"test ledger {uuid.uuid4()}"
    outage = Outage(cache_url)
    writer, reader = RedisCache(outage.url, ledger), RedisCache(cache_url, ledger)
    key, version = reader.key("item", "itm_A"), reader.item_version("itm_A")

    async def run() -> None:
        got = await reader.get(key, [version])
        assert got is not None
        await reader.put(key, got.tag, b"before")
        assert await writer.get(key, [version]) == await reader.get(key, [version])
        writer.invalidate([version])  # reaches Redis: makes the writer's own connection
        outage.cut()
        writer.invalidate([version])  # lost: Redis is out of the writer's reach
        outage.up = True
        got = await reader.get(key, [version])
        assert got is not None
        await reader.put(key, got.tag, b"missed by the lost invalidation")
        # The writer's process reads nothing from the cache until it has replaced the
        # epoch (after its pause), and then the value the lost invalidation missed is gone.
        deadline = time.monotonic() + PAUSE_SECONDS + 5
        while (again := await writer.get(key, [version])) is None:
            assert time.monotonic() < deadline, "the cache stayed unusable"
            await asyncio.sleep(0.05)
        assert again.value is None
        after = await reader.get(key, [version])
        assert after is not None
        assert after.value is None
        await writer.close()
        await reader.close()

    try:
        asyncio.run(run())
    finally:
        outage.close()
