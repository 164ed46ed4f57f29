"""Who sees what, on both databases: personal data, the passport's tiers, the org list.

Personal data (a VIN, an owner's name: ``ledger.privacy.PERSONAL_FIELDS``) reaches
regulators only, wherever it sits in an item or an entry; the passport's middle
tier goes only to the orgs in the item's chain; ``GET /v1/orgs`` shows each role
what it needs.
"""

from __future__ import annotations

from typing import Any

import pytest

from hashing import leaf_hash
from ledger.verify.entry import entry_bytes
from tests.conftest import World
from tests.factories import Org, event, event_data, register, registration, to_state

JSON = {"Accept": "application/json"}
VIN = "LSVAU2180N2183294"
FIXED_VIN = "WVWZZZ1JZXW000001"
OWNER = "Zhang Wei"


def _installed_and_corrected(world: World) -> dict[str, Any]:
    """A pack with its keeper's name, installed in a vehicle, its VIN then corrected."""
    c = world.client
    item = register(
        c, world.oem, registration(attributes={"mass_kg": "412.5", "owner_name": OWNER})
    )
    installed = event(c, world.oem, item["id"], "installed", {"vin": VIN})
    seq = installed["entry"]["seq"]
    event(c, world.oem, item["id"], "corrected", {"seq": seq, "fields": {"vin": FIXED_VIN}})
    return item


def _get(world: World, path: str, org: Org | None, **headers: str) -> Any:
    response = world.client.get(path, headers={**headers, **(org.headers if org else {})})
    assert response.status_code == 200, response.text
    return response


def _no_personal_data(text: str) -> bool:
    return VIN not in text and FIXED_VIN not in text and OWNER not in text


# -- personal data -------------------------------------------------------------------


@pytest.mark.parametrize("reader", [None, "oem", "operator", "recycler"])
def test_the_passport_shows_personal_data_to_no_one_but_regulators(
    world: World, reader: str | None
) -> None:
    item = _installed_and_corrected(world)
    org = getattr(world, reader) if reader else None
    path = f"/p/{item['id']}"
    assert _no_personal_data(_get(world, path, org, **JSON).text)
    assert _no_personal_data(_get(world, path, org).text)

    regulator = _get(world, path, world.regulator, **JSON).json()
    corrected = next(e for e in regulator["timeline"] if e["type"] == "corrected")
    assert corrected["data"]["fields"] == {"vin": FIXED_VIN}
    assert regulator["item"]["attributes"]["owner_name"] == OWNER
    assert FIXED_VIN in _get(world, path, world.regulator).text


def test_the_maker_sees_the_corrected_entry_without_the_vin(world: World) -> None:
    item = _installed_and_corrected(world)
    body = _get(world, f"/p/{item['id']}", world.oem, **JSON).json()
    assert body["access"] == "interested"
    corrected = next(e for e in body["timeline"] if e["type"] == "corrected")
    assert corrected["data"] == {"seq": corrected["data"]["seq"], "fields": {}}
    assert body["item"]["attributes"] == {"mass_kg": "412.5"}


@pytest.mark.parametrize("reader", ["oem", "recycler2", "operator"])
def test_a_history_masks_personal_values_and_keeps_the_hash(world: World, reader: str) -> None:
    item = _installed_and_corrected(world)
    path = f"/v1/items/{item['id']}/history"
    masked = _get(world, path, getattr(world, reader)).json()
    whole = _get(world, path, world.regulator).json()
    assert _no_personal_data(str(masked))

    redacted = {e["type"]: e.get("redacted") for e in masked["entries"]}
    assert redacted == {
        "registered": ["/data/attributes/owner_name"],
        "installed": ["/data/vin"],
        "corrected": ["/data/fields/vin"],
    }
    installed = masked["entries"][1]
    assert installed["data"] == {"vin": None}
    # The leaf hash stays, and with it the proofs; the masked body no longer hashes to it.
    assert [e["hash"] for e in masked["entries"]] == [e["hash"] for e in whole["entries"]]
    assert masked["proofs"] == whole["proofs"]
    assert leaf_hash(entry_bytes(installed)).hex() != installed["hash"]
    # A regulator's entries are whole: each rebuilds its own hash.
    for entry in whole["entries"]:
        assert "redacted" not in entry
        assert leaf_hash(entry_bytes(entry)).hex() == entry["hash"]
    assert whole["entries"][1]["data"] == {"vin": VIN}


def test_an_entry_without_personal_data_is_whole_for_everyone(world: World) -> None:
    item = register(world.client, world.oem)
    body = _get(world, f"/v1/items/{item['id']}/history", world.recycler2).json()
    (entry,) = body["entries"]
    assert "redacted" not in entry
    assert leaf_hash(entry_bytes(entry)).hex() == entry["hash"]


