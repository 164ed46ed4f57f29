"""Item queries in memory: the same answers as ``ledger.store.sql_queries``, in Python.

The memory store's ``query_items``, ``children_of`` and ``items_entries`` (with
the report tables' ``entries_of``) call these with its state's parts; the
contract suite holds both stores to the same answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from ledger.chain import StoredEntry
from ledger.lifecycle import Item
from ledger.records import OrgRecord
from ledger.store.query import ItemQuery, PageKey

__all__ = ["children_of", "items_entries", "query_items"]


def _ts(entry: StoredEntry) -> str:
    return str(json.loads(entry.body)["ts"])


def _matches(
    query: ItemQuery,
    item: Item,
    entries: Sequence[StoredEntry],
    orgs: Mapping[str, OrgRecord],
    held: set[str],
) -> bool:
    plain = (
        (query.kind, item.kind.value),
        (query.state, item.state.value),
        (query.holder, item.holder),
        (query.manufacturer, item.manufacturer),
    )
    if any(wanted is not None and wanted != value for wanted, value in plain):
        return False
    if query.region is not None:
        holder = orgs.get(item.holder)
        if holder is None or holder.region != query.region:
            return False
    if query.code_prefix and not item.code.startswith(query.code_prefix):
        return False
    if query.since is not None or query.until is not None:
        last = _ts(entries[item.head_seq])
        if query.since is not None and last < query.since:
            return False
        if query.until is not None and last >= query.until:
            return False
    org = query.visible_to
    return org is None or org in (item.manufacturer, item.holder) or item.id in held


def query_items(
    query: ItemQuery,
    items: Mapping[str, Item],
    created: Mapping[str, int],
    entries: Sequence[StoredEntry],
    orgs: Mapping[str, OrgRecord],
) -> list[tuple[PageKey, Item]]:
    """Up to ``query.limit`` matching items by (created_seq, id), after ``query.after``
    and created before ``query.below``."""
    held: set[str] = set()
    if query.visible_to is not None:
        held = {
            e.item
            for e in entries
            if e.item is not None and e.actor == query.visible_to and e.type == "transferred"
        }
    keyed = sorted((((created[i], i), item) for i, item in items.items()), key=lambda p: p[0])
    found: list[tuple[PageKey, Item]] = []
    for key, item in keyed:
        if query.below is not None and key[0] >= query.below:
            break
        if query.after is not None and key <= query.after:
            continue
        if _matches(query, item, entries, orgs, held):
            found.append((key, item))
            if len(found) >= query.limit:
                break
    return found


def children_of(items: Mapping[str, Item], ids: Sequence[str]) -> dict[str, list[str]]:
    """The sorted children of each of ``ids`` that has any."""
    wanted = set(ids)
    found: dict[str, list[str]] = {}
    for item_id in sorted(items):
        parent = items[item_id].parent
        if parent is not None and parent in wanted:
            found.setdefault(parent, []).append(item_id)
    return found


def items_entries(
    entries: Sequence[StoredEntry], ids: Sequence[str]
) -> dict[str, list[StoredEntry]]:
    """The entries of each of ``ids`` that has any, in seq order."""
    found: dict[str, list[StoredEntry]] = {item_id: [] for item_id in ids}
    for stored in entries:
        if stored.item in found:
            found[stored.item].append(stored)
    return {item_id: kept for item_id, kept in found.items() if kept}
