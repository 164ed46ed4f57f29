"""The scan station records every event of the dock through forms made from the event registry.

A recycler scans an item (typed by the handheld scanner's keystrokes) and
records what it does to it: assessed, transferred, dismantled into parts,
repurposed, recycled into materials. Each write is checked through the API;
refusals show next to the field their JSON pointer names; a failed scan
leaves nothing of the previous item; the page runs under its strict
Content-Security-Policy without a single violation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, DESKTOP, PHONE, Org, Stage, bearer, open_page
from tests.factories import ADMIN_KEY, battery_code

# Records the page's CSP violations; Playwright injects it past the page's CSP.
WATCH_CSP = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective}: ${e.blockedURI}`);
});
"""


@pytest.fixture(scope="module")
def second_recycler(stage: Stage) -> Org:
    response = stage.api.post(
        "/v1/orgs",
        json={"name": "Guangzhou Materials", "role": "recycler", "region": "CN-GD"},
        headers=bearer(ADMIN_KEY),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Org(body["org"]["id"], "Guangzhou Materials", body["api_key"])


@pytest.fixture
def station(stage: Stage, page_errors: list[str]) -> Iterator[Any]:
    """The station, signed in as the recycler, on a desktop-sized page."""
    page = open_page(stage, DESKTOP, page_errors)
    page.add_init_script(WATCH_CSP)
    page.goto("/scan")
    page.get_by_label("API key").fill(stage.recycler.key)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#who").filter(has_text=stage.recycler.name).wait_for()
    yield page
    assert page.evaluate("window.__violations") == []
    page.context.close()
    assert page_errors == []


def _collected(stage: Stage, assessed: bool = False) -> dict[str, Any]:
    item = stage.ready_to_collect()
    stage.record(stage.recycler, item["id"], "collected", {"site": "Dock 3", "mass_kg": "410.2"})
    if assessed:
        stage.record(
            stage.recycler, item["id"], "assessed", {"soh_pct": "83", "grade": "repurpose"}
        )
    return item


def _scan(page: Any, text: str) -> None:
    """What a handheld scanner does: keystrokes into the focused field, then Enter."""
    assert page.evaluate("document.activeElement.id") == "scan-input"
    page.keyboard.type(text, delay=2)
    page.keyboard.press("Enter")


def _scanned(page: Any, item: dict[str, Any]) -> None:
    _scan(page, item["code"])
    page.locator(f"#result[data-item='{item['id']}'] #events .offer").wait_for()


def _open_form(page: Any, event_type: str, label: str) -> Any:
    button = page.locator("#events .offer").get_by_role("button", name=label, exact=True)
    button.click()
    form = page.locator(f"form.event-form[data-event='{event_type}']")
    form.wait_for()
    assert button.get_attribute("aria-expanded") == "true"
    return form


def _field(form: Any, pointer: str) -> Any:
    return form.locator(f"[data-pointer='{pointer}']")


def _record(page: Any, form: Any, event_type: str) -> dict[str, str]:
    """Submit; the note of what was written, once the item is shown again."""
    form.locator("button.record").click()
    note = page.locator(f"#recorded[data-event='{event_type}']")
    note.wait_for()
    assert page.evaluate("document.activeElement.id") == "scan-input"
    return {
        "seq": note.locator("[data-field=seq]").inner_text(),
        "hash": note.locator("[data-field=hash]").inner_text(),
        "state": note.locator("[data-field=state]").inner_text(),
    }


def _landed(stage: Stage, item_id: str, event_type: str, note: dict[str, str]) -> dict[str, Any]:
    """The entry the note names is the item's latest, of that type, by the recycler."""
    last = stage.history(item_id)[-1]
    assert (last["type"], last["actor"]) == (event_type, stage.recycler.id)
    assert note["seq"] == f"#{last['seq']}"
    assert note["hash"] == last["hash"]
    data: dict[str, Any] = last["data"]
    return data


def _offered(page: Any) -> list[str]:
    buttons = page.locator("#events .offer button[data-event]")
    return [buttons.nth(i).get_attribute("data-event") for i in range(buttons.count())]


def test_a_recycler_assesses_and_dismantles_an_item_into_two_parts(
    stage: Stage, station: Any
) -> None:
    page = station
    item = _collected(stage)
    _scanned(page, item)
    assert _offered(page) == ["transferred", "assessed", "dismantled", "recycled", "disposed"]
    assert "With you (collected)" in page.inner_text("#result-body")

    form = _open_form(page, "assessed", "Assessed")
    _field(form, "/data/soh_pct").fill("71,5")  # a decimal comma is read as a point
    _field(form, "/data/grade").select_option("recycle")
    note = _record(page, form, "assessed")
    assert note["state"] == "assessed"
    assert _landed(stage, item["id"], "assessed", note) == {"soh_pct": "71.5", "grade": "recycle"}
    assert stage.item(item["id"])["state"] == "assessed"
    # The item is shown again with what may be recorded now.
    page.locator("#result-body [data-field=state]").filter(has_text="assessed").wait_for()
    assert "dismantled" in _offered(page)
    assert "assessed" not in _offered(page)

    form = _open_form(page, "dismantled", "Dismantled")
    children = form.locator("ol.rows > li.row-item[data-row]")
    assert children.count() == 1
    form.get_by_role("button", name="Add a line to Parts").click()
    form.get_by_role("button", name="Add a line to Parts").click()
    assert children.count() == 3
    form.get_by_role("button", name="Remove line 3 of Parts").click()
    assert children.count() == 2
    codes = [battery_code("battery_module"), battery_code("battery_module")]
    for index, code in enumerate(codes):
        _field(form, f"/data/children/{index}/kind").select_option("battery_module")
        _field(form, f"/data/children/{index}/code").fill(code)
    # The first part's measured mass, as an attribute (a name and a value).
    form.locator("#f-data-children-0-attributes-add").click()
    page.keyboard.type("mass_kg")  # the new name field has the focus
    form.locator("#f-data-children-0-attributes--0-value").fill("38.2")
    _shoot(page, "station-dismantle-desktop")
    note = _record(page, form, "dismantled")
    assert note["state"] == "dismantled"
    data = _landed(stage, item["id"], "dismantled", note)
    assert [(c["kind"], c["code"], c["attributes"]) for c in data["children"]] == [
        ("battery_module", codes[0], {"mass_kg": "38.2"}),
        ("battery_module", codes[1], {}),
    ]
    parent = stage.item(item["id"])
    assert parent["state"] == "dismantled"
    assert sorted(parent["children"]) == sorted(c["item"] for c in data["children"])
    born = page.locator("#recorded [data-new-item]")
    assert born.count() == 2
    for child in data["children"]:
        assert (
            child["code"]
            in page.locator(f"#recorded [data-new-item='{child['item']}']").inner_text()
        )
        part = stage.item(child["item"])
        assert (part["parent"], part["holder"], part["state"]) == (
            item["id"],
            stage.recycler.id,
            "registered",
        )
    # A terminal item offers nothing more.
    page.locator("#result-body").filter(has_text="Its life here has ended").wait_for()
    assert page.locator("#events").is_hidden()
    _shoot(page, "station-dismantled-desktop")


def test_a_recycler_repurposes_recycles_and_transfers_items(
    stage: Stage, station: Any, second_recycler: Org
) -> None:
    page = station
    second = _collected(stage, assessed=True)
    _scanned(page, second)
    form = _open_form(page, "repurposed", "Repurposed")
    new_code = battery_code()
    _field(form, "/data/new_code").fill(new_code)
    _field(form, "/data/application").fill("grid storage")
    note = _record(page, form, "repurposed")
    assert note["state"] == "repurposed"
    data = _landed(stage, second["id"], "repurposed", note)
    assert (data["new_code"], data["application"]) == (new_code, "grid storage")
    successor = stage.item(data["new_item"])
    assert (successor["code"], successor["origin"]) == (new_code, second["id"])
    assert new_code in page.locator(f"#recorded [data-new-item='{data['new_item']}']").inner_text()

    scrap = _collected(stage)
    _scanned(page, scrap)
    form = _open_form(page, "recycled", "Recycled")
    _field(form, "/data/input_mass_kg").fill("410.2")
    _field(form, "/data/process").fill("hydrometallurgy")
    form.get_by_role("button", name="Add a line to Recovered").click()
    _field(form, "/data/recovered/0/material").fill("lithium carbonate")
    _field(form, "/data/recovered/0/mass_kg").fill("18.4")
    _field(form, "/data/recovered/1/material").fill("copper")
    _field(form, "/data/recovered/1/mass_kg").fill("31.0.5")
    # The refusal shows next to the field its pointer names, and nothing is written.
    form.locator("button.record").click()
    problem = form.locator("[data-error-for='/data/recovered/1/mass_kg']")
    problem.filter(has_text="not a non-negative decimal").wait_for()
    assert _field(form, "/data/recovered/1/mass_kg").get_attribute("aria-invalid") == "true"
    assert form.locator(".field-error:visible").count() == 1
    assert stage.item(scrap["id"])["state"] == "collected"
    # Recovered more than went in: the ledger's rule names the list of recovered lines.
    _field(form, "/data/recovered/1/mass_kg").fill("400")
    form.locator("button.record").click()
    form.locator("[data-error-for='/data/recovered']").filter(has_text="exceeds").wait_for()
    assert problem.is_hidden()
    _shoot(page, "station-refused-desktop")
    _field(form, "/data/recovered/1/mass_kg").fill("31")
    note = _record(page, form, "recycled")
    assert note["state"] == "recycled"
    assert _landed(stage, scrap["id"], "recycled", note) == {
        "input_mass_kg": "410.2",
        "process": "hydrometallurgy",
        # The ledger adds each known compound's element and its mass (ledger.materials).
        "recovered": [
            {
                "material": "lithium carbonate",
                "mass_kg": "18.4",
                "element": "li",
                "element_mass_kg": "3.456475",
            },
            {"material": "copper", "mass_kg": "31", "element": "cu", "element_mass_kg": "31"},
        ],
    }

    passed_on = _collected(stage)
    _scanned(page, passed_on)
    form = _open_form(page, "transferred", "Custody transferred")
    to = _field(form, "/data/to_org")
    options = to.locator("option")
    names = [options.nth(i).inner_text() for i in range(options.count())]
    assert any(n.startswith(second_recycler.name) for n in names)
    assert not any(n.startswith(stage.recycler.name) for n in names)  # not to itself
    assert not any(n.startswith(stage.regulator.name) for n in names)  # nor to who holds nothing
    to.select_option(second_recycler.id)
    note = _record(page, form, "transferred")
    assert note["state"] == "collected"
    assert _landed(stage, passed_on["id"], "transferred", note) == {"to_org": second_recycler.id}
    assert stage.item(passed_on["id"])["holder"] == second_recycler.id
    page.locator("#result-body").filter(has_text="Held by Guangzhou Materials").wait_for()
    assert page.locator("#events").is_hidden()


def test_a_failed_scan_clears_the_last_scan_and_shows_the_error(stage: Stage, station: Any) -> None:
    page = station
    item = _collected(stage)
    _scanned(page, item)
    _open_form(page, "assessed", "Assessed")
    # The scanner fires while a button has the focus: its keystrokes still reach the field.
    page.locator("#events .offer button[data-event=disposed]").focus()
    page.keyboard.type("CATPB01A1B2C3DB349999998", delay=2)
    page.keyboard.press("Enter")
    failed = page.locator("#result [data-failed=true]")
    failed.wait_for()
    assert failed.get_attribute("role") == "alert"
    assert "“CATPB01A1B2C3DB349999998”: no item with" in failed.inner_text()
    result = page.locator("#result")
    assert result.is_visible()
    assert item["code"] not in result.inner_text()
    assert result.get_attribute("data-item") is None
    assert page.locator("#events").is_hidden()
    assert page.locator("form.event-form").count() == 0
    assert page.locator("#message").is_hidden()  # said once, under "Last scan"
    _shoot(page, "station-failed-scan-desktop")

    # The next label goes straight in again.
    _scanned(page, item)
    assert page.locator("#result [data-failed]").count() == 0


def _overflowing_inputs(page: Any) -> list[str]:
    """Inputs too narrow for their placeholder: each measured holding that text."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll("input[placeholder]")]
          .filter((input) => input.offsetParent !== null)
          .filter((input) => {
            const kept = input.value;
            input.value = input.placeholder;
            const over = input.scrollWidth > input.clientWidth;
            input.value = kept;
            return over;
          })
          .map((input) => `${input.id}: ${input.placeholder}`)"""
    )
    return found


