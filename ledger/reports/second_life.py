"""The second-life report: what became of assessed items, by kind and state of health.

Owns DESIGN.md's rows ``{kind, soh_band, assessed, repurposed, recycled}`` (plus
``repurposed_share`` and ``recycled_share`` of the assessed, and ``row_key``): an
item counts once, in the ten-point band of its latest assessment's ``soh_pct``
(corrections applied; 100 falls in ``90-100``), as repurposed or recycled when its
log says so.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledger.reports.history import Cells, Context, Part, Trail, decimal_text, key_text

__all__ = ["second_life_parts", "second_life_rows", "soh_band"]

_OUTCOMES = ("repurposed", "recycled")


def soh_band(soh_pct: Decimal) -> str:
    """The ten-point band of a state of health in percent: ``"70-80"``."""
    low = min(int(soh_pct // 10) * 10, 90)
    return f"{low}-{low + 10}"


def second_life_parts(trail: Trail, _ctx: Context) -> list[Part]:
    """The assessed item in the band of its latest assessment, and its outcome."""
    assessed = trail.of_type("assessed")
    if not assessed:
        return []
    last = assessed[-1]
    band = soh_band(Decimal(str(trail.data[last.seq]["soh_pct"])))
    seqs = [last.seq]
    measures = {"assessed": Decimal(1)}
    for outcome in _OUTCOMES:
        done = trail.of_type(outcome)[:1]
        measures[outcome] = Decimal(len(done))
        seqs.extend(e.seq for e in done)
    return [Part("second-life", (trail.item.kind.value, band), tuple(sorted(seqs)), measures)]


def second_life_rows(cells: Cells) -> list[dict[str, Any]]:
    """One row per kind and band with at least one assessed item."""
    rows = []
    for (kind, band), sums in sorted(cells.items()):
        assessed = sums.get("assessed", Decimal(0))
        if not assessed:
            continue
        counts = {outcome: sums.get(outcome, Decimal(0)) for outcome in _OUTCOMES}
        rows.append(
            {
                "kind": kind,
                "soh_band": band,
                "assessed": int(assessed),
                "repurposed": int(counts["repurposed"]),
                "recycled": int(counts["recycled"]),
                "repurposed_share": decimal_text(counts["repurposed"] / assessed, 4),
                "recycled_share": decimal_text(counts["recycled"] / assessed, 4),
                "row_key": key_text((kind, band)),
            }
        )
    return rows
