"""Item queries: the items a caller may see, filtered, one keyset page at a time.

Owns ``query_items`` (behind ``GET /v1/items``): who sees what (regulators and
admins every item; any other org the items it made, holds or held), the
filters, and the cursor. Pages follow ``(created_seq, id)``, the seq of the
entry that created the item and its id (``ledger.store.query``): neither ever
changes and new items come after every existing one, so paging through never
repeats an item and never skips one that existed when paging began, however
many writes land meanwhile. Items created while paging come at the end, and
appear if they match when their page is read. Filters on what changes (state,
holder, region, last change) are read as each page is read: an item that stops
matching before its page is read is not shown, one that starts matching is.
The cursor is opaque to clients: the key of the page's last item.

A page reads at most the items created within ``SCAN`` seqs of the log from
where it begins, so its cost does not grow with the log whatever the filters:
one that finds fewer than ``limit`` items there ends early, perhaps empty, with
a cursor to the rest (the seq it stopped at, and no item id). The listing is
over when ``next_cursor`` is null, never because a page came back short.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta

from ledger.errors import ValidationError
from ledger.items import ItemView, view_item
from ledger.lifecycle import Role
from ledger.records import OrgRecord
from ledger.store.base import Store
from ledger.store.query import ItemMatch, ItemQuery, PageKey

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "SCAN", "ItemFilters", "ItemPage", "query_items"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
SCAN = 5_000
"""Seqs of the log one page reads at most (the items created within them)."""
_SEES_ALL = frozenset({Role.REGULATOR, Role.ADMIN})
# An empty id: from that seq on (a page that stopped at its ``SCAN`` bound).
_CURSOR = re.compile(r"(0|[1-9][0-9]{0,18}):([A-Za-z0-9_]{0,64})")
_MAX_SEQ = 2**63 - 1
_TEXT = re.compile(r"[^\x00-\x1f\x7f]{1,64}")


@dataclass(frozen=True)
class ItemFilters(ItemMatch):
    """What a caller asks for: the store's filters (``ItemMatch``; ``None`` means
    any), and dates that bound the last change, both inclusive (``until`` is the
    whole of that day, UTC)."""

    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class ItemPage:
    """One page of items as ``GET /v1/items/{id}`` shows them, and the cursor of
    the next page (None: this was the last)."""

    items: list[ItemView]
    next_cursor: str | None


def encode_cursor(key: PageKey) -> str:
    """The opaque cursor that continues after the item of ``key``."""
    seq, item_id = key
    return base64.urlsafe_b64encode(f"{seq}:{item_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> PageKey:
    """The key a cursor of ``encode_cursor`` holds.

    Raises:
        ValidationError: not a cursor this service made (pointer ``/cursor``).
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raw = ""
    found = _CURSOR.fullmatch(raw) if len(cursor) <= 120 else None
    if found is None or int(found.group(1)) > _MAX_SEQ:
        raise ValidationError("not a cursor of this listing", pointer="/cursor")
    return int(found.group(1)), found.group(2)


def _store_query(filters: ItemFilters) -> ItemQuery:
    for name in ("holder", "manufacturer", "region", "code_prefix"):
        value = getattr(filters, name)
        if value is not None and _TEXT.fullmatch(value) is None:
            raise ValidationError(
                f"{name} must be 1 to 64 characters, none of them a control character",
                pointer=f"/{name}",
            )
    since, until = filters.since, filters.until
    if since is not None and until is not None and until < since:
        raise ValidationError(f"until ({until}) is before since ({since})", pointer="/until")
    end = None if until is None or until == date.max else (until + timedelta(days=1)).isoformat()
    match = {f.name: getattr(filters, f.name) for f in fields(ItemMatch)}
    return ItemQuery(**match, since=None if since is None else since.isoformat(), until=end)


def query_items(
    store: Store,
    caller: OrgRecord,
    filters: ItemFilters,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    scan: int = SCAN,
) -> ItemPage:
    """A page of the items ``caller`` may see that match ``filters``, read from
    the items created within ``scan`` seqs of where the page begins.

    Raises:
        ValidationError: a malformed cursor or filter, or a limit outside
            1..``MAX_LIMIT``; the pointer names the parameter.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be 1 to {MAX_LIMIT}", pointer="/limit")
    after = None if cursor is None else decode_cursor(cursor)
    query = replace(
        _store_query(filters),
        visible_to=None if caller.role in _SEES_ALL else caller.id,
        after=after,
        limit=limit + 1,
    )
    with store.reader() as r:
        bound = (0 if after is None else after[0]) + max(scan, 1)
        below = bound if bound < r.size() else None
        found = r.query_items(replace(query, below=below))
        page = found[:limit]
        children = r.children_of([item.id for _, item in page])
    views = [view_item(item, children.get(item.id, [])) for _, item in page]
    if len(found) > limit:
        return ItemPage(views, encode_cursor(page[-1][0]))
    # Every match below the bound is in this page; the rest of the log is the next.
    return ItemPage(views, None if below is None else encode_cursor((below, "")))
