"""The second-life report: what became of assessed items, by kind and state of health.

Owns DESIGN.md's rows ``{kind, soh_band, assessed, repurposed, recycled, entries}``
(plus ``repurposed_share`` and ``recycled_share`` of the assessed): an item counts
once, in the ten-point band of its latest assessment's ``soh_pct`` (corrections
applied; 100 falls in ``90-100``), as repurposed or recycled when its log says so.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledger.reports.history import History, decimal_text

__all__ = ["second_life", "soh_band"]


def soh_band(soh_pct: Decimal) -> str:
    """The ten-point band of a state of health in percent: ``"70-80"``."""
    low = min(int(soh_pct // 10) * 10, 90)
    return f"{low}-{low + 10}"


def second_life(history: History) -> list[dict[str, Any]]:
    """One row per kind and band with at least one assessed item."""
    groups: dict[tuple[str, str], dict[str, list[int]]] = {}
    for trail in history.trails.values():
        assessed = trail.of_type("assessed")
        if not assessed:
            continue
        last = assessed[-1]
        band = soh_band(Decimal(str(trail.data[last.seq]["soh_pct"])))
        group = groups.setdefault(
            (trail.item.kind.value, band), {"assessed": [], "repurposed": [], "recycled": []}
        )
        group["assessed"].append(last.seq)
        for outcome in ("repurposed", "recycled"):
            group[outcome].extend(e.seq for e in trail.of_type(outcome)[:1])
    rows = []
    for (kind, band), group in sorted(groups.items()):
        assessed_n = len(group["assessed"])
        rows.append(
            {
                "kind": kind,
                "soh_band": band,
                "assessed": assessed_n,
                "repurposed": len(group["repurposed"]),
                "recycled": len(group["recycled"]),
                "repurposed_share": decimal_text(Decimal(len(group["repurposed"])) / assessed_n, 4),
                "recycled_share": decimal_text(Decimal(len(group["recycled"])) / assessed_n, 4),
                "entries": sorted(seq for seqs in group.values() for seq in seqs),
            }
        )
    return rows
