"""Item queries on SQL: filters, who may see what, keyset pages.

Owns the statement behind ``ProjectionReader.query_items`` and the children of a
page of items. Pages follow the ``(created_seq, id)`` order of
``ledger.store.query`` along the ``ix_items_created`` index (or the index of the
filtered column, ``(column, created_seq, id)``); an org's own items (made, holds
or held) along its rows of ``item_custody``, which triggers on ``items`` keep.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from ledger.lifecycle import Item
from ledger.store.query import ItemQuery, PageKey
from ledger.store.sql_projection import _item
from ledger.store.tables import EntryRow, ItemCustodyRow, ItemRow, OrgRow

__all__ = ["QueryRows"]

_items = ItemRow.__table__  # type: ignore[attr-defined]
_entries = EntryRow.__table__  # type: ignore[attr-defined]
_orgs = OrgRow.__table__  # type: ignore[attr-defined]
_custody = ItemCustodyRow.__table__  # type: ignore[attr-defined]

_CHILDREN_OF = sa.select(_items.c.parent, _items.c.id).where(
    _items.c.parent.in_(sa.bindparam("ids", expanding=True))
)
# PostgreSQL: one probe of the parent index per id (LATERAL), whatever the
# statistics say; an IN list over a column of mostly nulls is planned as a scan
# of the whole table until ANALYZE has counted them.
_CHILDREN_PROBED = sa.text(
    "SELECT w.parent, c.id FROM unnest(CAST(:ids AS text[])) AS w(parent)"
    " CROSS JOIN LATERAL (SELECT i.id FROM items i WHERE i.parent = w.parent) AS c"
)


# An item query's plan is known: follow an index in page order and stop at the
# page's end (a page of children: probe the parent index once per item). Right
# after a bulk load, before the tables are analyzed, PostgreSQL estimates an org's
# range at a few rows and sorts all of it instead, and a statement the driver has
# prepared may get a generic plan made without the org or the filter's value. For
# the query's own transaction: no sort, no bitmap, no hash join, a plan per run.
_INDEX_ORDER = sa.text(
    "SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off; "
    "SET LOCAL enable_hashjoin = off; SET LOCAL plan_cache_mode = force_custom_plan"
)


def _conditions(query: ItemQuery, order: tuple[Any, Any] | None = None) -> list[Any]:
    """The filters and the page's start; ``order``: the two columns the page
    follows, ``(created_seq, id)`` of the items unless given."""
    items = _items.c
    found: list[Any] = []
    for column, value in (
        (items.kind, query.kind),
        (items.state, query.state),
        (items.holder, query.holder),
        (items.manufacturer, query.manufacturer),
    ):
        if value is not None:
            found.append(column == value)
    if query.region is not None:
        found.append(items.holder.in_(sa.select(_orgs.c.id).where(_orgs.c.region == query.region)))
    if query.code_prefix:
        # substr, not LIKE: exact and case-sensitive on both databases, no escaping.
        prefix = query.code_prefix
        found.append(sa.func.substr(items.code, 1, len(prefix)) == prefix)
    if query.since is not None or query.until is not None:
        last = sa.select(_entries.c.ts).where(_entries.c.seq == items.head_seq).scalar_subquery()
        if query.since is not None:
            found.append(last >= query.since)
        if query.until is not None:
            found.append(last < query.until)
    created, ident = order or (items.created_seq, items.id)
    if query.below is not None:
        found.append(created < query.below)
    if query.after is not None:
        seq, item_id = query.after
        # The first term alone is an index range on both databases; the second
        # places the page exactly (an OR alone is not used as a range by PostgreSQL).
        found.append(created >= seq)
        found.append(sa.or_(created > seq, sa.and_(created == seq, ident > item_id)))
    return found


class QueryRows:
    """Item queries on one connection."""

    conn: Connection

    def query_items(self, query: ItemQuery) -> list[tuple[PageKey, Item]]:
        self._index_order()
        if query.visible_to is None:
            statement = (
                sa.select(_items)
                .where(sa.and_(sa.true(), *_conditions(query)))
                .order_by(_items.c.created_seq, _items.c.id)
            )
        else:
            # What an org made, holds or held: one range of its custody rows, in
            # page order, whatever others hold.
            order = (_custody.c.created_seq, _custody.c.item)
            statement = (
                sa.select(_items)
                # Both columns equal: the planner may follow either side's index
                # in page order (the org's custody rows, or a filter's range).
                .join(
                    _custody,
                    sa.and_(
                        _custody.c.item == _items.c.id,
                        _custody.c.created_seq == _items.c.created_seq,
                    ),
                )
                .where(_custody.c.org == query.visible_to, *_conditions(query, order))
                .order_by(*order)
            )
        rows = self.conn.execute(statement.limit(query.limit))
        return [((int(r.created_seq), r.id), _item(r)) for r in rows]

    def _index_order(self) -> None:
        if self.conn.dialect.name == "postgresql" and self.conn.in_transaction():
            self.conn.execute(_INDEX_ORDER)

    def children_of(self, ids: Sequence[str]) -> dict[str, list[str]]:
        self._index_order()
        found: dict[str, list[str]] = {}
        wanted = sorted(set(ids))
        probed = self.conn.dialect.name == "postgresql"
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self.conn.execute(_CHILDREN_PROBED if probed else _CHILDREN_OF, {"ids": chunk})
            for row in rows:
                found.setdefault(row.parent, []).append(row.id)
        return {parent: sorted(ids) for parent, ids in found.items()}
