"""The projection against the log: replay, compare, rebuild.

Owns the proof that the ``items`` table and the manufacturer code bindings are
only a projection: folding every entry of the log (``ledger.domain.apply_entry``,
``ledger.makers.binding_of``) gives them back, field for field. ``retrace
projection`` and every test that writes check it.
"""

from __future__ import annotations

from dataclasses import fields

from ledger import domain
from ledger.chain import parse_entry
from ledger.lifecycle import MAKER_BOUND, Item, MakerBinding
from ledger.makers import binding_of
from ledger.store.base import Store

__all__ = ["projection_differences", "rebuild_projection", "replay"]


def replay(store: Store) -> tuple[dict[str, Item], dict[str, int]]:
    """The items recomputed from the log alone, and the seq that created each."""
    items, created, _ = _replay(store)
    return items, created


def _replay(store: Store) -> tuple[dict[str, Item], dict[str, int], list[MakerBinding]]:
    items: dict[str, Item] = {}
    created: dict[str, int] = {}
    makers: list[MakerBinding] = []
    with store.reader() as r:
        for row in r.iter_entries():
            if row.item is None:
                if row.type == MAKER_BOUND:
                    entry = parse_entry(row.body)
                    binding = binding_of(entry.type, entry.data, row.seq)
                    if binding is not None:
                        makers.append(binding)
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
    return items, created, sorted(makers, key=lambda b: b.code)


def projection_differences(store: Store) -> list[str]:
    """How the items table and the manufacturer code bindings differ from a
    rebuild from the log (empty: equal)."""
    rebuilt, _, makers = _replay(store)
    with store.reader() as r:
        stored = {item.id: item for item in r.iter_items()}
        bound = r.makers()
    differences = []
    if bound != makers:
        differences.append(f"manufacturer codes: {len(bound)} bound, {len(makers)} in the log")
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
    """Replace the items table and the manufacturer code bindings with the
    rebuild from the log; returns the number of items."""
    items, created, makers = _replay(store)
    with store.writer() as w:
        w.replace_items(list(items.values()), created)
        w.replace_makers(makers)
    return len(items)
