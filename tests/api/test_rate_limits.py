"""Rate limits per API key (by role) and per client address: 429 with ``Retry-After``.

Counts live in the process without Redis and in Redis with it, where every app
over the same Redis shares them. A hung Redis never holds a request: the
process counts alone for a while.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from api.app import create_app
from api.bootstrap import prepare
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
