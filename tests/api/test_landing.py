"""The landing page (``GET /``): the ledger at a glance, and a link to everything else.

Items link to their passports, orgs to their line in the list of orgs (by name, role
and region: org ids are for regulators), the other pages are linked, the oversight
dashboard only when this service has one. How it looks is ``tests/e2e``'s.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from fastapi.responses import HTMLResponse

from tests.conftest import World
from tests.factories import event, register


class _Page(HTMLParser):
    """The links of a page and the ids of its elements."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        if found.get("id"):
            self.ids.add(str(found["id"]))


def _page(world: World) -> tuple[str, _Page]:
    answer = world.client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = _Page()
    page.feed(answer.text)
    return answer.text, page


def test_items_link_to_passports_and_orgs_to_their_line(world: World) -> None:
    c = world.client
    item = register(c, world.oem)
    event(c, world.oem, item["id"], "retired", {"reason": "worn"})
    html, page = _page(world)
    assert page.links.count(f"/p/{item['id']}") == 2  # its registered and retired entries
    org_links = [link for link in page.links if link.startswith("#org-")]
    assert org_links
    assert {link[1:] for link in org_links} <= page.ids
    row = re.search(rf'<tr id="{org_links[0][1:]}">(.*?)</tr>', html, re.S)
    assert row is not None
    assert world.oem.name in row.group(1)
    for org in world.orgs.values():
        assert org.name in html
        assert org.id not in html


def test_the_other_pages_are_linked(world: World) -> None:
    _, page = _page(world)
    for path in ("/scan", "/docs", "/redoc", "/v1/log/checkpoint", "/v1/log/key", "#signin"):
        assert path in page.links, path
    assert "signin-form" in page.ids
    # The dashboard is linked if, and only if, this service has one.
    has_dashboard = world.client.get("/audit").status_code != 404
    assert ("/audit" in page.links) == has_dashboard


def test_the_dashboard_is_linked_once_the_service_has_one(world: World) -> None:
    world.app.add_api_route("/audit", lambda: HTMLResponse("dashboard"), methods=["GET"])
    _, page = _page(world)
    assert "/audit" in page.links


def test_the_sign_in_opens_passports_at_the_keys_tier(world: World) -> None:
    """The landing page signs in through the scan station's session: the key is checked,
    then passports opened in this browser show the key's tier, until sign-out."""
    c = world.client
    item = register(c, world.oem)["id"]
    accept = {"Accept": "application/json"}
    assert c.get(f"/p/{item}", headers=accept).json()["access"] == "public"
    refused = c.post("/scan/session", headers={"Authorization": "Bearer rtr_nope_0123456789"})
    assert refused.status_code == 401
    assert c.get(f"/p/{item}", headers=accept).json()["access"] == "public"
    signed = c.post("/scan/session", headers=world.regulator.headers)
    assert signed.status_code == 200
    assert (signed.json()["name"], signed.json()["role"]) == (world.regulator.name, "regulator")
    assert "HttpOnly" in signed.headers["set-cookie"]
    assert world.regulator.key not in signed.headers["set-cookie"]
    assert c.get(f"/p/{item}", headers=accept).json()["access"] == "regulator"
    assert c.delete("/scan/session").status_code == 204
    assert c.get(f"/p/{item}", headers=accept).json()["access"] == "public"
