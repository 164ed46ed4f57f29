"""``GET /v1/items`` on both databases: who sees what, masking, paging, refusals.

The filters themselves are held against an independent account of generated
items in ``tests/contract/test_item_queries.py``; here the route: each role's
view, items shown as ``GET /v1/items/{id}`` shows them (personal fields masked
below regulators), a walk along ``next_cursor`` and every malformed parameter
refused as a 422 problem that names it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import World
from tests.factories import Org, event, register, registration

OWNER = "Zhang Wei"


def _ids(world: World, org: Org, query: str = "") -> list[str]:
    response = world.client.get(f"/v1/items{query}", headers=org.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    return [item["id"] for item in body["items"]]


def _custody(world: World) -> dict[str, Any]:
    """A pack of oem's handed to recycler, then on to recycler2; one of oem2's kept."""
    c = world.client
    passed = register(c, world.oem, registration(attributes={"mass_kg": "1", "owner_name": OWNER}))
    event(c, world.oem, passed["id"], "transferred", {"to_org": world.recycler.id})
    event(c, world.recycler, passed["id"], "transferred", {"to_org": world.recycler2.id})
    kept = register(c, world.oem2, registration("pv_module"))
    return {"passed": passed["id"], "kept": kept["id"]}


def test_each_role_sees_what_it_made_holds_or_held(world: World) -> None:
    made = _custody(world)
    both = [made["passed"], made["kept"]]
    assert _ids(world, world.regulator) == both
    assert _ids(world, world.admin) == both
    assert _ids(world, world.oem) == [made["passed"]]  # made it
    assert _ids(world, world.recycler) == [made["passed"]]  # held it
    assert _ids(world, world.recycler2) == [made["passed"]]  # holds it
    assert _ids(world, world.oem2) == [made["kept"]]
    assert _ids(world, world.operator) == []
    assert world.client.get("/v1/items").status_code == 401


def test_items_are_shown_as_the_item_route_shows_them(world: World) -> None:
    made = _custody(world)
    for org in (world.oem, world.regulator):
        listed = world.client.get("/v1/items?kind=battery_pack", headers=org.headers).json()
        one = world.client.get(f"/v1/items/{made['passed']}", headers=org.headers).json()
        assert listed["items"] == [one]
    shown = world.client.get("/v1/items", headers=world.oem.headers).json()["items"][0]
    assert shown["attributes"]["owner_name"] is None
    assert shown["redacted"] == ["/attributes/owner_name"]
    seen = world.client.get("/v1/items", headers=world.regulator.headers).json()["items"][0]
    assert seen["attributes"]["owner_name"] == OWNER


def test_filters_reach_the_query(world: World) -> None:
    made = _custody(world)
    reg = world.regulator
    assert _ids(world, reg, "?kind=pv_module") == [made["kept"]]
    assert _ids(world, reg, f"?holder={world.recycler2.id}") == [made["passed"]]
    assert _ids(world, reg, f"?manufacturer={world.oem2.id}") == [made["kept"]]
    assert _ids(world, reg, "?state=registered&region=CN") == [made["passed"], made["kept"]]
    assert _ids(world, reg, "?region=FR") == []
    assert _ids(world, reg, "?code_prefix=PV-") == [made["kept"]]
    assert _ids(world, reg, "?since=2000-01-01&until=2999-12-31") == [
        made["passed"],
        made["kept"],
    ]
    assert _ids(world, reg, "?until=2000-01-01") == []


def test_next_cursor_walks_every_item_once(world: World) -> None:
    made = [register(world.client, world.oem)["id"] for _ in range(7)]
    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        response = world.client.get(f"/v1/items?limit=3{cursor}", headers=world.oem.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= 3
        seen.extend(item["id"] for item in body["items"])
        if body["next_cursor"] is None:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert seen == made


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ("limit=0", "query:/limit"),
        ("limit=1001", "query:/limit"),
        ("limit=many", "query:/limit"),
        ("cursor=%21%21", "query:/cursor"),
        ("cursor=bm90IGEgY3Vyc29y", "query:/cursor"),
        ("cursor=" + "A" * 121, "query:/cursor"),
        ("kind=toaster", "query:/kind"),
        ("state=lost", "query:/state"),
        ("since=yesterday", "query:/since"),
        ("until=2026-13-01", "query:/until"),
        ("since=2026-02-02&until=2026-02-01", "query:/until"),
        ("code_prefix=", "query:/code_prefix"),
        ("holder=" + "x" * 65, "query:/holder"),
        ("region=C%00N", "query:/region"),
    ],
)
def test_malformed_parameters_are_422_problems_naming_them(
    world: World, query: str, pointer: str
) -> None:
    response = world.client.get(f"/v1/items?{query}", headers=world.regulator.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert problem["pointer"] == pointer
