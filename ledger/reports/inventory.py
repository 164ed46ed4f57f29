"""The inventory report: items by kind, state and the holder's region, and monthly counts.

Owns DESIGN.md's inventory rows ``{kind, state, region, count}`` (their entries: the
latest entry of each counted item, the one that left it in its state) and the
``monthly`` table ``{month, registered, retired, collected, recycled}``, each event
counted in the month it happened (its ``date``, else the day recorded). Each row
names its ``row_key``; the entries behind it are listed apart.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ledger.reports.history import Cells, Context, Part, Trail, event_day, key_text

__all__ = ["MONTHLY_EVENTS", "inventory_parts", "inventory_rows", "monthly_rows"]

MONTHLY_EVENTS = ("registered", "retired", "collected", "recycled")
_ONE = Decimal(1)


def inventory_parts(trail: Trail, ctx: Context) -> list[Part]:
    """The item's place in its (kind, state, region) row and in each month's counts."""
    item = trail.item
    key = (item.kind.value, item.state.value, ctx.region(item.holder))
    parts = [Part("inventory", key, (item.head_seq,), {"count": _ONE})]
    months: dict[str, dict[str, list[int]]] = {}
    for event in MONTHLY_EVENTS:
        for entry in trail.of_type(event):
            month = _month(event_day(entry, trail.data[entry.seq]))
            months.setdefault(month, {}).setdefault(event, []).append(entry.seq)
    for month, counts in sorted(months.items()):
        seqs = tuple(sorted(seq for found in counts.values() for seq in found))
        measures = {name: Decimal(len(found)) for name, found in counts.items()}
        parts.append(Part("monthly", (month,), seqs, measures))
    return parts


@lru_cache(maxsize=4096)
def _month(day: date) -> str:
    return day.strftime("%Y-%m")


def inventory_rows(cells: Cells) -> list[dict[str, Any]]:
    return [
        {
            "kind": kind,
            "state": state,
            "region": region,
            "count": int(sums.get("count", 0)),
            "row_key": key_text((kind, state, region)),
        }
        for (kind, state, region), sums in sorted(cells.items())
    ]


def monthly_rows(cells: Cells) -> list[dict[str, Any]]:
    return [
        {
            "month": month,
            **{name: int(sums.get(name, 0)) for name in MONTHLY_EVENTS},
            "row_key": key_text((month,)),
        }
        for (month,), sums in sorted(cells.items())
    ]
