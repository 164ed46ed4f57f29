"""Security headers on every response: one ASGI middleware, ``SecurityHeaders``.

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

from api.problems import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DOCS_POLICY", "PAGE_POLICY", "SecurityHeaders", "docs_policy"]

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


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response.

    Args:
        hashed: paths whose HTML pages get ``docs_policy`` (read whole to hash).
    """

    def __init__(self, app: ASGIApp, hashed: Iterable[str | None] = ()) -> None:
        self.app = app
        self.hashed = frozenset(p for p in hashed if p)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") in self.hashed:
            await self._hashed(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                policy = PAGE_POLICY if _is_html(headers) else None
                message["headers"] = _with(headers, policy)
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _hashed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hold a docs page until its body is whole, then send it with its policy."""
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

        await self.app(scope, receive, held)