def test_mass_fields_show_their_whole_placeholder_on_a_phone(
    stage: Stage, page_errors: list[str]
) -> None:
    ready = stage.ready_to_collect()
    scrap = _collected(stage)
    page = open_page(stage, PHONE, page_errors)
    page.add_init_script(WATCH_CSP)
    page.goto("/scan")
    page.get_by_label("API key").fill(stage.recycler.key)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#who").filter(has_text=stage.recycler.name).wait_for()
    _scan(page, ready["code"])
    mass = page.locator(f"#mass-{ready['id']}")
    mass.wait_for()
    assert mass.get_attribute("placeholder") == "rated 412.5"
    _scanned(page, scrap)
    form = _open_form(page, "recycled", "Recycled")
    form.get_by_role("button", name="Add a line to Recovered").click()
    masses = page.locator("input.fit")
    # the delivery line, the input and two recovered lines (a mass and an element mass each)
    assert masses.count() == 6
    assert _overflowing_inputs(page) == []
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    _shoot(page, "station-forms-phone")
    assert page.evaluate("window.__violations") == []
    page.context.close()
    assert page_errors == []


def test_the_station_is_served_under_a_strict_content_security_policy(stage: Stage) -> None:
    response = stage.api.get("/scan")
    policy = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval'"
    assert directives["style-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert "unsafe-inline" not in policy
    assert "'unsafe-eval'" not in policy
    html = response.text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []  # no inline script
    assert re.findall(r"\son[a-z]+\s*=", html) == []  # no inline handlers
    assert re.findall(r"\sstyle\s*=", html) == []  # no inline style

    forms = stage.api.get("/scan/forms").json()["events"]
    recycled = next(f for f in forms if f["type"] == "recycled")
    line = recycled["schema"]["properties"]["recovered"]["items"]["properties"]
    assert line["mass_kg"]["format"] == "decimal"
    assert line["mass_kg"]["title"] == "Mass (kg)"


def _shoot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
