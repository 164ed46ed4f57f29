"""Talking to a live log over HTTP: its verification endpoints and the regulator's reads.

Owns ``LogClient``, over a ``Fetch`` the caller gives (``url_fetch`` uses the standard
library; the CLI passes one over its own HTTP client), and ``export_server``, which writes
a server's log into a bundle (``ledger.verify.bundle``). Every entry read is checked
against the hash the server states; auditing is ``ledger.verify.live``'s.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from hashing import HashingError, leaf_hash, parse_checkpoint, split_note
from ledger.errors import AuditFailure, AuditUnavailableError
from ledger.verify.bundle import Tick, start_bundle, write_bundle
from ledger.verify.entry import entry_bytes

__all__ = ["PAGE", "Fetch", "LogClient", "export_server", "url_fetch"]

PAGE = 1000
"""GET /v1/log/entries returns at most this many entries per request."""
_TIMEOUT = 60.0


class Fetch(Protocol):
    """A GET of a path of one server: the answer's status and body.

    Raises ``AuditUnavailableError`` ("cannot reach the server: …") when there is no
    answer at all.
    """

    def __call__(self, path: str, params: Mapping[str, int] | None = None) -> tuple[int, bytes]: ...


def url_fetch(url: str, api_key: str | None = None, timeout: float = _TIMEOUT) -> Fetch:
    """A ``Fetch`` from the standard library's ``urllib`` (no other HTTP client needed).

    Args:
        url: the server's base URL (http or https).
        api_key: sent as ``Authorization: Bearer``, if given.

    Raises:
        AuditUnavailableError: the URL is not http(s).
    """
    import urllib.error
    import urllib.parse
    import urllib.request

    base = url.rstrip("/")
    if urllib.parse.urlsplit(base).scheme not in {"http", "https"}:
        raise AuditUnavailableError(f"not an http(s) URL: {url}")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def fetch(path: str, params: Mapping[str, int] | None = None) -> tuple[int, bytes]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        request = urllib.request.Request(base + path + query, headers=headers)  # noqa: S310 - scheme checked above
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - as above
                return int(answer.status), bytes(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise AuditUnavailableError(f"cannot reach the server: {exc}") from None

    return fetch


# --- talking to a server -----------------------------------------------------------------


class LogClient:
    """The public verification endpoints and the regulator's reads, over one ``Fetch``."""

    def __init__(self, fetch: Fetch) -> None:
        self.fetch = fetch

    def _get(self, path: str, **params: int) -> bytes:
        status, body = self.fetch(path, params or None)
        if status != 200:
            detail = body.decode("utf-8", "replace")[:300]
            with contextlib.suppress(ValueError, AttributeError):
                detail = str(json.loads(body).get("detail", detail))
            raise AuditUnavailableError(f"GET {path} answered {status}: {detail}")
        return body

    def _json(self, path: str, **params: int) -> Any:
        try:
            return json.loads(self._get(path, **params))
        except ValueError as exc:
            raise AuditUnavailableError(f"GET {path} answered no JSON: {exc}") from None

    def log_key(self) -> str:
        return self._get("/v1/log/key").decode("utf-8", "replace").strip()

    def checkpoint(self) -> str:
        return self._get("/v1/log/checkpoint").decode("utf-8", "replace")

    def consistency(self, first: int, second: int) -> list[bytes]:
        try:
            body = self._json("/v1/log/proof/consistency", **{"from": first, "to": second})
            return [bytes.fromhex(p) for p in body["proof"]]
        except (AuditUnavailableError, ValueError, KeyError, TypeError) as exc:
            # A log that cannot prove it extends what it showed before fails the audit.
            raise AuditFailure.at_checkpoint(
                second, f"the server gives no consistency proof from size {first}: {exc}"
            ) from None

    def entries(self, start: int, stop: int) -> Iterator[bytes]:
        """Canonical bytes of entries ``[start, stop)``, each checked against its hash."""
        while start < stop:
            rows = self._json("/v1/log/entries", start=start, limit=min(PAGE, stop - start))
            rows = rows["entries"]
            if not rows:
                raise AuditFailure.at_entry(start, "the server has no such entry")
            for wire in rows:
                seq = wire.get("seq")
                try:
                    body = entry_bytes(wire)
                except ValueError as exc:
                    raise AuditFailure(f"seq {seq}", str(exc), seq=seq) from None
                if leaf_hash(body).hex() != wire.get("hash"):
                    raise AuditFailure(
                        f"seq {seq}",
                        "the hash the server gives is not the hash of the entry's bytes",
                        seq=seq,
                    )
                yield body
            start += len(rows)

    def history(self, item_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self._json(f"/v1/items/{item_id}/history")
        return body


# --- a server's log into a bundle ----------------------------------------------------------


def export_server(
    client: LogClient, target: Path, *, url: str, witnesses: list[str], tick: Tick
) -> dict[str, Any]:
    """Export a server's log up to its latest checkpoint (needs a regulator's key).

    Returns:
        The bundle's manifest.

    Raises:
        AuditFailure: an entry the server gives does not match its hash.
        AuditUnavailableError: the server cannot be read, or ``target`` is not empty.
    """
    start_bundle(target)
    vkey = client.log_key()
    note = client.checkpoint()
    try:
        size = parse_checkpoint(split_note(note)[0]).size
    except HashingError as exc:
        raise AuditUnavailableError(f"the server's checkpoint is malformed: {exc}") from None
    start_bundle(target, create=True)
    return write_bundle(
        target,
        vkey=vkey,
        notes=[(size, note)],
        witnesses=witnesses,
        entries=client.entries(0, size),
        size=size,
        source=url,
        tick=tick,
    )
