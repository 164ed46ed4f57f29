"""The passport page ``GET /p/{id}``, on both databases.

What each access tier sees (EU 2023/1542 Annex XIII: the public, persons with
a legitimate interest, authorities), the HTML timeline, the 404s, the
session of the scan station's sign-in, and the history check: it holds for an honest
log and names the failure when an entry, a link, a proof or the checkpoint
signature is wrong.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from api.sessions import SESSION_COOKIE
from api.settings import Settings
from hashing import (
    EMPTY_ROOT,
    canonical_json,
    checkpoint_body,
    generate_private_key,
    leaf_hash,
    sign_note,
    split_note,
)
from ledger.chain import StoredEntry
from ledger.passport import check_history
from tests.conftest import World
from tests.factories import Org, event, event_data, register, registration, to_state

JSON = {"Accept": "application/json"}
PROBLEM = "application/problem+json"
LIFE = ["registered", "installed", "retired", "transferred", "collected", "assessed", "recycled"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No periodic checkpoints: each test publishes one when it wants one."""
    return settings.model_copy(update={"checkpoint_interval": 3600.0})


def _drive_through_life(world: World) -> dict[str, Any]:
    """A battery pack installed, retired, handed over, collected, assessed and recycled."""
    c = world.client
    item = register(
        c,
        world.oem,
        registration(
            attributes={"mass_kg": "412.5", "chemistry": "LFP", "rated_capacity_kwh": "60"}
        ),
    )
    event(c, world.oem, item["id"], "installed", {"vin": "LSVAU2180N2183294"})
    to_state(c, world.oem, world.recycler, item["id"], "retired")
    for org, kind in [
        (world.oem, "transferred"),
        (world.recycler, "collected"),
        (world.recycler, "assessed"),
        (world.recycler, "recycled"),
    ]:
        event(c, org, item["id"], kind, event_data(kind, to_org=world.recycler.id))
    return item


def _publish(world: World) -> None:
    response = world.client.post("/v1/log/checkpoint", headers=world.regulator.headers)
    assert response.status_code == 200, response.text


def _passport(world: World, item_id: str, org: Org | None = None) -> dict[str, Any]:
    headers = {**JSON, **(org.headers if org else {})}
    response = world.client.get(f"/p/{item_id}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def _history(world: World, item_id: str) -> list[dict[str, Any]]:
    response = world.client.get(f"/v1/items/{item_id}/history", headers=world.regulator.headers)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


# -- access tiers ------------------------------------------------------------------


def test_the_public_sees_identity_state_event_dates_and_the_verification(world: World) -> None:
    item = _drive_through_life(world)
    _publish(world)
    body = _passport(world, item["id"])

    assert body["access"] == "public"
    shown = body["item"]
    assert (shown["id"], shown["kind"], shown["kind_name"], shown["code"], shown["state"]) == (
        item["id"],
        "battery_pack",
        "Battery pack",
        item["code"],
        "recycled",
    )
    assert shown["decoded"]["product_type_name"] == "pack"
    assert shown["decoded"]["battery_type_name"] == "lithium iron phosphate"
    assert shown["decoded"]["production_date"] == "2021-03-04"
    assert shown["manufacturer"] == {"name": world.oem.name, "role": "oem"}
    for hidden in ("holder", "attributes", "head", "head_seq"):
        assert hidden not in shown
    assert [e["type"] for e in body["timeline"]] == LIFE
    for entry in body["timeline"]:
        assert set(entry) == {"type", "date"}
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["date"])
    check = body["verification"]
    assert (check["ok"], check["entries"], check["proved"], check["pending"], check["problem"]) == (
        True,
        len(LIFE),
        len(LIFE),
        0,
        None,
    )
    assert check["checkpoint"]["size"] >= len(LIFE)
    assert "note" not in check["checkpoint"]
    assert item["id"] not in str(body["timeline"])
    assert world.oem.id not in str(body)
    assert world.recycler.id not in str(body)


