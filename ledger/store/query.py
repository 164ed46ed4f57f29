"""What a store is asked when items are queried (``ledger.queries``): plain values.

``ItemMatch`` holds the filters an item query passes to the store as they come
(``ledger.queries.ItemFilters`` is one, with its dates beside them);
``ItemQuery`` is one too, with the bounds of the last change as timestamps,
whose items the caller may see and where the page begins. Items are ordered by
``(created_seq, id)``: the seq of the entry that created the item, then its id.
Neither ever changes, and a new item's entry comes after every existing one, so
a page that begins after a key sees every item before it exactly once however
much is appended meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ItemMatch", "ItemQuery", "PageKey"]

PageKey = tuple[int, str]
"""(created_seq, id): an item's place in the order of item queries."""


@dataclass(frozen=True)
class ItemMatch:
    """Filters on an item's own values; ``None`` means any. ``region`` is the
    region of the holder's org, ``code_prefix`` the start of the code."""

    kind: str | None = None
    state: str | None = None
    holder: str | None = None
    manufacturer: str | None = None
    region: str | None = None
    code_prefix: str | None = None


@dataclass(frozen=True)
class ItemQuery(ItemMatch):
    """Filters of an item query; ``None`` means any.

    ``since`` and ``until`` bound the timestamp of the item's last entry
    (``ts >= since`` and ``ts < until``, RFC 3339 text compared as text).
    ``visible_to`` limits the items to those an org made, holds or held (the
    actor of a ``transferred`` entry on it); ``None`` is every item. ``below``
    limits them to items created before that seq: how far a page may read.
    """

    since: str | None = None
    until: str | None = None
    visible_to: str | None = None
    after: PageKey | None = None
    below: int | None = None
    limit: int = 100
