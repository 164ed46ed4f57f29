"""Small factories for test data: codes, registrations, orgs, lifecycles."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi.testclient import TestClient

from ledger.codes import make_battery_code

ADMIN_KEY = "rtr_test_admin_key_0123456789abcdefghij"
_serials = itertools.count(1)
_PRODUCT = {"battery_pack": "P", "battery_module": "M", "battery_cell": "C"}


@dataclass(frozen=True)
class Org:
    id: str
    key: str
    role: str
    name: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def battery_code(
    kind: str = "battery_pack", serial: int | None = None, manufacturer: str = "CAT"
) -> str:
    """A valid GB/T 34014 code of ``kind`` (unique per call unless ``serial`` given)."""
    number = next(_serials) if serial is None else serial
    return make_battery_code(
        manufacturer,
        _PRODUCT[kind],
        "B",
        "01",
        "A1B2C3D",
        date(2021, 3, 4),
        number % 9_999_999 or 1,
    )


def code_for(kind: str) -> str:
    if kind in _PRODUCT:
        return battery_code(kind)
    prefix = "PV" if kind == "pv_module" else "BLADE"
    return f"{prefix}-{next(_serials):07d}"


def registration(kind: str = "battery_pack", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": kind,
        "code": code_for(kind),
        "attributes": {"mass_kg": "412.5", "chemistry": "LFP"},
    }
    body.update(extra)
    return body


def create_org(client: TestClient, name: str, role: str, region: str = "CN") -> Org:
    response = client.post(
        "/v1/orgs",
        json={"name": name, "role": role, "region": region},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Org(body["org"]["id"], body["api_key"], role, name)


ROLES = {
    "oem": "oem",
    "oem2": "oem",
    "operator": "operator",
    "recycler": "recycler",
    "recycler2": "recycler",
    "regulator": "regulator",
}


def make_world(client: TestClient) -> tuple[Org, dict[str, Org]]:
    me = client.get("/v1/orgs/me", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()
    admin = Org(me["id"], ADMIN_KEY, "admin", me["name"])
    orgs = {name: create_org(client, f"{name} org", role) for name, role in ROLES.items()}
    return admin, orgs


def register(client: TestClient, org: Org, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post("/v1/items", json=body or registration(), headers=org.headers)
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()["item"]
    return item


def event(
    client: TestClient,
    org: Org,
    item_id: str,
    event_type: str,
    data: dict[str, Any],
    expect: int = 201,
) -> dict[str, Any]:
    response = client.post(
        f"/v1/items/{item_id}/events", json={"type": event_type, "data": data}, headers=org.headers
    )
    assert response.status_code == expect, response.text
    out: dict[str, Any] = response.json()
    return out


# The data each event needs, for driving items through their lives.
def event_data(
    event_type: str, *, to_org: str = "", kind: str = "battery_pack", seq: int = 0
) -> dict[str, Any]:
    child_kind = {"battery_pack": "battery_module", "battery_module": "battery_cell"}
    options: dict[str, dict[str, Any]] = {
        "installed": {"vin": "LSVAU2180N2183294"},
        "retired": {"reason": "capacity below 80%"},
        "transferred": {"to_org": to_org},
        "collected": {"site": "Dock 3", "mass_kg": "410.2"},
        "assessed": {"soh_pct": "71.5", "grade": "recycle"},
        "repurposed": {"new_code": code_for(kind), "application": "grid storage"},
        "dismantled": {
            "children": (
                [{"kind": child_kind[kind], "code": code_for(child_kind[kind])}]
                if kind in child_kind
                else []
            )
        },
        "recycled": {
            "input_mass_kg": "410.2",
            "process": "hydrometallurgy",
            "recovered": [{"material": "lithium carbonate", "mass_kg": "18.4"}],
        },
        "disposed": {"method": "cement co-processing"},
        "corrected": {"seq": seq, "fields": {"reason": "corrected reason"}},
    }
    return options[event_type]


def to_state(client: TestClient, oem: Org, recycler: Org, item_id: str, state: str) -> None:
    """Drive a freshly registered item (held by ``oem``) to ``state``."""
    paths = {
        "registered": [],
        "in_service": [(oem, "installed")],
        "retired": [(oem, "retired")],
        "collected": [(oem, "retired"), (oem, "transferred"), (recycler, "collected")],
        "assessed": [
            (oem, "retired"),
            (oem, "transferred"),
            (recycler, "collected"),
            (recycler, "assessed"),
        ],
    }
    for terminal in ("repurposed", "dismantled", "recycled", "disposed"):
        # A terminal state is named after the event that leads to it.
        paths[terminal] = [*paths["assessed"], (recycler, terminal)]
    for org, event_type in paths[state]:
        event(client, org, item_id, event_type, event_data(event_type, to_org=recycler.id))