@pytest.mark.parametrize("reader", ["recycler", "oem"])
def test_an_org_in_the_chain_sees_custody_attributes_and_event_data(
    world: World, reader: str
) -> None:
    item = _drive_through_life(world)
    _publish(world)
    body = _passport(world, item["id"], getattr(world, reader))

    assert body["access"] == "interested"
    shown = body["item"]
    assert shown["holder"] == {"name": world.recycler.name, "role": "recycler"}
    assert shown["attributes"] == {
        "mass_kg": "412.5",
        "chemistry": "LFP",
        "rated_capacity_kwh": "60",
    }
    assert "head" not in shown
    by_type = {e["type"]: e for e in body["timeline"]}
    assert by_type["collected"]["data"] == {"site": "Dock 3", "mass_kg": "410.2"}
    assert by_type["collected"]["by"] == {"name": world.recycler.name, "role": "recycler"}
    assert by_type["assessed"]["data"] == {"soh_pct": "71.5", "grade": "recycle"}
    assert by_type["recycled"]["data"]["input_mass_kg"] == "410.2"
    assert by_type["transferred"]["data"] == {"to_org": world.recycler.name}
    # A VIN can identify the vehicle's keeper: only authorities see it.
    assert by_type["installed"]["data"] == {}
    for entry in body["timeline"]:
        assert not {"seq", "actor", "hash", "prev", "item_prev"} & set(entry)
        assert entry["ts"].startswith(entry["date"])
    assert world.recycler.id not in str(body)
    assert body["verification"]["ok"] is True


def test_a_regulator_sees_every_field_ids_and_hashes(world: World) -> None:
    item = _drive_through_life(world)
    _publish(world)
    body = _passport(world, item["id"], world.regulator)
    history = _history(world, item["id"])

    assert body["access"] == "regulator"
    shown = body["item"]
    assert shown["manufacturer"]["id"] == world.oem.id
    assert shown["holder"]["id"] == world.recycler.id
    assert shown["head"] == history[-1]["hash"]
    assert len(body["timeline"]) == len(history)
    for seen, entry in zip(body["timeline"], history, strict=True):
        for name in ("seq", "ts", "actor", "type", "data", "prev", "item_prev", "hash", "sig"):
            assert seen[name] == entry[name], name
        # The fields shown rebuild the signed bytes (DESIGN.md's entry) and so the hash.
        fields = {
            name: seen[name]
            for name in ("seq", "ts", "actor", "type", "data", "prev", "item_prev", "sig")
        }
        rebuilt = canonical_json({"v": 1, "item": item["id"], **fields})
        assert leaf_hash(rebuilt).hex() == seen["hash"]
    installed = next(e for e in body["timeline"] if e["type"] == "installed")
    assert installed["data"] == {"vin": "LSVAU2180N2183294"}
    transferred = next(e for e in body["timeline"] if e["type"] == "transferred")
    assert transferred["data"] == {"to_org": world.recycler.id}
    assert transferred["names"] == {"to_org": world.recycler.name}
    note = body["verification"]["checkpoint"]["note"]
    assert note == world.client.get("/v1/log/checkpoint").text
    assert body["verification"]["ok"] is True


