"""The items projection against the log: replay, compare, rebuild.

Owns the proof that the ``items`` table is only a projection: folding every
entry of the log (``ledger.domain.apply_entry``) gives it back, field for
field. ``retrace projection`` and every test that writes check it.
"""

from __future__ import annotations

from dataclasses import fields

from ledger import domain
from ledger.chain import parse_entry
from ledger.lifecycle import Item
from ledger.store.base import Store

__all__ = ["projection_differences", "rebuild_projection", "replay"]


def replay(store: Store) -> tuple[dict[str, Item], dict[str, int]]:
    """The items recomputed from the log alone, and the seq that created each."""
    items: dict[str, Item] = {}
    created: dict[str, int] = {}
    with store.reader() as r:
        for row in r.iter_entries():
            if row.item is None:
                continue
            entry = parse_entry(row.body)
            items[row.item] = domain.apply_entry(
                items.get(row.item),
                entry.type,
                entry.actor,
                row.item,
                entry.data,
                head=row.hash,
                seq=row.seq,
            )
            created.setdefault(row.item, row.seq)
    return items, created


def projection_differences(store: Store) -> list[str]:
    """How the items table differs from a rebuild from the log (empty: equal)."""
    rebuilt, _ = replay(store)
    with store.reader() as r:
        stored = {item.id: item for item in r.iter_items()}
    differences = []
    for item_id in sorted(set(rebuilt) | set(stored)):
        want, have = rebuilt.get(item_id), stored.get(item_id)
        if want == have:
            continue
        if have is None:
            differences.append(f"{item_id}: in the log but not in the items table")
        elif want is None:
            differences.append(f"{item_id}: in the items table but not in the log")
        else:
            changed = [
                f.name for f in fields(want) if getattr(want, f.name) != getattr(have, f.name)
            ]
            differences.append(f"{item_id}: differs in {', '.join(changed)}")
    return differences


def rebuild_projection(store: Store) -> int:
    """Replace the items table with the rebuild from the log; returns its size."""
    items, created = replay(store)
    with store.writer() as w:
        w.replace_items(list(items.values()), created)
    return len(items)
