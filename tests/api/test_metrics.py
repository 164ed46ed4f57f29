"""GET /metrics: Prometheus text, read back with prometheus_client's own parser.

Counters and histograms belong to the process, not to one app, so each test reads
them before and after what it does and checks the difference. The gauges are read
from the app's own database at scrape time, so they are checked as they are.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from structlog.testing import capture_logs

from api.app import create_app
from api.bootstrap import prepare
from api.metrics import CHECK_TIMEOUT_S, UNMATCHED, record_cache
from api.settings import Settings
from tests.conftest import World
from tests.factories import ADMIN_KEY, register, registration
from tests.processes.server import Servers, retrace_env

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ITEM = "/v1/items/{item_id}"

Labels = frozenset[tuple[str, str]]


class Scraped:
    """One scrape: each sample's value by its name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: dict[str, dict[Labels, float]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                by_labels = self.samples.setdefault(sample.name, {})
                by_labels[frozenset(sample.labels.items())] = sample.value

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(v for k, v in self.samples.get(name, {}).items() if wanted <= k)

    def gauge(self, name: str) -> float:
        """The one unlabelled sample ``name`` (it must be there)."""
        return self.samples[name][frozenset()]


def scrape(client: TestClient) -> Scraped:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Scraped(response.text)


def log_size(world: World) -> int:
    verify = world.client.get("/v1/log/verify", headers=world.regulator.headers).json()
    assert verify["ok"] is True
    size: int = verify["size"]
    return size


def test_requests_are_counted_by_route_template(world: World) -> None:
    c = world.client
    before = scrape(c)
    ids = [register(c, world.oem)["id"] for _ in range(3)]
    for item_id in ids:
        assert c.get(f"/v1/items/{item_id}", headers=world.oem.headers).status_code == 200
    missing = c.get("/v1/items/itm_0000000000000000000000000000", headers=world.oem.headers)
    assert missing.status_code == 404
    for _ in range(2):
        assert c.get("/no/such/place-42", headers=world.oem.headers).status_code == 404
    assert c.delete(f"/v1/items/{ids[0]}", headers=world.oem.headers).status_code == 405
    after = scrape(c)

    def counted(route: str, method: str, status: str) -> float:
        labels = {"route": route, "method": method, "status": status}
        name = "retrace_http_requests_total"
        return after.value(name, **labels) - before.value(name, **labels)

    def timed(route: str, method: str, status: str) -> float:
        labels = {"route": route, "method": method, "status": status}
        name = "retrace_http_request_duration_seconds_count"
        return after.value(name, **labels) - before.value(name, **labels)

    assert counted(ITEM, "GET", "2xx") == 3
    assert timed(ITEM, "GET", "2xx") == 3
    assert counted(ITEM, "GET", "4xx") == 1
    assert counted(ITEM, "DELETE", "4xx") == 1
    assert counted("/v1/items", "POST", "2xx") == 3
    assert counted(UNMATCHED, "GET", "4xx") == 2
    # The scrape before this one is counted by the time this one renders.
    assert counted("/metrics", "GET", "2xx") == 1
    # Each latency lands in a bucket: the +Inf bucket counts every request.
    inf = after.value("retrace_http_request_duration_seconds_bucket", route=ITEM, le="+Inf")
    assert inf >= 4
    for item_id in ids:
        assert item_id not in after.text
    assert "no/such/place" not in after.text
    assert "itm_0000000000000000000000000000" not in after.text


def test_appends_and_batches_are_counted(world: World) -> None:
    c = world.client
    size_before = log_size(world)
    before = scrape(c)
    register(c, world.oem)
    register(c, world.oem)
    lines = [registration() for _ in range(3)]
    bulk = c.post("/v1/items/bulk", json=lines, headers=world.oem.headers)
    assert bulk.status_code == 200, bulk.text
    after = scrape(c)

    def grew(name: str) -> float:
        return after.value(name) - before.value(name)

    assert log_size(world) == size_before + 5
    assert grew("retrace_entries_appended_total") == 5
    # Three transactions: two single registrations and one bulk request of three.
    assert grew("retrace_commit_batch_entries_count") == 3
    assert grew("retrace_commit_batch_entries_sum") == 5
    assert (
        after.value("retrace_commit_batch_entries_bucket", le="1.0")
        - before.value("retrace_commit_batch_entries_bucket", le="1.0")
        == 2
    )
    assert after.gauge("retrace_log_entries") == size_before + 5
    assert after.gauge("retrace_database_up") == 1
    assert "retrace_redis_up" not in after.samples


def test_checkpoint_gauges_follow_the_latest_checkpoint(world: World) -> None:
    c = world.client
    register(c, world.oem)
    published = c.post("/v1/log/checkpoint", headers=ADMIN)
    assert published.status_code == 200, published.text
    signed_size = int(published.text.splitlines()[1])
    register(c, world.oem)
    got = scrape(c)
    assert got.gauge("retrace_checkpoint_entries") == signed_size
    assert got.gauge("retrace_log_entries") == signed_size + 1
    assert 0 <= got.gauge("retrace_checkpoint_age_seconds") < 60


