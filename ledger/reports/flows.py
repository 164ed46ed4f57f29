"""The flows report: items and mass moved between orgs and between regions.

Owns DESIGN.md's rows ``{from_org, to_org, from_region, to_region, items, mass_kg,
entries}``: one per pair of orgs that custody moved between (a ``transferred`` entry
is written by the holder it leaves), ``items`` the distinct items moved, ``mass_kg``
the sum of each move's item mass at the time (weighed at collection, else
registered: ``ledger.materials.item_mass``), ``mass_unknown`` the moves of items
whose mass no entry gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledger.materials import item_mass
from ledger.reports.history import History, decimal_text

__all__ = ["flows"]


@dataclass
class _Flow:
    items: set[str] = field(default_factory=set)
    mass: Decimal = Decimal(0)
    unknown: int = 0
    entries: list[int] = field(default_factory=list)


def flows(history: History) -> list[dict[str, Any]]:
    """One row per (from org, to org) that custody moved between."""
    moves: dict[tuple[str, str], _Flow] = {}
    for trail in history.trails.values():
        for index, entry in enumerate(trail.entries):
            if entry.type != "transferred":
                continue
            to_org = str(trail.data[entry.seq].get("to_org", ""))
            flow = moves.setdefault((entry.actor, to_org), _Flow())
            flow.items.add(trail.item.id)
            flow.entries.append(entry.seq)
            mass = item_mass(trail.entries[: index + 1])
            if mass is None:
                flow.unknown += 1
            else:
                flow.mass += mass.kg
    return [
        {
            "from_org": from_org,
            "to_org": to_org,
            "from_region": history.region(from_org),
            "to_region": history.region(to_org),
            "items": len(flow.items),
            "mass_kg": decimal_text(flow.mass),
            "mass_unknown": flow.unknown,
            "entries": sorted(flow.entries),
        }
        for (from_org, to_org), flow in sorted(moves.items())
    ]
