"""POST /v1/scan with a `site`: the cloned-label check, on both databases.

One label scanned at two sites within minutes is reported by
``GET /v1/reports/anomalies`` as a ``cloned_label`` row on the item (with or
without the Redis read-through cache); scans at one site, scans without a site
and scans refused make none. A site that is not bounded printable text is
refused with problem+json 422, and nothing is kept for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.bootstrap import prepare
from api.settings import Settings
from tests.conftest import World, assert_ledger_sound
from tests.factories import Org, make_world, registration

PROBLEM = "application/problem+json"


def _registered(client: TestClient, oem: Org) -> tuple[str, int]:
    answer = client.post("/v1/items", json=registration(), headers=oem.headers)
    assert answer.status_code == 201, answer.text
    return answer.json()["item"]["id"], answer.json()["entry"]["seq"]


def _scan(client: TestClient, org: Org, payload: str, site: Any = None) -> Any:
    body: dict[str, Any] = {"payload": payload}
    if site is not None:
        body["site"] = site
    return client.post("/v1/scan", json=body, headers=org.headers)


def _scanned(client: TestClient, org: Org, payload: str, site: str | None = None) -> None:
    answer = _scan(client, org, payload, site)
    assert answer.status_code == 200, answer.text
    assert answer.json()["item"]["id"] == payload.rsplit("/", 1)[-1]


def _cloned(client: TestClient, org: Org) -> list[dict[str, Any]]:
    answer = client.get("/v1/reports/anomalies", headers=org.headers)
    assert answer.status_code == 200, answer.text
    return [row for row in answer.json()["rows"] if row["kind"] == "cloned_label"]


def test_one_label_at_two_sites_is_a_cloned_label(world: World) -> None:
    client = world.client
    item_id, seq = _registered(client, world.oem)
    _scanned(client, world.recycler, item_id, "Dock 3, Foshan")
    _scanned(client, world.recycler2, f"http://retrace.test/p/{item_id}", "Yard 9, Hefei")

    rows = _cloned(client, world.regulator)
    assert [(r["item"], r["entries"]) for r in rows] == [(item_id, [seq])]
    detail = rows[0]["detail"]
    assert "'Dock 3, Foshan'" in detail
    assert "'Yard 9, Hefei'" in detail
    assert detail.index("Dock 3") < detail.index("Yard 9")
    assert world.recycler.id in detail
    assert world.recycler2.id in detail
    # The maker sees its item's finding; an org outside the item's chain does not.
    assert [r["item"] for r in _cloned(client, world.oem)] == [item_id]
    assert _cloned(client, world.oem2) == []
    assert _cloned(client, world.recycler2) == []
    csv = client.get(
        "/v1/reports/anomalies", headers={**world.regulator.headers, "Accept": "text/csv"}
    )
    assert "cloned_label" in csv.text


def test_one_site_no_site_or_a_refused_site_makes_no_finding(world: World) -> None:
    client = world.client
    item_id, _ = _registered(client, world.oem)
    _scanned(client, world.recycler, item_id, "Dock 3")
    _scanned(client, world.recycler2, item_id, "Dock 3")
    _scanned(client, world.recycler2, item_id)
    refused = _scan(client, world.recycler2, item_id, "Yard\n9")
    assert refused.status_code == 422
    assert _cloned(client, world.regulator) == []
    # An unknown item keeps nothing either: a finding needs an item.
    missing = _scan(client, world.recycler, "itm_01JD8Z3K5V7W9XQRSTABCDEFGH", "Yard 9")
    assert missing.status_code == 404
    assert _cloned(client, world.regulator) == []


@pytest.mark.parametrize(
    ("site", "pointer"),
    [
        ("x" * 201, "/site"),
        ("", "/site"),
        ("Dock\u00003", "/site"),
        ("Dock\x1b[31m3", "/site"),
        ("   ", "/site"),
        (123, "/site"),
        (["Dock 3"], "/site"),
    ],
    ids=["oversized", "empty", "nul", "escape", "blank", "number", "list"],
)
def test_a_hostile_site_is_refused(world: World, site: Any, pointer: str) -> None:
    client = world.client
    item_id, _ = _registered(client, world.oem)
    _scanned(client, world.recycler, item_id, "Dock 3")
    answer = _scan(client, world.recycler2, item_id, site)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    problem = answer.json()
    assert problem["status"] == 422
    assert pointer in answer.text
    assert _cloned(client, world.regulator) == []


@pytest.fixture
def redis_client(settings: Settings, redis_url: str) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"redis_url": SecretStr(redis_url)})
    prepare(configured)
    app = create_app(configured)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
        assert_ledger_sound(app.state.ledger)


def test_scans_answered_from_the_cache_are_kept_too(redis_client: TestClient) -> None:
    _, orgs = make_world(redis_client)
    item_id, seq = _registered(redis_client, orgs["oem"])
    for _ in range(2):  # the second scan at each site is answered from Redis
        _scanned(redis_client, orgs["recycler"], item_id, "Dock 3")
    _scanned(redis_client, orgs["recycler2"], item_id, "Yard 9")
    rows = _cloned(redis_client, orgs["regulator"])
    assert [(r["item"], r["entries"]) for r in rows] == [(item_id, [seq])]
