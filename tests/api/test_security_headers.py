"""Security headers: a strict Content-Security-Policy on every HTML page, and
``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy`` on every response.

No page may run inline script: the landing page, the scan station and the
passport load theirs from ``/static/``; ``/docs`` and ``/redoc`` allow exactly
their own inline scripts by hash. No page may be framed.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from tests.conftest import World
from tests.factories import register

HTML_ROUTES = ["/", "/scan", "/p/{item}", "/p/itm_missing", "/docs", "/redoc", "/audit"]


def _policy(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def _script_sources(policy: dict[str, list[str]]) -> list[str]:
    return policy.get("script-src", policy["default-src"])


def _html_paths(world: World) -> list[str]:
    """Every HTML route this app serves (``/audit`` only where there is one)."""
    item = register(world.client, world.oem)
    paths = [path.format(item=item["id"]) for path in HTML_ROUTES]
    if world.client.get("/audit", headers=world.regulator.headers).status_code == 404:
        paths.remove("/audit")
    return paths


def test_every_html_page_has_a_strict_policy(world: World) -> None:
    paths = _html_paths(world)
    assert {"/", "/scan", "/docs", "/redoc"} <= set(paths)
    for path in paths:
        page = world.client.get(path, headers={**world.regulator.headers, "Accept": "text/html"})
        assert page.headers["content-type"].startswith("text/html"), path
        policy = _policy(page.headers["content-security-policy"])
        assert policy["default-src"] in (["'self'"], ["'none'"]), path
        assert policy["frame-ancestors"] == ["'none'"], path
        assert policy.get("base-uri") in (["'self'"], ["'none'"]), path
        assert policy.get("object-src", policy["default-src"]) == ["'none'"], path
        scripts = _script_sources(policy)
        assert "'unsafe-inline'" not in scripts, path
        assert "'unsafe-eval'" not in scripts, path
        assert "*" not in scripts, path
        assert "https:" not in scripts, path
        assert page.headers["x-content-type-options"] == "nosniff", path
        assert page.headers["referrer-policy"] in {"same-origin", "no-referrer"}, path
        if path != "/docs" and path != "/redoc":
            assert "<script>" not in page.text, path
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), path
            assert " style=" not in page.text, path
            assert "<style" not in page.text, path


def test_the_scan_station_keeps_what_its_decoder_needs(world: World) -> None:
    policy = _policy(world.client.get("/scan").headers["content-security-policy"])
    assert "'wasm-unsafe-eval'" in policy["script-src"]
    assert policy["require-trusted-types-for"] == ["'script'"]
    assert policy["form-action"] == ["'none'"]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_allow_their_own_inline_scripts_by_hash(world: World, path: str) -> None:
    page = world.client.get(path)
    scripts = _script_sources(_policy(page.headers["content-security-policy"]))
    inline = re.findall(r"<script>(.*?)</script>", page.text, flags=re.DOTALL)
    hashes = {
        "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"
        for code in inline
    }
    assert hashes <= set(scripts)
    assert [s for s in scripts if s.startswith("'sha")] == sorted(hashes, key=scripts.index)


def test_every_response_says_nosniff(world: World) -> None:
    c = world.client
    item = register(c, world.oem)
    answers = [
        c.get("/healthz"),
        c.get("/v1/log/checkpoint"),
        c.get(f"/v1/items/{item['id']}", headers=world.oem.headers),
        c.get(f"/v1/items/{item['id']}"),  # 401 problem+json
        c.get("/v1/nowhere"),  # 404 problem+json
        c.post("/v1/items", content=b"{", headers=world.oem.headers),  # 400
        c.get("/static/retrace.css"),
        c.get(f"/v1/items/{item['id']}/label.png", headers=world.oem.headers),
        c.get("/openapi.json"),
    ]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.request.url
        assert answer.headers["referrer-policy"] == "same-origin", answer.request.url


def test_each_header_is_sent_once(world: World) -> None:
    """One middleware sets them, and a page with a policy of its own keeps only that one."""
    for path in ("/", "/scan", "/docs", "/healthz"):
        answer = world.client.get(path)
        for name in ("x-content-type-options", "referrer-policy"):
            assert len(answer.headers.get_list(name)) == 1, (path, name)
        html = answer.headers["content-type"].startswith("text/html")
        assert len(answer.headers.get_list("content-security-policy")) == int(html), path
