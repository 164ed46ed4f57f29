"""The lifecycle table through the HTTP API, on both databases.

Every (state, event) pair of DESIGN.md's table is tried by an org of the
right role that holds the item (for ``retired``, its manufacturer; a
terminal item cannot change hands, so there just an org of the right role):
allowed pairs answer 201 with the state ``LIFECYCLE`` names, refused pairs
answer 409 problem+json and leave the log as it was. Then the refusals that
are not about state: wrong role, wrong holder, bad transfers, corrections,
dismantling, mass balance and parents.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.domain import LIFECYCLE
from ledger.lifecycle import TERMINAL, State
from tests.conftest import World
from tests.factories import Org, battery_code, event, event_data, register, registration, to_state

STATES = [state.value for state in State]
EVENTS = [
    "installed",
    "retired",
    "transferred",
    "collected",
    "assessed",
    "repurposed",
    "dismantled",
    "recycled",
    "disposed",
]
PROBLEM = "application/problem+json"
# What the test client returns (an httpx or httpx2 response, whichever Starlette found).
Response = Any


def _log_size(world: World) -> int:
    response = world.client.get(
        "/v1/log/entries", params={"limit": 1}, headers=world.regulator.headers
    )
    assert response.status_code == 200, response.text
    size: int = response.json()["size"]
    return size


def _post_event(
    world: World, org: Org, item_id: str, event_type: str, data: dict[str, Any]
) -> Response:
    return world.client.post(
        f"/v1/items/{item_id}/events", json={"type": event_type, "data": data}, headers=org.headers
    )


def _get_item(world: World, item_id: str) -> dict[str, Any]:
    response = world.client.get(f"/v1/items/{item_id}", headers=world.regulator.headers)
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()
    return item


def _problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    return body


def _refused(
    world: World,
    org: Org,
    item_id: str,
    event_type: str,
    data: dict[str, Any],
    status: int,
    code: str,
) -> dict[str, Any]:
    """Post an event that must be refused; the log must not move."""
    before = _log_size(world)
    body = _problem(_post_event(world, org, item_id, event_type, data), status, code)
    assert _log_size(world) == before, f"a refused {event_type} wrote to the log"
    return body


def _fresh(world: World, state: str) -> dict[str, Any]:
    """A new pack registered by the OEM and driven to ``state``."""
    item = register(world.client, world.oem)
    to_state(world.client, world.oem, world.recycler, item["id"], state)
    return _get_item(world, item["id"])


def _actor(world: World, item: dict[str, Any], event_type: str) -> Org:
    """An org of the right role for ``event_type``: the holder when it has the role,
    else the manufacturer for ``retired``, else an org of that role; custody moves
    there first while the item is not terminal, so it is also the holder."""
    by_id = {org.id: org for org in world.orgs.values()}
    holder = by_id[item["holder"]]
    roles = {role.value for role in LIFECYCLE[event_type].roles}
    if holder.role in roles:
        return holder
    if event_type == "retired":
        return world.oem  # the manufacturer may always report `retired`
    actor = world.recycler if "recycler" in roles else world.operator
    if State(item["state"]) not in TERMINAL:
        event(
            world.client,
            holder,
            item["id"],
            "transferred",
            event_data("transferred", to_org=actor.id),
        )
        item["holder"] = actor.id
    return actor


def _data_for(world: World, item: dict[str, Any], event_type: str) -> dict[str, Any]:
    to_org = world.recycler2 if item["holder"] != world.recycler2.id else world.recycler
    return event_data(event_type, to_org=to_org.id, kind=item["kind"])


@pytest.mark.parametrize("state", STATES)
def test_every_event_from_state(world: World, subtests: pytest.Subtests, state: str) -> None:
    refused_item: dict[str, Any] | None = None
    for event_type in EVENTS:
        rule = LIFECYCLE[event_type]
        allowed = State(state) in rule.from_states
        with subtests.test(pair=f"{state}+{event_type}", allowed=allowed):
            if allowed:
                item = _fresh(world, state)
            else:
                refused_item = refused_item or _fresh(world, state)
                item = refused_item
            actor = _actor(world, item, event_type)
            data = _data_for(world, item, event_type)
            if allowed:
                out = event(world.client, actor, item["id"], event_type, data)
                assert out["entry"]["type"] == event_type
                assert out["entry"]["actor"] == actor.id
                assert out["item"]["state"] == (rule.to_state or State(state)).value
                if event_type == "transferred":
                    assert out["item"]["holder"] == data["to_org"]
                assert _get_item(world, item["id"])["state"] == out["item"]["state"]
            else:
                body = _refused(
                    world, actor, item["id"], event_type, data, 409, "illegal-transition"
                )
                assert state in body["detail"]
                assert body["state"] == state
                assert _get_item(world, item["id"])["state"] == state


def test_wrong_role_is_forbidden(world: World) -> None:
    c = world.client
    item = register(c, world.oem)
    body = _refused(
        world, world.recycler, item["id"], "installed", event_data("installed"), 403, "forbidden"
    )
    assert "oem, operator" in body["detail"]
    _refused(
        world, world.operator, item["id"], "collected", event_data("collected"), 403, "forbidden"
    )
    correction = {"seq": item["head_seq"], "fields": {"code": item["code"]}}
    for event_type in [*EVENTS, "corrected"]:
        data = event_data(event_type, to_org=world.oem2.id)
        if event_type == "corrected":
            data = correction
        body = _refused(world, world.regulator, item["id"], event_type, data, 403, "forbidden")
        assert "regulator" in body["detail"], event_type
    for org in (world.operator, world.regulator, world.recycler):
        before = _log_size(world)
        response = c.post("/v1/items", json=registration(), headers=org.headers)
        assert _problem(response, 403, "forbidden")["detail"]
        assert _log_size(world) == before
    assert _get_item(world, item["id"])["state"] == "registered"


def test_wrong_holder_is_forbidden_and_named(world: World) -> None:
    c = world.client
    item = register(c, world.oem)
    body = _refused(
        world, world.operator, item["id"], "installed", event_data("installed"), 403, "forbidden"
    )
    assert world.oem.id in body["detail"]
    event(c, world.oem, item["id"], "retired", event_data("retired"))
    # the recycler collects only once the holder has transferred the item to it
    body = _refused(
        world, world.recycler, item["id"], "collected", event_data("collected"), 403, "forbidden"
    )
    assert world.oem.id in body["detail"]
    assert body["holder"] == world.oem.id
    event(
        c, world.oem, item["id"], "transferred", event_data("transferred", to_org=world.recycler.id)
    )
    body = _refused(
        world, world.recycler2, item["id"], "collected", event_data("collected"), 403, "forbidden"
    )
    assert world.recycler.id in body["detail"]
    assert body["holder"] == world.recycler.id
    out = event(c, world.recycler, item["id"], "collected", event_data("collected"))
    assert out["item"]["state"] == "collected"


@pytest.mark.parametrize("state", ["registered", "in_service"])
def test_oem_may_retire_what_it_registered_after_transfer(world: World, state: str) -> None:
    c = world.client
    item = _fresh(world, state)
    event(
        c, world.oem, item["id"], "transferred", event_data("transferred", to_org=world.operator.id)
    )
    # another OEM neither made nor holds it
    body = _refused(
        world, world.oem2, item["id"], "retired", event_data("retired"), 403, "forbidden"
    )
    assert world.operator.id in body["detail"]
    out = event(c, world.oem, item["id"], "retired", event_data("retired"))
    assert out["item"]["state"] == "retired"
    assert out["item"]["holder"] == world.operator.id
    assert out["entry"]["actor"] == world.oem.id


def test_transfer_refusals(world: World) -> None:
    item = register(world.client, world.oem)
    for to_org in (world.regulator.id, world.admin.id, world.oem.id):
        body = _refused(
            world, world.oem, item["id"], "transferred", {"to_org": to_org}, 422, "invalid-transfer"
        )
        assert body["pointer"] == "/data/to_org"
    body = _refused(
        world, world.oem, item["id"], "transferred", {"to_org": "org_nobody"}, 404, "not-found"
    )
    assert "org_nobody" in body["detail"]
    assert _get_item(world, item["id"])["holder"] == world.oem.id


def test_corrections(world: World) -> None:
    c = world.client
    item = register(c, world.oem)
    other = register(c, world.oem)
    retired = event(c, world.oem, item["id"], "retired", event_data("retired"))["entry"]
    event(
        c, world.oem, item["id"], "transferred", event_data("transferred", to_org=world.operator.id)
    )
    fix = {"seq": retired["seq"], "fields": {"reason": "thermal event"}}
    # only the org that wrote the entry corrects it, even after custody moved
    body = _refused(world, world.operator, item["id"], "corrected", fix, 403, "forbidden")
    assert world.oem.id in body["detail"]
    _refused(world, world.regulator, item["id"], "corrected", fix, 403, "forbidden")
    body = _refused(
        world,
        world.oem,
        item["id"],
        "corrected",
        {"seq": 10**9, "fields": {"reason": "x"}},
        404,
        "not-found",
    )
    assert body["pointer"] == "/data/seq"
    body = _refused(
        world,
        world.oem,
        item["id"],
        "corrected",
        {"seq": retired["seq"], "fields": {"vin": "LSVAU2180N2183294"}},
        422,
        "invalid-value",
    )
    assert body["pointer"] == "/data/fields/vin"
    _refused(world, world.oem, other["id"], "corrected", fix, 422, "invalid-value")
    out = event(c, world.oem, item["id"], "corrected", fix)
    assert out["entry"]["data"] == fix
    assert out["item"]["state"] == "retired"
    assert out["item"]["holder"] == world.operator.id
    assert _get_item(world, item["id"])["state"] == "retired"


def test_dismantled_pack_has_module_children(world: World) -> None:
    c = world.client
    pack = _fresh(world, "assessed")
    wrong = {"children": [{"kind": "pv_module", "code": "PV-0000001"}]}
    body = _refused(world, world.recycler, pack["id"], "dismantled", wrong, 422, "invalid-value")
    assert body["pointer"] == "/data/children/0/kind"
    codes = [battery_code("battery_module") for _ in range(2)]
    data = {
        "children": [
            {"kind": "battery_module", "code": code, "attributes": {"mass_kg": "20.5"}}
            for code in codes
        ]
    }
    out = event(c, world.recycler, pack["id"], "dismantled", data)
    assert [e["type"] for e in out["entries"]] == ["dismantled", "registered", "registered"]
    child_ids = [e["item"] for e in out["entries"][1:]]
    # The answer is the dismantled pack, with its parts in `created`, as they now stand.
    assert (out["item"]["id"], out["item"]["children"]) == (pack["id"], sorted(child_ids))
    assert [part["id"] for part in out["created"]] == child_ids
    assert [part["code"] for part in out["created"]] == codes
    assert out["created"] == [_get_item(world, part) for part in child_ids]
    got = _get_item(world, pack["id"])
    assert got["state"] == "dismantled"
    assert got["children"] == sorted(child_ids)
    for child_id, code in zip(child_ids, codes, strict=True):
        child = _get_item(world, child_id)
        assert child["parent"] == pack["id"]
        assert (child["kind"], child["code"], child["state"]) == (
            "battery_module",
            code,
            "registered",
        )
        assert child["holder"] == child["manufacturer"] == world.recycler.id
        assert child["attributes"] == {"mass_kg": "20.5"}


def test_recycled_mass_must_balance(world: World) -> None:
    c = world.client
    item = _fresh(world, "collected")
    over = {
        "input_mass_kg": "410.2",
        "process": "pyrometallurgy",
        "recovered": [
            {"material": "cobalt", "mass_kg": "400"},
            {"material": "copper", "mass_kg": "10.3"},
        ],
    }
    body = _refused(world, world.recycler, item["id"], "recycled", over, 422, "mass-balance")
    assert body["pointer"] == "/data/recovered"
    assert "410.3" in body["detail"]
    assert _get_item(world, item["id"])["state"] == "collected"
    # exact decimals: 0.1 + 0.2 is 0.3, not 0.30000000000000004
    exact = {
        "input_mass_kg": "0.3",
        "process": "hydrometallurgy",
        "recovered": [
            {"material": "nickel", "mass_kg": "0.1"},
            {"material": "lithium", "mass_kg": "0.2"},
        ],
    }
    assert event(c, world.recycler, item["id"], "recycled", exact)["item"]["state"] == "recycled"


def test_register_module_into_pack(world: World) -> None:
    c = world.client
    pack = register(c, world.oem)
    module = register(c, world.oem, registration("battery_module", parent=pack["id"]))
    assert module["parent"] == pack["id"]
    assert _get_item(world, pack["id"])["children"] == [module["id"]]
    cell = register(c, world.oem, registration("battery_cell", parent=module["id"]))
    assert _get_item(world, module["id"])["children"] == [cell["id"]]
    refusals = [
        (world.oem2, registration("battery_module", parent=pack["id"]), 403, "forbidden"),
        (world.oem, registration("pv_module", parent=pack["id"]), 422, "invalid-value"),
        (world.oem, registration("battery_module", parent="itm_nothing"), 404, "not-found"),
    ]
    for org, body, status, code in refusals:
        before = _log_size(world)
        problem = _problem(c.post("/v1/items", json=body, headers=org.headers), status, code)
        assert problem["pointer"] == "/parent"
        assert _log_size(world) == before
    assert _get_item(world, pack["id"])["children"] == [module["id"]]


def test_dismantled_parts_can_be_retired_and_recycled_by_the_dismantler(world: World) -> None:
    c = world.client
    pack = register(c, world.oem)
    to_state(c, world.oem, world.recycler, pack["id"], "dismantled")
    part_id = c.get(f"/v1/items/{pack['id']}", headers=world.recycler.headers).json()["children"][0]
    part = c.get(f"/v1/items/{part_id}", headers=world.recycler.headers).json()
    assert (part["state"], part["manufacturer"]) == ("registered", world.recycler.id)
    scan = c.post("/v1/scan", json={"payload": part_id}, headers=world.recycler.headers).json()
    assert "retired" in scan["allowed_events"]
    event(c, world.recycler, part_id, "retired", {"reason": "recovered from a dismantled pack"})
    event(c, world.recycler, part_id, "transferred", {"to_org": world.recycler2.id})
    event(c, world.recycler2, part_id, "collected", {"site": "Line 2", "mass_kg": "38.5"})
    # Only the registrant may: another recycler holding a pack still cannot retire it.
    other = register(c, world.oem)
    event(c, world.oem, other["id"], "transferred", {"to_org": world.recycler.id})
    event(c, world.recycler, other["id"], "retired", {"reason": "x"}, expect=403)