def test_cache_lookups_are_counted_by_cache_and_result(client: TestClient) -> None:
    before = scrape(client)
    record_cache("item", hit=True)
    record_cache("item", hit=True)
    record_cache("item", hit=False)
    record_cache("org", hit=False)
    after = scrape(client)

    def grew(cache: str, result: str) -> float:
        name = "retrace_cache_lookups_total"
        return after.value(name, cache=cache, result=result) - before.value(
            name, cache=cache, result=result
        )

    assert (grew("item", "hit"), grew("item", "miss")) == (2, 1)
    assert (grew("org", "hit"), grew("org", "miss")) == (0, 1)


# -- Redis health ---------------------------------------------------------------


def _with_redis(settings: Settings, url: str) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"redis_url": SecretStr(url)})
    prepare(configured)
    with TestClient(create_app(configured), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def with_redis(settings: Settings, redis_url: str) -> Iterator[TestClient]:
    yield from _with_redis(settings, redis_url)


@pytest.fixture
def with_hung_redis(settings: Settings) -> Iterator[TestClient]:
    """Redis at a port that accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield from _with_redis(settings, f"redis://127.0.0.1:{sock.getsockname()[1]}/0")


@pytest.fixture
def with_closed_redis(settings: Settings) -> Iterator[TestClient]:
    yield from _with_redis(settings, "redis://127.0.0.1:1/0")


@pytest.mark.redis
def test_redis_that_answers_is_up(with_redis: TestClient) -> None:
    got = scrape(with_redis)
    assert got.gauge("retrace_redis_up") == 1
    assert got.gauge("retrace_database_up") == 1


def test_a_hung_redis_is_down_and_does_not_hold_the_scrape(with_hung_redis: TestClient) -> None:
    started = time.monotonic()
    with capture_logs() as logs:
        got = scrape(with_hung_redis)
    elapsed = time.monotonic() - started
    assert got.gauge("retrace_redis_up") == 0
    assert got.gauge("retrace_database_up") == 1
    # Whichever gives up first, the bus's socket timeout or the scrape's own wait
    # (CHECK_TIMEOUT_S), the scrape is not held by the hung Redis.
    assert elapsed < CHECK_TIMEOUT_S + 0.8
    timed_out = [e for e in logs if e["event"] == "metrics.check_timed_out"]
    assert [e["check"] for e in timed_out] in ([], ["redis"])


def test_a_closed_redis_port_is_down(with_closed_redis: TestClient) -> None:
    got = scrape(with_closed_redis)
    assert got.gauge("retrace_redis_up") == 0
    assert got.gauge("retrace_database_up") == 1


# -- several workers ------------------------------------------------------------

WRITES = 24


@pytest.mark.slow
def test_workers_of_retrace_serve_sum_their_counts(database_url: str, tmp_path: Path) -> None:
    # The server makes its metrics directory under TMPDIR: here, to be looked at.
    env = retrace_env(database_url, tmp_path / "log.key", ADMIN_KEY, TMPDIR=str(tmp_path))
    with Servers(tmp_path) as servers:
        server = servers.start(env, workers=2)
        (metrics_dir,) = tmp_path.glob("retrace-metrics-*")
        oem = httpx.post(
            f"{server.url}/v1/orgs",
            json={"name": "Metrics OEM", "role": "oem", "region": "CN"},
            headers=ADMIN,
        )
        assert oem.status_code == 201, oem.text
        headers = {"Authorization": f"Bearer {oem.json()['api_key']}"}
        before = Scraped(httpx.get(f"{server.url}/metrics").text)

        def register_one(_: int) -> None:
            # A connection per request, so the requests spread over both workers.
            done = httpx.post(
                f"{server.url}/v1/items", json=registration("pv_module"), headers=headers
            )
            assert done.status_code == 201, done.text

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(register_one, range(WRITES)))
        # Each scrape may be answered by either worker; each must see every worker's counts.
        scrapes = [Scraped(httpx.get(f"{server.url}/metrics").text) for _ in range(6)]
        workers = {path.stem.rpartition("_")[2] for path in metrics_dir.glob("*.db")}
        assert len(workers) >= 2, sorted(p.name for p in metrics_dir.iterdir())
        size = before.gauge("retrace_log_entries") + WRITES
        for got in scrapes:
            posted = {"route": "/v1/items", "method": "POST", "status": "2xx"}
            assert got.value("retrace_http_requests_total", **posted) == WRITES
            assert got.value("retrace_http_request_duration_seconds_count", **posted) == WRITES
            appended = got.value("retrace_entries_appended_total") - before.value(
                "retrace_entries_appended_total"
            )
            assert appended == WRITES
            batched = got.value("retrace_commit_batch_entries_sum") - before.value(
                "retrace_commit_batch_entries_sum"
            )
            assert batched == WRITES
            assert got.gauge("retrace_log_entries") == size
            assert got.gauge("retrace_database_up") == 1
    # A fresh directory each run: the server removes it when it stops.
    assert not metrics_dir.exists()
