"""The passport page and the scan station in a real browser, phone- and desktop-sized."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import ARTIFACTS, DESKTOP, PHONE, Org, Stage, bearer, open_page


def _shoot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _fits_width(page: Any) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


def _sign_in(page: Any, stage: Stage, shot: str | None = None, org: Org | None = None) -> None:
    org = org or stage.recycler
    page.goto("/scan")
    if shot:
        _shoot(page, shot)
    page.get_by_label("API key").fill(org.key)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#who").filter(has_text=org.name).wait_for()


def _record_delivery(page: Any, item_id: str, site: str, mass: str) -> None:
    page.get_by_label("Site").fill(site)
    page.locator(f"#mass-{item_id}").fill(mass)
    page.get_by_role("button", name="Record delivery").click()
    page.locator("#results-body tr[data-ok=true]").first.wait_for()


def _assert_collected(stage: Stage, item_id: str, site: str, mass: str) -> None:
    item = stage.item(item_id)
    assert (item["state"], item["holder"]) == ("collected", stage.recycler.id)
    last = stage.history(item_id)[-1]
    assert (last["type"], last["actor"], last["data"]) == (
        "collected",
        stage.recycler.id,
        {"site": site, "mass_kg": mass},
    )


def test_the_passport_timeline_lists_every_event_of_a_life(
    stage: Stage, page_errors: list[str]
) -> None:
    item = stage.register()
    stage.record(stage.oem, item["id"], "installed", {"site": "Shenzhen bus depot 4"})
    stage.record(stage.oem, item["id"], "retired", {"reason": "capacity below 80%"})
    stage.record(stage.oem, item["id"], "transferred", {"to_org": stage.recycler.id})
    stage.record(
        stage.oem,
        item["id"],
        "corrected",
        {"seq": stage.history(item["id"])[2]["seq"], "fields": {"reason": "thermal event"}},
    )
    stage.record(stage.recycler, item["id"], "collected", {"site": "Dock 3", "mass_kg": "410.2"})
    stage.record(stage.recycler, item["id"], "assessed", {"soh_pct": "64", "grade": "recycle"})
    stage.record(
        stage.recycler,
        item["id"],
        "recycled",
        {
            "input_mass_kg": "410.2",
            "process": "hydrometallurgy",
            "recovered": [
                {"material": "lithium carbonate", "mass_kg": "18.4"},
                {"material": "copper", "mass_kg": "31"},
            ],
        },
    )
    published = stage.api.post("/v1/log/checkpoint", headers=bearer(stage.regulator.key))
    assert published.status_code == 200
    history = [e["type"] for e in stage.history(item["id"])]
    assert len(history) == 8

    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = open_page(stage, viewport, page_errors)
        page.goto(f"/p/{item['id']}")
        events = page.locator("ol.timeline > li")
        assert events.count() == len(history)
        assert [events.nth(i).get_attribute("data-event") for i in range(len(history))] == history
        assert page.get_by_role("heading", level=1).inner_text() == item["code"]
        assert page.locator("[data-verified=true]").is_visible()
        assert "Production date" in page.inner_text("main")
        assert _fits_width(page), f"the {name} page scrolls sideways"
        _shoot(page, f"passport-public-{name}")
        page.context.close()

    page = open_page(stage, PHONE, page_errors)
    response = page.goto("/p/itm_01JD8Z3K5V7W9XQRSTABCDEFGH")
    assert response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "No passport for this label"
    _shoot(page, "passport-unknown-phone")
    page.context.close()

    # Signed in at the station, the same page shows custody and event data.
    page = open_page(stage, PHONE, page_errors)
    _sign_in(page, stage)
    page.goto(f"/p/{item['id']}")
    text = page.inner_text("main")
    for shown in (
        "Dock 3",
        "410.2 kg",
        "64 %",
        "lithium carbonate 18.4 kg",
        f"by {stage.recycler.name}",
        "thermal event",
    ):
        assert shown in text
    assert _fits_width(page)
    _shoot(page, "passport-recycler-phone")
    page.context.close()

    # A regulator sees every entry's hash and the signed checkpoint; nothing overflows.
    hashes = [e["hash"] for e in stage.history(item["id"])]
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = open_page(stage, viewport, page_errors)
        _sign_in(page, stage, org=stage.regulator)
        page.goto(f"/p/{item['id']}")
        text = page.inner_text("main")
        assert all(h in text for h in hashes)
        assert stage.oem.id in text
        assert _fits_width(page), f"the regulator's {name} page scrolls sideways"
        _shoot(page, f"passport-regulator-{name}")
        page.context.close()
    assert page_errors == []


def test_the_station_reads_a_label_from_the_camera_and_records_the_intake(
    stage: Stage, page_errors: list[str]
) -> None:
    item = stage.camera_item
    page = open_page(stage, PHONE, page_errors)
    _sign_in(page, stage, shot="station-signin-phone")
    page.get_by_role("button", name="Start camera").click()
    verdict = page.locator("#result [data-collectable]")
    verdict.filter(has_text="Ready to collect").wait_for()
    assert page.locator("#result").inner_text().count(item["code"]) == 1
    row = page.locator(f"#lines-body tr[data-item='{item['id']}']")
    row.wait_for()
    page.get_by_label("Site").fill("Dock 7, Foshan")
    page.locator(f"#mass-{item['id']}").fill("398.6")
    _shoot(page, "station-camera-phone")
    page.get_by_role("button", name="Stop camera").click()
    _record_delivery(page, item["id"], "Dock 7, Foshan", "398.6")
    assert "1 collected" in page.inner_text("#results")
    assert page.locator("#lines-body tr").count() == 0
    assert page.locator("#result").is_hidden()
    _shoot(page, "station-recorded-phone")
    page.context.close()

    _assert_collected(stage, item["id"], "Dock 7, Foshan", "398.6")
    assert page_errors == []


def test_the_station_takes_a_handheld_scanners_keystrokes(
    stage: Stage, page_errors: list[str]
) -> None:
    ready = stage.ready_to_collect()
    held = stage.register()
    stage.record(stage.oem, held["id"], "retired", {"reason": "accident damage"})
    page = open_page(stage, DESKTOP, page_errors)
    _sign_in(page, stage)
    scan_field = page.get_by_label("Label, item id or code")
    assert page.evaluate("document.activeElement.id") == "scan-input"

    # The scanner types the printed code and presses Enter.
    page.keyboard.type(held["code"])
    page.keyboard.press("Enter")
    verdict = page.locator("#result [data-collectable=false]")
    verdict.wait_for()
    assert f"held by {stage.oem.name}" in verdict.inner_text()
    assert page.locator("#lines-body tr").count() == 0

    # A code that matches nothing: the problem's detail is shown.
    page.keyboard.type("CATPB01A1B2C3DB349999999")
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert").filter(has_text="no item with")
    alert.wait_for()

    # The field keeps the focus, so the next label goes straight in: a URL this time.
    assert page.evaluate("document.activeElement.id") == "scan-input"
    page.keyboard.type(f"{stage.url}/p/{ready['id']}")
    page.keyboard.press("Enter")
    page.locator("#result [data-collectable=true]").wait_for()
    assert scan_field.input_value() == ""

    # A missing mass is caught before anything is sent.
    page.get_by_label("Site").fill("Gate 2")
    page.get_by_role("button", name="Record delivery").click()
    page.get_by_role("alert").filter(has_text="measured mass").wait_for()
    _shoot(page, "station-handheld-desktop")
    _record_delivery(page, ready["id"], "Gate 2", "405")
    _shoot(page, "station-recorded-desktop")
    page.context.close()

    _assert_collected(stage, ready["id"], "Gate 2", "405")
    assert stage.item(held["id"])["state"] == "retired"
    assert page_errors == []
