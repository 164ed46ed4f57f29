"""The oversight dashboard (``GET /audit``) on both databases.

A regulator sees every org's figures, an OEM its own; without a key or session the
answer is 401 with a sign-in. Every chart is well-formed SVG (parsed as XML) whose
marks carry exactly the figures of the report rows that ``GET /v1/reports/{name}``
gives the same caller, and links to a row of the page. How it looks in a browser is
``tests/e2e/test_audit_dashboard.py``'s.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections import Counter
from decimal import Decimal
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from api.dashboard import REPORTED
from api.sessions import SESSION_COOKIE
from hashing import generate_private_key, public_key_bytes
from hashing.note import add_cosignature
from hashing.note_keys import witness_verifier_key
from ledger.errors import NotFoundError
from ledger.reads import find_org
from ledger.reports import build_report, build_reports
from tests.conftest import World
from tests.factories import Org, event, register, registration, to_state

SVG = "{http://www.w3.org/2000/svg}"
_CHART = re.compile(r"<svg\b.*?</svg>", re.S)


class _Page(HTMLParser):
    """Links, element ids and headline figures of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.figures: dict[str, str] = {}
        self._figure: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("href"):
            self.links.append(str(found["href"]))
        if found.get("id"):
            self.ids.add(str(found["id"]))
        self._figure = found.get("data-figure")

    def handle_data(self, data: str) -> None:
        if self._figure is not None:
            self.figures[self._figure] = data.strip()
            self._figure = None


def _history(world: World) -> dict[str, str]:
    """Items of two makers at several stages; what each test needs by name."""
    c = world.client
    declared = registration()
    declared["attributes"]["materials"] = {"li": "5", "ni": "20"}
    recycled = register(c, world.oem, declared)
    to_state(c, world.oem, world.recycler, recycled["id"], "assessed")
    recovered = [
        {"material": "lithium concentrate", "mass_kg": "4.5", "element": "li"},
        {"material": "mixed hydroxide", "mass_kg": "19.9", "element": "ni"},
    ]
    for line in recovered:
        line["element_mass_kg"] = line["mass_kg"]
    event(
        c,
        world.recycler,
        recycled["id"],
        "recycled",
        {"input_mass_kg": "400", "process": "hydrometallurgy", "recovered": recovered},
    )
    late = register(c, world.oem)
    event(c, world.oem, late["id"], "retired", {"reason": "worn", "date": "2026-01-05"})
    register(c, world.oem)
    other = [register(c, world.oem2) for _ in range(2)]
    to_state(c, world.oem2, world.recycler2, other[0]["id"], "collected")
    return {"recycled": recycled["id"], "late": late["id"], "other": other[0]["id"]}