@pytest.mark.parametrize("reader", ["oem", "recycler2", "operator", "admin"])
def test_an_item_view_and_a_scan_mask_the_owner(world: World, reader: str) -> None:
    item = _installed_and_corrected(world)
    org = getattr(world, reader)
    shown = _get(world, f"/v1/items/{item['id']}", org).json()
    assert shown["attributes"] == {"mass_kg": "412.5", "owner_name": None}
    assert shown["redacted"] == ["/attributes/owner_name"]
    scanned = world.client.post("/v1/scan", json={"payload": item["id"]}, headers=org.headers)
    assert scanned.status_code == 200, scanned.text
    assert scanned.json()["item"]["attributes"]["owner_name"] is None
    assert _no_personal_data(scanned.text)

    regulator = _get(world, f"/v1/items/{item['id']}", world.regulator).json()
    assert regulator["attributes"]["owner_name"] == OWNER
    assert regulator["redacted"] == []


def test_a_write_answer_masks_the_owner_it_did_not_send(world: World) -> None:
    c = world.client
    item = register(c, world.oem, registration(attributes={"owner_name": OWNER}))
    to_state(c, world.oem, world.recycler, item["id"], "retired")
    written = event(
        c, world.oem, item["id"], "transferred", event_data("transferred", to_org=world.recycler.id)
    )
    assert written["item"]["attributes"] == {"owner_name": None}
    collected = event(c, world.recycler, item["id"], "collected", event_data("collected"))
    assert _no_personal_data(str(collected))


def test_personal_names_match_whatever_their_spelling(world: World) -> None:
    attributes = {"Owner-Name": OWNER, "VIN": VIN, "chemistry": "LFP"}
    item = register(world.client, world.oem, registration(attributes=attributes))
    shown = _get(world, f"/v1/items/{item['id']}", world.recycler).json()
    assert shown["attributes"] == {"Owner-Name": None, "VIN": None, "chemistry": "LFP"}
    assert shown["redacted"] == ["/attributes/Owner-Name", "/attributes/VIN"]


def test_the_log_pages_stay_for_regulators_and_whole(world: World) -> None:
    _installed_and_corrected(world)
    for org in (world.oem, world.recycler, world.admin):
        refused = world.client.get("/v1/log/entries", headers=org.headers)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
    page = _get(world, "/v1/log/entries?limit=1000", world.regulator).json()
    assert VIN in str(page)
    for entry in page["entries"]:
        assert leaf_hash(entry_bytes(entry)).hex() == entry["hash"]


# -- the passport's tiers ----------------------------------------------------------


def _access(world: World, item_id: str, org: Org) -> str:
    access: str = _get(world, f"/p/{item_id}", org, **JSON).json()["access"]
    return access


def test_only_orgs_in_the_chain_get_the_interested_tier(world: World) -> None:
    c = world.client
    item = register(c, world.oem)
    assert _access(world, item["id"], world.oem) == "interested"
    for outsider in (world.oem2, world.operator, world.recycler, world.recycler2, world.admin):
        assert _access(world, item["id"], outsider) == "public", outsider.name
    page = _get(world, f"/p/{item['id']}", world.recycler, **JSON).json()
    assert "attributes" not in page["item"]
    assert set(page["timeline"][0]) == {"type", "date"}

    to_state(c, world.oem, world.recycler, item["id"], "retired")
    event(c, world.oem, item["id"], "transferred", {"to_org": world.operator.id})
    event(c, world.operator, item["id"], "transferred", {"to_org": world.recycler.id})
    event(c, world.recycler, item["id"], "collected", event_data("collected"))
    # The maker, every holder and the recycler that collected it.
    for insider in (world.oem, world.operator, world.recycler):
        assert _access(world, item["id"], insider) == "interested", insider.name
    for outsider in (world.oem2, world.recycler2):
        assert _access(world, item["id"], outsider) == "public", outsider.name
    assert _access(world, item["id"], world.regulator) == "regulator"


def test_the_recycler_that_made_a_second_life_is_in_its_chain(world: World) -> None:
    c = world.client
    pack = register(c, world.oem)
    to_state(c, world.oem, world.recycler, pack["id"], "assessed")
    written = event(c, world.recycler, pack["id"], "repurposed", event_data("repurposed"))
    new_id = written["entries"][1]["item"]
    assert _access(world, new_id, world.recycler) == "interested"
    assert _access(world, new_id, world.recycler2) == "public"


# -- the org list ------------------------------------------------------------------


def test_others_see_counterparties_without_anything_internal(world: World) -> None:
    listed = _get(world, "/v1/orgs", world.recycler).json()
    assert {o["role"] for o in listed} == {"oem", "operator", "recycler"}
    for org in listed:
        assert set(org) == {"id", "name", "role", "region"}
    ids = {o["id"] for o in listed}
    assert {world.oem.id, world.operator.id, world.recycler2.id} <= ids
    assert world.admin.id not in ids
    assert world.regulator.id not in ids


@pytest.mark.parametrize("reader", ["admin", "regulator"])
def test_admins_and_regulators_see_every_org_and_its_keys(world: World, reader: str) -> None:
    listed = _get(world, "/v1/orgs", getattr(world, reader)).json()
    by_id = {o["id"]: o for o in listed}
    assert {world.admin.id, world.regulator.id, world.oem.id} <= set(by_id)
    keys = by_id[world.oem.id]["keys"]
    assert len(keys) == 1
    assert set(keys[0]) == {"id", "issued_seq", "revoked_seq"}
    assert world.oem.key not in str(listed)
