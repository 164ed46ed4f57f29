"""What a scanned text names, label URLs included.

Owns the one reading of scanned text the ledger cannot do alone: a label URL
(``<public base>/p/<item id>``, forgiving a trailing slash, query or fragment)
is read with ``labels.parse_label_url``; everything else (ids, typed codes,
serials, GS1 Digital Link) is ``ledger.scan``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from labels import parse_label_url
from ledger.errors import LedgerError
from ledger.scan import ScanTarget, parse_scan


def label_item_id(text: str) -> str | None:
    """The item id of a label URL, forgiving a trailing slash, query or fragment."""
    if "/p/" not in text:
        return None
    try:
        return parse_label_url(text)
    except ValueError:
        pass
    parts = urlsplit(text.strip())
    if parts.scheme.lower() not in ("http", "https") or not (
        parts.query or parts.fragment or parts.path.endswith("/")
    ):
        return None
    try:
        return parse_label_url(f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}")
    except ValueError:
        return None


def scan_target(text: str) -> ScanTarget:
    """What a scanned text names.

    Raises:
        ValidationError: empty text or a malformed GS1 link.
    """
    return parse_scan(text, label_item_id=label_item_id(text))


def read_scans(texts: Sequence[str]) -> list[ScanTarget | LedgerError]:
    """``scan_target`` of each text, or the reason it cannot be read."""
    out: list[ScanTarget | LedgerError] = []
    for text in texts:
        try:
            out.append(scan_target(text))
        except LedgerError as exc:
            out.append(exc)
    return out
