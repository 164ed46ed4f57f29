"""The inventory report: items by kind, state and the holder's region, and monthly counts.

Owns DESIGN.md's inventory rows ``{kind, state, region, count, entries}`` (``entries``:
the seq of each counted item's latest entry, the one that left it in its state) and
the ``monthly`` table ``{month, registered, retired, collected, recycled, entries}``,
each event counted in the month it happened (its ``date``, else the day recorded).
"""

from __future__ import annotations

from typing import Any

from ledger.reports.history import History, event_day

__all__ = ["MONTHLY_EVENTS", "inventory"]

MONTHLY_EVENTS = ("registered", "retired", "collected", "recycled")


def inventory(history: History) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The rows and the ``monthly`` table of the items in ``history``."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    months: dict[str, dict[str, list[int]]] = {}
    for trail in history.trails.values():
        item = trail.item
        key = (item.kind.value, item.state.value, history.region(item.holder))
        groups.setdefault(key, []).append(item.head_seq)
        for entry in trail.entries:
            if entry.type in MONTHLY_EVENTS:
                month = event_day(entry, trail.data[entry.seq]).strftime("%Y-%m")
                counts = months.setdefault(month, {name: [] for name in MONTHLY_EVENTS})
                counts[entry.type].append(entry.seq)
    rows = [
        {
            "kind": kind,
            "state": state,
            "region": region,
            "count": len(seqs),
            "entries": sorted(seqs),
        }
        for (kind, state, region), seqs in sorted(groups.items())
    ]
    monthly = [
        {
            "month": month,
            **{name: len(seqs) for name, seqs in counts.items()},
            "entries": sorted(seq for seqs in counts.values() for seq in seqs),
        }
        for month, counts in sorted(months.items())
    ]
    return rows, {"monthly": monthly}