def test_a_bad_bearer_key_is_refused_not_downgraded(world: World) -> None:
    item = register(world.client, world.oem)
    response = world.client.get(
        f"/p/{item['id']}", headers={**JSON, "Authorization": "Bearer rtr_not_a_key"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM


def test_only_the_public_tier_may_be_cached(world: World) -> None:
    item = register(world.client, world.oem)
    public = world.client.get(f"/p/{item['id']}", headers=JSON)
    keyed = world.client.get(f"/p/{item['id']}", headers={**JSON, **world.recycler.headers})
    assert public.headers["cache-control"] == "no-cache"
    assert keyed.headers["cache-control"] == "private, no-store"
    for response in (public, keyed):
        assert {"Accept", "Authorization", "Cookie"} <= {
            v.strip() for v in response.headers["vary"].split(",")
        }


# -- links between passports -------------------------------------------------------


def test_second_life_and_parts_link_their_passports(world: World) -> None:
    c = world.client
    pack = register(c, world.oem)
    to_state(c, world.oem, world.recycler, pack["id"], "assessed")
    data = event_data("repurposed")
    written = event(c, world.recycler, pack["id"], "repurposed", data)
    new_id = written["entries"][1]["item"]
    module = register(c, world.oem, registration("battery_module"))
    to_state(c, world.oem, world.recycler, module["id"], "collected")
    parts = event(
        c,
        world.recycler,
        module["id"],
        "dismantled",
        event_data("dismantled", kind="battery_module"),
    )
    cell_id = parts["entries"][1]["item"]

    old = _passport(world, pack["id"])
    assert [(s["id"], s["code"]) for s in old["item"]["successors"]] == [(new_id, data["new_code"])]
    new = _passport(world, new_id)
    assert new["item"]["origin"]["id"] == pack["id"]
    assert new["item"]["origin"]["code"] == pack["code"]
    assert [ch["id"] for ch in _passport(world, module["id"])["item"]["children"]] == [cell_id]
    cell = _passport(world, cell_id)
    assert cell["item"]["parent"]["id"] == module["id"]
    assert cell["item"]["kind_name"] == "Battery cell"

    page = c.get(f"/p/{new_id}").text
    assert f'href="/p/{pack["id"]}"' in page
    assert "Second life of" in page
    page = c.get(f"/p/{module['id']}").text
    assert f'href="/p/{cell_id}"' in page


# -- the HTML page -----------------------------------------------------------------


def test_the_html_page_lists_every_event_in_its_timeline(world: World) -> None:
    item = _drive_through_life(world)
    _publish(world)
    for org in (None, world.recycler, world.regulator):
        response = world.client.get(f"/p/{item['id']}", headers=org.headers if org else {})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        page = response.text
        assert re.findall(r'<li data-event="([a-z_]+)"', page) == LIFE
        assert item["code"] in page
        assert "Battery pack" in page
        assert "lithium iron phosphate" in page
        assert "2021-03-04" in page
        assert 'data-verified="true"' in page
        assert 'data-state="recycled"' in page
        if org is None:
            assert "Dock 3" not in page
            assert world.recycler.name not in page
        else:
            assert "Dock 3" in page
            assert "410.2 kg" in page
            assert "71.5 %" in page
            assert f"by {world.recycler.name}" in page
    # The regulator's page, the last one fetched: every hash, and ids beside names.
    for entry in _history(world, item["id"]):
        assert entry["hash"] in page
    assert f"{world.recycler.name} ({world.recycler.id})" in page


def test_recorded_text_is_escaped_on_the_page(world: World) -> None:
    item = register(
        world.client, world.oem, registration(attributes={"note": "<script>alert(1)</script>"})
    )
    page = world.client.get(f"/p/{item['id']}", headers=world.oem.headers).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_pv_module_page_has_no_battery_code_section(world: World) -> None:
    item = register(world.client, world.oem, registration("pv_module"))
    page = world.client.get(f"/p/{item['id']}").text
    assert "PV module" in page
    assert "Production date" not in page
    assert re.findall(r'<li data-event="([a-z_]+)"', page) == ["registered"]


def test_entries_newer_than_the_checkpoint_are_pending_not_failing(world: World) -> None:
    item = register(world.client, world.oem)
    _publish(world)
    event(world.client, world.oem, item["id"], "retired", {"reason": "end of warranty"})

    check = _passport(world, item["id"])["verification"]
    assert (check["ok"], check["proved"], check["pending"]) == (True, 1, 1)
    page = world.client.get(f"/p/{item['id']}").text
    assert 'data-verified="pending"' in page


# -- not found ---------------------------------------------------------------------


@pytest.mark.parametrize("item_id", ["itm_01JD8Z3K5V7W9XQRSTABCDEFGH", "nonsense", "x" * 300])
def test_an_unknown_id_is_a_404_page_or_problem(world: World, item_id: str) -> None:
    page = world.client.get(f"/p/{item_id}", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "No passport for this label" in page.text
    problem = world.client.get(f"/p/{item_id}", headers=JSON)
    assert problem.status_code == 404
    assert problem.headers["content-type"] == PROBLEM
    assert problem.json()["code"] == "not-found"


def test_html_is_the_default_and_json_wins_only_when_preferred(world: World) -> None:
    item = register(world.client, world.oem)
    for accept, kind in [
        ("", "text/html"),
        ("*/*", "text/html"),
        ("text/html,application/json;q=0.9", "text/html"),
        ("application/json", "application/json"),
        ("text/html;q=0.5, application/json", "application/json"),
    ]:
        response = world.client.get(f"/p/{item['id']}", headers={"Accept": accept})
        assert response.headers["content-type"].startswith(kind), accept


# -- the station's sign-in ------------------------------------------------------------


def test_the_station_sign_in_opens_a_session_that_passport_pages_honour(world: World) -> None:
    """The cookie holds a session id, never the key (``test_passport_session.py``)."""
    c = world.client
    item = register(c, world.oem)
    to_state(c, world.oem, world.recycler, item["id"], "collected")
    refused = c.post("/scan/session", headers={"Authorization": "Bearer rtr_wrong"})
    assert refused.status_code == 401
    assert refused.headers["content-type"] == PROBLEM

    signed_in = c.post("/scan/session", headers=world.recycler.headers)
    assert signed_in.status_code == 200
    assert signed_in.json()["id"] == world.recycler.id
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=rts_")
    assert world.recycler.key not in cookie
    for flag in ("HttpOnly", "Path=/", "SameSite=lax"):
        assert flag.lower() in cookie.lower()
    session = signed_in.cookies[SESSION_COOKIE]

    c.cookies.clear()
    cookie_of = {"Cookie": f"{SESSION_COOKIE}={session}"}
    keyed = c.get(f"/p/{item['id']}", headers={**JSON, **cookie_of})
    assert keyed.json()["access"] == "interested"
    page = c.get(f"/p/{item['id']}", headers=cookie_of).text
    assert f"Signed in: {world.recycler.name}" in page
    stale = c.get(f"/p/{item['id']}", headers={**JSON, "Cookie": f"{SESSION_COOKIE}=rts_gone"})
    assert stale.status_code == 200
    assert stale.json()["access"] == "public"
    assert f'{SESSION_COOKIE}=""' in stale.headers["set-cookie"]

    signed_out = c.delete("/scan/session", headers=cookie_of)
    assert signed_out.status_code == 204
    assert f'{SESSION_COOKIE}=""' in signed_out.headers["set-cookie"]


def test_the_scan_station_page_and_its_assets_are_served(world: World) -> None:
    c = world.client
    page = c.get("/scan")
    assert page.status_code == 200
    for control in ('<label for="api-key">', '<label for="scan-input">', '<label for="site">'):
        assert control in page.text
    for asset, kind in [
        ("/static/scan.js", "javascript"),
        ("/static/retrace.css", "text/css"),
        ("/static/vendor/zxing_wasm/reader/index.js", "javascript"),
        ("/static/vendor/zxing_wasm/reader/zxing_reader.wasm", "application/wasm"),
    ]:
        response = c.get(asset)
        assert response.status_code == 200, asset
        assert kind in response.headers["content-type"], asset


# -- the history check -------------------------------------------------------------


def _check_inputs(world: World, item_id: str) -> tuple[Any, list[StoredEntry], Any, Any]:
    app = world.app
    ledger, tlog = app.state.ledger, app.state.transparency
    tlog.publish()
    checkpoint = tlog.checkpoint(None)
    with ledger.store.reader() as r:
        item = r.item(item_id)
        rows = r.item_entries(item_id)
    proofs = {row.seq: tlog.inclusion(row.seq, checkpoint.size).proof for row in rows}
    return item, rows, (checkpoint.note, tlog.verifier), proofs


def _empty_checkpoint(world: World) -> str:
    """A checkpoint the log key signs over no entries: every entry is pending."""
    tlog = world.app.state.transparency
    return sign_note(checkpoint_body(tlog.name, 0, EMPTY_ROOT), tlog.name, tlog.key)


def _rehashed(row: StoredEntry, body: bytes) -> StoredEntry:
    return dataclasses.replace(row, body=body, hash=leaf_hash(body).hex())


def test_the_history_check_names_what_was_tampered_with(world: World) -> None:
    item_id = _drive_through_life(world)["id"]
    item, rows, (note, log_key), proofs = _check_inputs(world, item_id)
    assert check_history(item, rows, note, log_key, proofs).ok

    def problem(
        rows: list[StoredEntry], note: str = note, proofs: Any = proofs, item: Any = item
    ) -> str:
        check = check_history(item, rows, note, log_key, proofs)
        assert not check.ok
        assert check.problem is not None
        return check.problem

    collected = next(i for i, r in enumerate(rows) if r.type == "collected")
    edited = rows[collected].body.replace(b'"Dock 3"', b'"Dock 4"')
    # Bytes changed under the stored hash.
    assert "stored hash" in problem(
        [
            *rows[:collected],
            dataclasses.replace(rows[collected], body=edited),
            *rows[collected + 1 :],
        ]
    )
    # Bytes and hash rewritten together: the signed tree does not hold that leaf.
    rewritten = _rehashed(rows[collected], edited)
    assert f"entry {rewritten.seq}: not proved" in problem(
        [*rows[:collected], rewritten, *rows[collected + 1 :]]
    )
    # ... and were it not in a checkpoint yet, the next entry no longer links to it.
    assert "item_prev" in problem(
        [*rows[:collected], rewritten, *rows[collected + 1 :]],
        proofs={},
        note=_empty_checkpoint(world),
    )
    # The last entry rewritten: the item's head no longer matches, nor does the proof.
    last = rows[-1].body.replace(b'"hydrometallurgy"', b'"pyrometallurgy"')
    assert "not proved" in problem([*rows[:-1], _rehashed(rows[-1], last)])
    # An entry dropped from the end.
    assert "head" in problem(rows[:-1])
    # An entry dropped from the middle.
    assert "item_prev" in problem([*rows[:2], *rows[3:]])
    # A proof that leads elsewhere.
    wrong = {**proofs, rows[0].seq: ["00" * 32] * len(proofs[rows[0].seq])}
    assert "not proved" in problem(rows, proofs=wrong)
    # A checkpoint signed by another key.
    body, _ = split_note(note)
    name = log_key.name
    forged = sign_note(body, name, generate_private_key())
    assert "checkpoint" in problem(rows, note=forged)
    # No entries at all.
    assert problem([]) == "the item has no entries"
