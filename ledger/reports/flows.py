"""The flows report: items and mass moved between orgs and between regions.

Owns DESIGN.md's rows ``{from_org, to_org, from_region, to_region, items, mass_kg}``
(and ``row_key``): one per pair of orgs that custody moved between (a
``transferred`` entry is written by the holder it leaves), ``items`` the distinct
items moved, ``mass_kg`` the sum of each move's item mass at the time (weighed at
collection, else registered: ``ledger.materials.item_mass``), ``mass_unknown`` the
moves of items whose mass no entry gives.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ledger.materials import item_mass
from ledger.reports.history import Cells, Context, Part, Trail, decimal_text, key_text

__all__ = ["flows_parts", "flows_rows"]

_ZERO = Decimal(0)


def flows_parts(trail: Trail, _ctx: Context) -> list[Part]:
    """The item's moves, summed per (from org, to org): the item counts once."""
    if not trail.of_type("transferred"):
        return []
    moves: dict[tuple[str, str], dict[str, Decimal]] = {}
    seqs: dict[tuple[str, str], list[int]] = {}
    for index, entry in enumerate(trail.entries):
        if entry.type != "transferred":
            continue
        key = (entry.actor, str(trail.data[entry.seq].get("to_org", "")))
        flow = moves.setdefault(key, {"items": Decimal(1), "mass": _ZERO, "unknown": _ZERO})
        seqs.setdefault(key, []).append(entry.seq)
        mass = item_mass(trail.entries[: index + 1])
        if mass is None:
            flow["unknown"] += 1
        else:
            flow["mass"] += mass.kg
    return [Part("flows", key, tuple(seqs[key]), moves[key]) for key in sorted(moves)]


def flows_rows(cells: Cells, region: Callable[[str], str]) -> list[dict[str, Any]]:
    """One row per (from org, to org) that custody moved between."""
    return [
        {
            "from_org": from_org,
            "to_org": to_org,
            "from_region": region(from_org),
            "to_region": region(to_org),
            "items": int(sums.get("items", _ZERO)),
            "mass_kg": decimal_text(sums.get("mass", _ZERO)),
            "mass_unknown": int(sums.get("unknown", _ZERO)),
            "row_key": key_text((from_org, to_org)),
        }
        for (from_org, to_org), sums in sorted(cells.items())
    ]
