"""The passport URL a label encodes: ``<public base url>/p/<item id>``.

This module owns the URL scheme and its validation, in both directions:
``label_url`` builds the text that goes into the QR symbol, ``parse_label_url``
takes scanned text back to an item id. It knows nothing about how an item is
looked up; that is the ledger's job.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = [
    "MAX_ITEM_ID_LENGTH",
    "PASSPORT_PATH",
    "check_item_id",
    "label_url",
    "normalize_base_url",
    "parse_label_url",
]

#: Path segment under the public base URL that serves passport pages.
PASSPORT_PATH = "/p/"

#: Server ids are 30 characters (``itm_`` and a 26-character ULID); the limit
#: leaves room for other prefixes while keeping the QR symbol small.
MAX_ITEM_ID_LENGTH = 64

_ITEM_ID_RE = re.compile(r"[A-Za-z0-9_]+")
# RFC 3986 characters allowed in the authority and path of a base URL; anything
# else (spaces, quotes, angle brackets, non-ASCII) is refused rather than
# percent-encoded, so the printed label says exactly what was configured.
_URL_CHARS_RE = re.compile(r"[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%\[\]]+")


def check_item_id(item_id: str) -> str:
    """Return ``item_id`` if it may appear in a label URL.

    Raises:
        ValueError: empty, longer than ``MAX_ITEM_ID_LENGTH`` or containing a
            character outside ``[A-Za-z0-9_]``.
    """
    if not isinstance(item_id, str):
        raise TypeError(f"item id must be a str, not {type(item_id).__name__}")
    if not item_id:
        raise ValueError("item id is empty")
    if len(item_id) > MAX_ITEM_ID_LENGTH:
        raise ValueError(
            f"item id is {len(item_id)} characters long; at most {MAX_ITEM_ID_LENGTH} are allowed"
        )
    if not _ITEM_ID_RE.fullmatch(item_id):
        bad = next(ch for ch in item_id if not _ITEM_ID_RE.fullmatch(ch))
        raise ValueError(
            f"item id {item_id!r} contains {bad!r}; only letters A-Z, a-z, digits and '_' "
            "are allowed"
        )
    return item_id


def normalize_base_url(public_base_url: str) -> str:
    """Return the base URL without trailing slashes, after checking it.

    Raises:
        ValueError: not an absolute ``http``/``https`` URL with a host, or it
            carries a query, a fragment, credentials or characters that would
            need escaping.
    """
    if not isinstance(public_base_url, str):
        raise TypeError(f"base URL must be a str, not {type(public_base_url).__name__}")
    if not public_base_url:
        raise ValueError("public base URL is empty")
    if not _URL_CHARS_RE.fullmatch(public_base_url):
        raise ValueError(
            f"public base URL {public_base_url!r} contains whitespace or characters "
            "that are not allowed in a URL"
        )
    parts = urlsplit(public_base_url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"public base URL {public_base_url!r} must start with https:// or http://")
    if not parts.hostname:
        raise ValueError(f"public base URL {public_base_url!r} has no host")
    if "@" in parts.netloc:
        raise ValueError(f"public base URL {public_base_url!r} must not carry credentials")
    if parts.query or parts.fragment or "?" in public_base_url or "#" in public_base_url:
        raise ValueError(f"public base URL {public_base_url!r} must not have a query or fragment")
    return public_base_url.rstrip("/")


def label_url(public_base_url: str, item_id: str) -> str:
    """The passport URL for ``item_id``: ``<public base url>/p/<item id>``.

    Trailing slashes of the base URL are dropped, so ``https://x.org/`` and
    ``https://x.org`` give the same URL, and a path prefix is kept
    (``https://x.org/retrace`` gives ``https://x.org/retrace/p/<id>``).

    Raises:
        ValueError: the base URL or the item id is not acceptable (see
            ``normalize_base_url`` and ``check_item_id``).
    """
    return normalize_base_url(public_base_url) + PASSPORT_PATH + check_item_id(item_id)


def parse_label_url(text: str, public_base_url: str | None = None) -> str:
    """The item id in scanned label text such as ``https://x.org/p/itm_…``.

    Surrounding whitespace (scanners often append a newline) is ignored. With
    ``public_base_url``, the text must start with that base, so labels of
    another deployment are refused.

    Raises:
        ValueError: the text is not a label URL (of this deployment).
    """
    text = text.strip()
    head, sep, item_id = text.rpartition(PASSPORT_PATH)
    if not sep or not head:
        raise ValueError(f"{text[:80]!r} is not a Retrace label URL (no {PASSPORT_PATH!r})")
    check_item_id(item_id)
    base = normalize_base_url(head)
    if public_base_url is not None and _site_key(base) != _site_key(
        normalize_base_url(public_base_url)
    ):
        raise ValueError(f"{text[:80]!r} is a label of another site, not of {public_base_url!r}")
    return item_id


def _site_key(base_url: str) -> tuple[str, str, str]:
    # Scheme and host compare case-insensitively (RFC 3986 section 6.2.2.1).
    parts = urlsplit(base_url)
    return parts.scheme.lower(), parts.netloc.lower(), parts.path
