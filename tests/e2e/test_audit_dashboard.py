"""The oversight dashboard in a real browser: signed in as a regulator over a ledger with a history.

The page's sign-in (its own script, ``audit.js``) opens the session; the charts, drawn
on the server as inline SVG, must be visible, link to their tables and run under the
page's Content-Security-Policy with no violation and no console error. A screenshot
of the whole page is kept and must be a PNG with something drawn on it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from tests.e2e.conftest import ARTIFACTS, DESKTOP, Stage, bearer, open_page
from tests.e2e.test_content_policy import _LISTEN, _violations
from tests.factories import battery_code

CHARTS = ("inventory", "monthly", "recovery", "deadlines", "anomalies")


def _history(stage: Stage) -> None:
    """Items at several stages, one recycled against declared content, one reported late."""
    body = {
        "kind": "battery_pack",
        "code": battery_code(),
        "attributes": {"mass_kg": "412.5", "materials": {"li": "5", "ni": "20"}},
    }
    answer = stage.api.post("/v1/items", json=body, headers=bearer(stage.oem.key))
    assert answer.status_code == 201, answer.text
    recycled = answer.json()["item"]["id"]
    stage.record(stage.oem, recycled, "retired", {"reason": "capacity below 80%"})
    stage.record(stage.oem, recycled, "transferred", {"to_org": stage.recycler.id})
    stage.record(stage.recycler, recycled, "collected", {"site": "Dock 3", "mass_kg": "410"})
    recovered = [
        {"material": "lithium concentrate", "mass_kg": "4.6", "element": "li"},
        {"material": "mixed hydroxide", "mass_kg": "18", "element": "ni"},
    ]
    for line in recovered:
        line["element_mass_kg"] = line["mass_kg"]
    stage.record(
        stage.recycler,
        recycled,
        "recycled",
        {"input_mass_kg": "400", "process": "hydrometallurgy", "recovered": recovered},
    )
    late = stage.register()
    stage.record(stage.oem, late["id"], "retired", {"reason": "worn", "date": "2026-01-05"})
    stage.register("battery_module")
    stage.ready_to_collect()


def _screenshot_is_drawn(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000  # a page of charts and tables, not an empty canvas
    image = Image.open(io.BytesIO(data)).convert("RGB")
    assert image.width == DESKTOP["width"]
    assert image.height > DESKTOP["height"]  # the whole page, taller than the window
    colours = image.getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 50  # text, bars in several colours, lines


def test_a_regulator_signs_in_and_sees_the_charts(
    stage: Stage, page_errors: list[str], tmp_path: Path
) -> None:
    _history(stage)
    page: Any = open_page(stage, DESKTOP, page_errors)
    page.add_init_script(_LISTEN)
    refused = page.goto("/audit")
    assert refused.status == 401
    assert "default-src" in refused.headers.get("content-security-policy", "")
    page.get_by_label("API key").fill(stage.regulator.key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Oversight", exact=True, level=1).wait_for()
    assert stage.regulator.name in page.inner_text("header")

    for name in CHARTS:
        chart = page.locator(f"svg#chart-{name}")
        chart.wait_for()
        box = chart.bounding_box()
        assert box is not None
        assert box["width"] > 300, name
        assert box["height"] > 40, name
        assert page.locator(f"#{name}-table").count() == 1
    assert page.locator("svg#chart-inventory rect[data-value]").count() >= 3
    assert page.locator("svg#chart-recovery rect[data-rate]").count() >= 2
    assert page.locator("svg#chart-deadlines rect[data-value]").count() >= 1
    assert int(page.locator("[data-figure=items]").inner_text()) >= 5

    # A bar leads to its row in the table.
    page.locator("svg#chart-deadlines a").first.click()
    assert "#deadlines-row-" in page.url
    page.locator("tr:target").wait_for()

    shot = tmp_path / "audit.png"
    page.screenshot(path=str(shot), full_page=True)
    _screenshot_is_drawn(shot)
    (ARTIFACTS / "audit-desktop.png").write_bytes(shot.read_bytes())
    assert _violations(page) == []
    page.context.close()
    assert page_errors == []
