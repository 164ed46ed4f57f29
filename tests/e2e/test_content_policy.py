"""Every page works under its Content-Security-Policy in a real browser.

Chromium reports each thing a policy blocks as a ``securitypolicyviolation``
event; a listener installed before any page script runs collects them. The
landing page (with its sign-in), the passport, the scan station and the docs
must work with none.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import DESKTOP, Stage, open_page

_LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile || document.location.pathname}:${e.lineNumber}`);
});
"""


def _watched(stage: Stage, errors: list[str]) -> Any:
    page = open_page(stage, DESKTOP, errors)
    page.add_init_script(_LISTEN)
    return page


def _goto(page: Any, path: str) -> None:
    """Open ``path``, which must come with a policy (or this test proves nothing)."""
    response = page.goto(path)
    assert "default-src" in response.headers.get("content-security-policy", ""), path


def _violations(page: Any) -> list[str]:
    found: list[str] = page.evaluate("window.__violations")
    return found


def test_the_landing_page_and_a_passport_run_under_their_policy(
    stage: Stage, page_errors: list[str]
) -> None:
    item = stage.register()
    page = _watched(stage, page_errors)
    _goto(page, "/")
    page.locator("table.states").wait_for()
    # The bars of the items-by-state chart have their widths without a style attribute.
    widths = page.locator(".bar .track > *:first-child").evaluate_all(
        "bars => bars.map(b => b.getBoundingClientRect().width)"
    )
    assert widths
    assert max(widths) > 0
    assert _violations(page) == []

    # The sign-in runs (its script is a file of this origin) and opens the passport.
    page.get_by_label("API key").fill(stage.regulator.key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("status").filter(has_text=stage.regulator.name).wait_for()
    assert _violations(page) == []
    _goto(page, f"/p/{item['id']}")
    page.get_by_role("heading", level=1).wait_for()
    assert stage.oem.id in page.inner_text("main")  # the regulator's tier
    assert _violations(page) == []
    _goto(page, "/p/itm_no_such_item")
    page.get_by_role("heading", level=1).wait_for()
    assert _violations(page) == []
    page.context.close()
    assert page_errors == []


@pytest.mark.parametrize(("path", "ready"), [("/docs", ".opblock"), ("/redoc", "h1")])
def test_the_docs_run_under_their_policy(
    stage: Stage, page_errors: list[str], path: str, ready: str
) -> None:
    page = _watched(stage, page_errors)
    _goto(page, path)
    page.locator(ready).first.wait_for()
    page.wait_for_timeout(300)  # late style and worker loads report too
    # ReDoc's footer asks its maker's site for a logo: refusing it is the policy's job.
    logo = "img-src blocked https://cdn.redoc.ly/"
    assert [v for v in _violations(page) if not v.startswith(logo)] == []
    page.context.close()


def test_the_scan_station_runs_under_its_policy(stage: Stage, page_errors: list[str]) -> None:
    page = _watched(stage, page_errors)
    _goto(page, "/scan")
    page.get_by_label("API key").wait_for()
    assert _violations(page) == []
    page.context.close()