def _get(client: TestClient, org: Org) -> tuple[str, _Page]:
    answer = client.get("/audit", headers=org.headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "private, no-store"
    page = _Page()
    page.feed(answer.text)
    return answer.text, page


def _charts(html: str) -> dict[str, ET.Element]:
    charts = {}
    for text in _CHART.findall(html):
        svg = ET.fromstring(text)  # noqa: S314 -- our own page, parsed to prove it well-formed
        assert svg.tag == f"{SVG}svg"
        assert svg.get("viewBox", "").startswith("0 0 ")
        assert svg.get("role") == "img"
        assert svg.find(f"{SVG}title") is not None
        assert svg.find(f"{SVG}title").text  # type: ignore[union-attr]
        charts[str(svg.get("id"))] = svg
    return charts


def _report(client: TestClient, org: Org, name: str) -> dict[str, Any]:
    answer = client.get(f"/v1/reports/{name}", headers=org.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _marks(svg: ET.Element, tag: str) -> list[ET.Element]:
    return [e for e in svg.iter(f"{SVG}{tag}") if e.get("data-value") or e.get("data-rate")]


def test_without_a_key_or_session_the_page_offers_the_sign_in(world: World) -> None:
    c = world.client
    register(c, world.oem)
    answer = c.get("/audit")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["www-authenticate"] == "Bearer"
    assert 'id="audit-signin"' in answer.text
    assert '<script src="/static/audit.js"></script>' in answer.text
    assert "<svg" not in answer.text
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    # A session that opens nothing is forgotten; a wrong key is refused as everywhere.
    stale = c.get("/audit", headers={"Cookie": f"{SESSION_COOKIE}=made-up"})
    assert stale.status_code == 401
    assert f'{SESSION_COOKIE}=""' in stale.headers["set-cookie"]
    wrong = c.get("/audit", headers={"Authorization": "Bearer rtr_not_a_key"})
    assert wrong.status_code == 401
    assert wrong.headers["content-type"].startswith("application/problem+json")
    for path in ("/audit/reports/inventory", "/audit/entries?start=0"):
        assert c.get(path).status_code == 401, path


def test_a_regulator_sees_everything_an_oem_its_own(world: World) -> None:
    _history(world)
    c = world.client
    figures = {org: _get(c, getattr(world, org))[1].figures for org in ("regulator", "oem", "oem2")}
    assert figures["regulator"]["items"] == "5"
    assert figures["oem"]["items"] == "3"
    assert figures["oem2"]["items"] == "2"
    for org, seen in figures.items():
        caller = getattr(world, org)
        deadlines = _report(c, caller, "deadlines")["rows"]
        anomalies = _report(c, caller, "anomalies")["rows"]
        assert seen["overdue"] == str(len(deadlines)), org
        assert seen["anomalies"] == str(len(anomalies)), org
        assert seen["log"] == str(
            c.get("/v1/log/entries?limit=1", headers=world.regulator.headers).json()["size"]
        )
    assert figures["regulator"]["overdue"] != "0"  # the late retirement
    assert figures["oem2"]["overdue"] == "0"
    # 4.5 + 19.9 recovered of 5 + 20 declared.
    assert figures["regulator"]["recovery"] == "97.60%"
    assert figures["oem2"]["recovery"] == "\N{EN DASH}"  # nothing recycled in its chain


def test_the_page_reads_its_reports_together_as_each_alone(world: World) -> None:
    _history(world)
    store = world.app.state.ledger.store
    now = world.app.state.ledger.clock()
    for caller in (None, find_org(store, world.oem.id)):
        together = build_reports(store, REPORTED, caller, now)
        assert list(together) == list(REPORTED)
        assert together["inventory"].rows
        for name, report in together.items():
            assert report == build_report(store, name, caller, now), name
    with pytest.raises(NotFoundError, match="nonsense"):
        build_reports(store, ("inventory", "nonsense"), None, now)


def test_the_charts_draw_the_report_rows(world: World) -> None:
    _history(world)
    c = world.client
    for org in (world.regulator, world.oem):
        html, page = _get(c, org)
        charts = _charts(html)
        assert set(charts) == {
            "chart-inventory",
            "chart-monthly",
            "chart-recovery",
            "chart-deadlines",
            "chart-anomalies",
        }
        inventory = _report(c, org, "inventory")
        drawn: Counter[tuple[str, str]] = Counter()
        for rect in _marks(charts["chart-inventory"], "rect"):
            key = (str(rect.get("data-category")), str(rect.get("data-series")))
            drawn[key] += int(str(rect.get("data-value")))
        expected: Counter[tuple[str, str]] = Counter()
        for row in inventory["rows"]:
            expected[(row["state"].replace("_", " "), row["kind"].replace("_", " "))] += row[
                "count"
            ]
        assert drawn == expected

        dots = {
            (d.get("data-category"), d.get("data-series")): int(str(d.get("data-value")))
            for d in _marks(charts["chart-monthly"], "circle")
        }
        months = {row["month"]: row for row in inventory["monthly"]}
        names = ("registered", "retired", "collected", "recycled")
        assert {(m, n) for m in months for n in names} <= set(dots)
        for (month, name), value in dots.items():
            # Months between those with events are drawn as zeros.
            assert value == (months[str(month)][name] if month in months else 0), (month, name)

        recovery = _report(c, org, "recovery")["rows"]
        rates = [r.get("data-rate") for r in _marks(charts["chart-recovery"], "rect")]
        assert rates == [row["rate"] for row in recovery if row["rate"] is not None]
        targets = [
            Decimal(str(line.get("data-target")))
            for line in charts["chart-recovery"].iter(f"{SVG}line")
            if line.get("data-target")
        ]
        assert targets == [Decimal(t["target"]) for row in recovery for t in row["targets"]]

        for name, field in (("deadlines", "rule"), ("anomalies", "kind")):
            bars = {
                str(b.get("data-label")): int(str(b.get("data-value")))
                for b in _marks(charts[f"chart-{name}"], "rect")
            }
            rows = _report(c, org, name)["rows"]
            assert bars == dict(Counter(row[field].replace("_", " ") for row in rows)), name

        # Every mark that links, links to a row of this page.
        for svg in charts.values():
            for link in svg.iter(f"{SVG}a"):
                href = str(link.get("href"))
                assert href.startswith("#")
                assert href[1:] in page.ids, href
        for table in ("inventory", "monthly", "recovery", "deadlines", "anomalies"):
            assert f"#{table}-table" in page.links


def test_rows_link_to_passports_entries_and_reports(world: World) -> None:
    made = _history(world)
    c = world.client
    _, regulator = _get(c, world.regulator)
    assert f"/p/{made['late']}" in regulator.links  # the deadline row
    entries = [link for link in regulator.links if link.startswith("/audit/entries?")]
    assert entries
    entry = c.get(entries[0], headers=world.regulator.headers)
    assert entry.status_code == 200, entry.text
    assert entry.json()["entries"][0]["hash"]
    # Each inventory row leads to the entries behind it: listed, or one link away.
    size = c.get("/v1/log/entries?limit=1", headers=world.regulator.headers).json()["size"]
    for row in _report(c, world.regulator, "inventory")["rows"]:
        if "entries" in row:
            first = row["entries"][0]
            assert f"/audit/entries?start={first}&limit=1" in regulator.links
            continue
        query = urlencode({"table": "rows", "row": row["row_key"]})
        link = f"/audit/reports/inventory/entries?{query}"
        assert link in regulator.links
        behind = c.get(link, headers=world.regulator.headers).json()["entries"]
        assert len(behind) == row["count"]  # each counted item's latest entry
        assert all(0 <= seq < size for seq in behind)
    _, oem = _get(c, world.oem)
    assert not [link for link in oem.links if link.startswith("/audit/entries")]
    assert c.get("/audit/entries?start=0", headers=world.oem.headers).status_code == 403

    # Signed in with the session cookie, the page and its report links answer.
    answer = c.post("/scan/session", headers=world.oem.headers)
    jar: SimpleCookie = SimpleCookie()
    jar.load(answer.headers["set-cookie"])
    c.cookies.clear()
    cookie = {"Cookie": f"{SESSION_COOKIE}={jar[SESSION_COOKIE].value}"}
    page = c.get("/audit", headers=cookie)
    assert page.status_code == 200
    assert world.oem.name in page.text
    assert 'id="audit-signout"' in page.text
    assert "/audit/reports/inventory?format=csv&amp;table=monthly" in page.text
    as_json = c.get("/audit/reports/deadlines", headers=cookie).json()
    assert as_json["rows"] == _report(c, world.oem, "deadlines")["rows"]
    csv = c.get("/audit/reports/inventory?format=csv&table=monthly", headers=cookie)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("month,registered,retired,collected,recycled")
    assert c.get("/audit/reports/nothing", headers=cookie).status_code == 404


def test_the_chain_panel_shows_the_checkpoint_and_its_cosignatures(world: World) -> None:
    c = world.client
    register(c, world.oem)
    c.post("/v1/log/checkpoint", headers=world.regulator.headers)
    note = c.get("/v1/log/checkpoint").text
    key = generate_private_key()
    vkey = witness_verifier_key("authority.example/witness", public_key_bytes(key))
    assert (
        c.post(
            "/v1/log/witnesses", json={"vkey": vkey}, headers=world.regulator.headers
        ).status_code
        == 201
    )
    stamp = int(time.time())
    cosigned = add_cosignature(note, "authority.example/witness", key, stamp)
    answer = c.post(
        "/v1/log/cosign",
        content=cosigned,
        headers={**world.regulator.headers, "content-type": "text/plain"},
    )
    assert answer.status_code == 200, answer.text
    html, _ = _get(c, world.regulator)
    chain = html[html.index('id="chain"') :]
    size = note.splitlines()[1]
    assert f"size {size}, signed" in chain
    assert "authority.example/witness" in chain
    assert time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp)) in chain
    assert 'data-verification="not-recorded"' in chain
    assert 'href="/v1/log/verify"' in chain
