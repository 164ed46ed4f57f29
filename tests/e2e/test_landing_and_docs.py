"""The landing page and the API docs in a real browser.

The docs load nothing but from this service: every request to another host is
blocked, and Swagger UI and ReDoc still render every operation. The landing page
fits a 1280 px screen with its totals in view, links items to their passports,
and signs a regulator in to open passports at the regulator's access level.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ledger.registry import EVENTS, RECORDABLE
from tests.e2e.conftest import ARTIFACTS, DESKTOP, PHONE, Stage, open_page

LOCAL = {"127.0.0.1", "localhost"}


def _offline(page: Any) -> list[tuple[str, str]]:
    """Abort every request to another host; the list of what was refused."""
    refused: list[tuple[str, str]] = []

    def route(request_route: Any) -> None:
        request = request_route.request
        if urlsplit(request.url).hostname in LOCAL:
            request_route.continue_()
        else:
            refused.append((request.resource_type, request.url))
            request_route.abort()

    page.route("**/*", route)
    return refused


def _paths(stage: Stage) -> dict[str, Any]:
    paths: dict[str, Any] = stage.api.get("/openapi.json").json()["paths"]
    return paths


def test_swagger_ui_renders_every_operation_offline(stage: Stage, page_errors: list[str]) -> None:
    page = open_page(stage, DESKTOP, page_errors)
    refused = _offline(page)
    page.goto("/docs")
    operations = page.locator(".opblock")
    operations.first.wait_for()
    expected = sum(len(methods) for methods in _paths(stage).values())
    assert operations.count() == expected
    assert page.locator(".opblock-summary-path", has_text="/v1/events/bulk").count() == 1
    # Each event type's example is offered to pick, with its data.
    op = page.locator(".opblock", has_text="/v1/items/{item_id}/events").first
    op.locator(".opblock-summary").click()
    choose = op.locator(".examples-select select").first
    assert choose.locator("option").all_inner_texts() == [EVENTS[n].label for n in RECORDABLE]
    choose.select_option(label=EVENTS["dismantled"].label)
    shown = op.locator(".body-param__example, .highlight-code").first
    assert '"children"' in shown.inner_text()
    page.screenshot(path=str(ARTIFACTS / "docs-swagger-desktop.png"))
    assert refused == []
    page.context.close()
    assert page_errors == []


def test_redoc_renders_every_operation_offline(stage: Stage, page_errors: list[str]) -> None:
    page = open_page(stage, DESKTOP, page_errors)
    refused = _offline(page)
    page.goto("/redoc")
    operations = page.locator("[data-section-id^='operation/']")
    operations.first.wait_for()
    expected = sum(len(methods) for methods in _paths(stage).values())
    assert operations.count() == expected
    page.screenshot(path=str(ARTIFACTS / "docs-redoc-desktop.png"))
    # Only ReDoc's own footer logo is asked of the internet; no script, style or font.
    assert [kind for kind, _url in refused if kind != "image"] == []
    page.context.close()


def _no_sideways_scroll(page: Any) -> bool:
    return bool(
        page.evaluate(
            "document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth"
        )
    )


def _one_line(locator: Any) -> bool:
    """The element's text sits on one line (its box is no taller than its line height)."""
    return bool(
        locator.evaluate(
            "el => el.getBoundingClientRect().height <= "
            "1.5 * parseFloat(getComputedStyle(el).lineHeight)"
        )
    )


def test_the_landing_page_fits_a_laptop_and_links_everything(
    stage: Stage, page_errors: list[str]
) -> None:
    item = stage.register()
    stage.record(stage.oem, item["id"], "retired", {"reason": "capacity below 80%"})
    page = open_page(stage, {"width": 1280, "height": 900}, page_errors)
    page.goto("/")
    assert _no_sideways_scroll(page), "the landing page scrolls sideways at 1280 px"
    total = page.locator("table.states th", has_text="total")
    box = total.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 1280, box
    # The total column is not hidden inside a scrolled table either.
    scroller = page.locator("table.states").locator("xpath=..")
    assert scroller.evaluate("el => el.scrollWidth <= el.clientWidth")
    first = page.locator("table.recent tbody tr").first
    assert _one_line(first.locator("time"))
    assert _one_line(first.locator("td.name"))
    page.screenshot(path=str(ARTIFACTS / "landing-desktop.png"), full_page=True)

    # Items open their passports; an org goes to its line among the orgs.
    for name in ("Scan station", "API documentation", "Signed checkpoint"):
        assert page.get_by_role("link", name=name).count() == 1
    links = page.locator(f"table.recent a[href='/p/{item['id']}']")
    assert links.count() >= 2  # registered and retired
    org_link = page.locator("table.recent td.name a", has_text=stage.oem.name).first
    target = org_link.get_attribute("href")
    assert target is not None
    assert page.locator(f"tr{target}").inner_text().split("\t")[:2] == [stage.oem.name, "oem"]
    assert stage.oem.id not in page.inner_text("main")  # org ids are for regulators
    links.first.click()
    page.wait_for_url(f"**/p/{item['id']}")
    assert page.get_by_role("heading", level=1).inner_text() == item["code"]
    page.context.close()

    phone = open_page(stage, PHONE, page_errors)
    phone.goto("/")
    assert _no_sideways_scroll(phone), "the landing page scrolls sideways on a phone"
    phone.screenshot(path=str(ARTIFACTS / "landing-phone.png"), full_page=True)
    phone.context.close()
    assert page_errors == []


def test_a_regulator_signs_in_on_the_landing_page_to_see_the_full_passport(
    stage: Stage, page_errors: list[str]
) -> None:
    item = stage.register()
    hashes = [e["hash"] for e in stage.history(item["id"])]
    page = open_page(stage, DESKTOP, page_errors)
    page.goto("/")
    page.get_by_role("link", name="Sign in to open passports").click()
    page.get_by_label("API key").fill("rtr_not_a_key_at_all_0123456789")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="key").wait_for()
    page.get_by_label("API key").fill(stage.regulator.key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("status").filter(has_text=f"{stage.regulator.name} (regulator)").wait_for()
    page.get_by_label("Open a passport: item id").fill(item["id"])
    page.get_by_role("button", name="Open").click()
    page.wait_for_url(f"**/p/{item['id']}")
    text = page.inner_text("main")
    assert all(h in text for h in hashes)  # the regulator's tier: every entry's hash
    assert stage.oem.id in text
    page.screenshot(path=str(ARTIFACTS / "landing-regulator-passport.png"), full_page=True)

    # Signed out, the same passport is the public one again.
    page.goto("/")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    page.goto(f"/p/{item['id']}")
    assert not any(h in page.inner_text("main") for h in hashes)
    page.context.close()
    assert page_errors == []
