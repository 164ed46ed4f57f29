"""Rate limits per API key (by role) and per client address: 429 with ``Retry-After``.

Counts live in the process without Redis and in Redis with it, where every app
over the same Redis shares them. A hung Redis never holds a request: the
process counts alone for a while.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from limits.aio.storage import RedisStorage
from pydantic import SecretStr, ValidationError

from api.app import create_app
from api.bootstrap import prepare
from api.ratelimit import SLACK, SYNC_SECONDS, SharedCounts, parse_limits
from api.settings import Settings
from tests.factories import make_world, registration
from tests.relay import Relay


def app_client(settings: Settings, **update: Any) -> Iterator[TestClient]:
    configured = settings.model_copy(update=update)
    prepare(configured)
    with TestClient(create_app(configured), raise_server_exceptions=False) as client:
        yield client


def assert_limited(answer: Any, limit: str) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["code"] == "rate-limited"
    assert limit in body["detail"]
    retry = int(answer.headers["Retry-After"])
    assert 1 <= retry <= 60
    assert body["retry_after"] == retry


def test_a_key_over_its_roles_limit_is_refused_and_other_keys_go_on(settings: Settings) -> None:
    for c in app_client(settings, rate_limit="1000/minute", rate_limit_oem="3/minute"):
        _, orgs = make_world(c)
        oem, recycler = orgs["oem"], orgs["recycler"]
        answers = [c.post("/v1/items", json=registration(), headers=oem.headers) for _ in range(4)]
        assert [a.status_code for a in answers[:3]] == [201, 201, 201]
        assert_limited(answers[3], "3 per 1 minute")
        # Another key (another role, its limit the default) is not held by it.
        assert c.get("/v1/orgs", headers=recycler.headers).status_code == 200
        # Reads count against the same key's limit.
        assert_limited(c.get("/v1/orgs", headers=oem.headers), "3 per 1 minute")


def test_an_address_over_the_limit_is_refused_before_anything_else(settings: Settings) -> None:
    for c in app_client(settings, rate_limit="4/minute"):
        answers = [c.get("/v1/log/checkpoint") for _ in range(5)]
        assert [a.status_code for a in answers[:4]] == [200] * 4
        assert_limited(answers[4], "4 per 1 minute")
        # Probes and scrapes are not counted: a flood does not make the service look dead.
        assert all(c.get("/healthz").status_code == 200 for _ in range(10))
        # The refusal carries the security headers and a request id like any answer.
        assert answers[4].headers["X-Content-Type-Options"] == "nosniff"
        assert answers[4].headers["X-Request-Id"]


def test_apps_over_one_redis_share_the_counts(settings: Settings, redis_url: str) -> None:
    update = {"rate_limit": "1000/minute", "rate_limit_oem": "4/minute"}
    shared = {"redis_url": SecretStr(redis_url), **update}
    for first in app_client(settings, **shared):
        _, orgs = make_world(first)
        oem = orgs["oem"]
        for second in app_client(settings, **shared):
            statuses = []
            for n in range(5):
                c = first if n % 2 == 0 else second
                statuses.append(c.get("/v1/orgs", headers=oem.headers).status_code)
            assert statuses == [200, 200, 200, 200, 429]


def test_a_hung_redis_holds_no_request_and_limits_still_hold(
    settings: Settings, redis_url: str, relay: Relay
) -> None:
    db = redis_url.rsplit("/", 1)[1]
    hung = SecretStr(f"redis://127.0.0.1:{relay.port}/{db}")
    for c in app_client(
        settings, redis_url=hung, rate_limit="1000/minute", rate_limit_oem="3/minute"
    ):
        _, orgs = make_world(c)
        started = time.monotonic()
        statuses = [c.get("/v1/orgs", headers=orgs["oem"].headers).status_code for _ in range(4)]
        assert time.monotonic() - started < 3.0
        assert statuses == [200, 200, 200, 429]


@pytest.mark.parametrize("value", ["fast", "100/fortnight", "per second"])
def test_a_rate_limit_not_in_the_limits_notation_is_refused(settings: Settings, value: str) -> None:
    with pytest.raises(ValidationError, match="rate_limit"):
        Settings(**{**settings.model_dump(), "rate_limit": value, "_env_file": None})


def shared_counts(redis_url: str, prefix: str) -> SharedCounts:
    url = redis_url.replace("redis://", "async+redis://", 1)
    return SharedCounts(RedisStorage(url, implementation="redispy", key_prefix=prefix))


async def closed(*counts: SharedCounts) -> None:
    for c in counts:
        await c.storage.bridge.storage.aclose()  # type: ignore[attr-defined]


def test_a_process_tells_redis_its_hits_in_batches(redis_url: str) -> None:
    asyncio.run(_a_process_tells_redis_its_hits_in_batches(redis_url))


async def _a_process_tells_redis_its_hits_in_batches(redis_url: str) -> None:
    prefix = f"retrace:test:{uuid.uuid4().hex}"
    counts, item = shared_counts(redis_url, prefix), parse_limits("1000/minute")[0]
    key = item.key_for("key", "k1")
    hits = [await counts.hit(item, "key", "k1") for _ in range(30)]
    assert hits == [True] * 30
    # The first hit is told at once; the next ones wait for the batch.
    assert await counts.storage.get(key) == 1
    await asyncio.sleep(SYNC_SECONDS * 2)
    assert await counts.hit(item, "key", "k1")
    assert await counts.storage.get(key) == 31
    await closed(counts)


def test_a_limit_holds_across_processes_within_their_slack(redis_url: str) -> None:
    asyncio.run(_a_limit_holds_across_processes_within_their_slack(redis_url))


async def _a_limit_holds_across_processes_within_their_slack(redis_url: str) -> None:
    prefix = f"retrace:test:{uuid.uuid4().hex}"
    first, second = shared_counts(redis_url, prefix), shared_counts(redis_url, prefix)
    item = parse_limits("100/minute")[0]
    allowed = 0
    for n in range(400):
        allowed += await (first if n % 2 else second).hit(item, "address", "10.0.0.1")
    assert 100 <= allowed <= 100 + 2 * int(100 * SLACK)
    # Once over, every process refuses, whatever it counted itself.
    assert not await first.hit(item, "address", "10.0.0.1")
    assert not await second.hit(item, "address", "10.0.0.1")
    await closed(first, second)


def test_a_limit_under_one_hit_of_slack_is_counted_exactly(redis_url: str) -> None:
    asyncio.run(_a_limit_under_one_hit_of_slack_is_counted_exactly(redis_url))


async def _a_limit_under_one_hit_of_slack_is_counted_exactly(redis_url: str) -> None:
    prefix = f"retrace:test:{uuid.uuid4().hex}"
    first, second = shared_counts(redis_url, prefix), shared_counts(redis_url, prefix)
    item = parse_limits("7/minute")[0]
    hits = [await (first if n % 3 else second).hit(item, "key", "k2") for n in range(10)]
    assert hits == [True] * 7 + [False] * 3
    assert await first.storage.get(item.key_for("key", "k2")) == 10
    await closed(first, second)
