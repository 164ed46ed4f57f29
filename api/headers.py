"""Security headers on every response (set by ``api.edge.Edge``: ``secured``, ``docs_send``).

Every response says ``X-Content-Type-Options: nosniff`` and
``Referrer-Policy: same-origin``. Every HTML page gets a strict
Content-Security-Policy (``PAGE_POLICY``): scripts, styles, images and
requests from this origin only, no inline script or style, no plugin, no
``<base>`` elsewhere, forms posting only here, never framed (clickjacking). A
route that sets a policy of its own keeps it (the scan station's is stricter
still, with what its WebAssembly QR decoder needs).

The API docs (``/docs``, ``/redoc``) are FastAPI's pages, whose start-up code
is an inline script: their policy allows exactly the inline scripts of the page
served, by SHA-256 hash (CSP Level 2), and nothing else inline. Swagger UI's
stylesheet draws its icons from ``data:`` images; ReDoc writes its styles at
run time (styled-components), so inline styles, not scripts, are allowed there.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from api.problems import Message, Send

__all__ = ["DOCS_POLICY", "PAGE_POLICY", "docs_policy", "docs_send", "secured"]

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
_CSP = b"content-security-policy"

PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

DOCS_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'{hashes}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

# An inline script: a <script> element without a src attribute, and its text.
_INLINE_SCRIPT = re.compile(
    rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE
)


def docs_policy(page: bytes) -> str:
    """The policy of a docs page: ``DOCS_POLICY`` with the hash of each inline script."""
    hashes = "".join(
        " 'sha256-" + base64.b64encode(hashlib.sha256(code).digest()).decode() + "'"
        for code in _INLINE_SCRIPT.findall(page)
    )
    return DOCS_POLICY.format(hashes=hashes)


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)


def _with(headers: list[tuple[bytes, bytes]], policy: str | None) -> list[tuple[bytes, bytes]]:
    """``headers`` with the always-on ones and ``policy``, each unless already there."""
    present = {k.lower() for k, _ in headers}
    added = [(k, v) for k, v in _ALWAYS if k not in present]
    if policy is not None and _CSP not in present:
        added.append((_CSP, policy.encode()))
    return [*headers, *added]


def secured(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """An answer's ``headers`` with the security headers: the always-on ones, and
    ``PAGE_POLICY`` on an HTML page, each unless the answer set it already."""
    headers = list(headers)
    return _with(headers, PAGE_POLICY if _is_html(headers) else None)


def docs_send(send: Send) -> Send:
    """A ``send`` that holds a docs page until its body is whole, then sends it with
    its own policy (``docs_policy``: the hashes of its inline scripts)."""
    start: Message | None = None
    body: list[bytes] = []

    async def held(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if start is None or message["type"] != "http.response.body":
            await send(message)
            return
        body.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        headers = list(start.get("headers", []))
        page = b"".join(body)
        policy = docs_policy(page) if _is_html(headers) else None
        await send({**start, "headers": _with(headers, policy)})
        await send({"type": "http.response.body", "body": page})

    return held
