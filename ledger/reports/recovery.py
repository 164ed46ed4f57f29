"""The recovery report: per recycler, year and element, recovered mass against content.

Owns DESIGN.md's recovery rows ``{recycler, period, element, input_kg, recovered_kg,
rate, declared_share, targets}`` (and ``row_key``: the entries behind a row are
listed apart). ``input_kg`` is the element content the recycled items declared at
registration (``attributes.materials``, corrections applied) and ``recovered_kg``
the element mass of the recovered lines of those same items (``ledger.materials``
wrote it on each line of a known compound), so ``rate`` compares like with like;
what items without declared content yielded is ``recovered_undeclared_kg``.
``declared_share`` is the share of the recycler's input mass in the period that
came from items whose content was declared. The period is the calendar year the
recycling happened in.

Targets, each row checked against every regime for its element (``in_force`` says
whether it applied by the end of the period):

* China, MIIT "industry conditions for the comprehensive use of waste power
  batteries of new-energy vehicles" (2024 edition): lithium >= 90%; nickel, cobalt
  and manganese >= 98%.
* EU Regulation 2023/1542, Annex XII Part C, material recovery by 31 December 2027:
  lithium 50%; cobalt, nickel, copper 90%; by 31 December 2031: lithium 80%;
  cobalt, nickel, copper 95%.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ledger.events import ELEMENT_KEYS
from ledger.reports.history import Cells, Context, Part, Trail, decimal_text, event_day, key_text

__all__ = ["TARGETS", "Target", "element_masses", "recovery_parts", "recovery_rows"]

_ZERO = Decimal(0)


@dataclass(frozen=True)
class Target:
    """A recovery rate ``pct`` that ``regime`` sets from the day ``start``."""

    regime: str
    start: date
    pct: Decimal


_CN = "CN industry conditions 2024"
_EU = "EU 2023/1542"
_CN_FROM = date(2024, 1, 1)
_EU_2027 = date(2027, 12, 31)
_EU_2031 = date(2031, 12, 31)
TARGETS: dict[str, tuple[Target, ...]] = {
    "li": (
        Target(_CN, _CN_FROM, Decimal(90)),
        Target(_EU, _EU_2027, Decimal(50)),
        Target(_EU, _EU_2031, Decimal(80)),
    ),
    "ni": (
        Target(_CN, _CN_FROM, Decimal(98)),
        Target(_EU, _EU_2027, Decimal(90)),
        Target(_EU, _EU_2031, Decimal(95)),
    ),
    "co": (
        Target(_CN, _CN_FROM, Decimal(98)),
        Target(_EU, _EU_2027, Decimal(90)),
        Target(_EU, _EU_2031, Decimal(95)),
    ),
    "mn": (Target(_CN, _CN_FROM, Decimal(98)),),
    "cu": (Target(_EU, _EU_2027, Decimal(90)), Target(_EU, _EU_2031, Decimal(95))),
}


def recovery_parts(trail: Trail, _ctx: Context) -> list[Part]:
    """The item's recyclings, summed per (recycler, year): input, declared content,
    recovered element mass."""
    recycled = trail.of_type("recycled")
    if not recycled:
        return []
    declared = trail.registered().get("attributes", {}).get("materials")
    sums: dict[tuple[str, str], dict[str, Decimal]] = {}
    seqs: dict[tuple[str, str], set[int]] = {}
    for entry in recycled:
        data = trail.data[entry.seq]
        key = (entry.actor, str(event_day(entry, data).year))
        tally = sums.setdefault(key, {})
        seqs.setdefault(key, set()).add(entry.seq)
        input_kg = Decimal(str(data.get("input_mass_kg", "0")))
        _add(tally, "input_total", input_kg)
        found = element_masses(data.get("recovered", []))
        if isinstance(declared, dict):
            _add(tally, "input_declared", input_kg)
            seqs[key].add(trail.of_type("registered")[0].seq)
            for element in ELEMENT_KEYS:
                _add(tally, f"content:{element}", Decimal(str(declared.get(element, "0"))))
                _add(tally, f"recovered:{element}", found.get(element, _ZERO))
        else:
            for element, got in found.items():
                _add(tally, f"undeclared:{element}", got)
    return [Part("recovery", key, tuple(sorted(seqs[key])), sums[key]) for key in sorted(sums)]


def recovery_rows(cells: Cells) -> list[dict[str, Any]]:
    """One row per recycler, year and element recovered or declared."""
    rows = []
    for (recycler, year), sums in sorted(cells.items()):
        for element in ELEMENT_KEYS:
            rows.extend(_row(recycler, int(year), element, sums))
    return rows


def _add(tally: dict[str, Decimal], name: str, value: Decimal) -> None:
    tally[name] = tally.get(name, _ZERO) + value


def element_masses(lines: Any) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for line in lines if isinstance(lines, list) else []:
        element, mass = line.get("element"), line.get("element_mass_kg")
        if element in ELEMENT_KEYS and isinstance(mass, str):
            out[element] = out.get(element, _ZERO) + Decimal(mass)
    return out


def _row(
    recycler: str, year: int, element: str, sums: Mapping[str, Decimal]
) -> list[dict[str, Any]]:
    content = sums.get(f"content:{element}", _ZERO)
    recovered = sums.get(f"recovered:{element}", _ZERO)
    undeclared = sums.get(f"undeclared:{element}", _ZERO)
    if not (content or recovered or undeclared):
        return []
    rate = None if not content else recovered * 100 / content
    total, declared = sums.get("input_total", _ZERO), sums.get("input_declared", _ZERO)
    share = None if not total else declared / total
    end = date(year, 12, 31)
    return [
        {
            "recycler": recycler,
            "period": str(year),
            "element": element,
            "input_kg": decimal_text(content),
            "recovered_kg": decimal_text(recovered),
            "recovered_undeclared_kg": decimal_text(undeclared),
            "rate": None if rate is None else decimal_text(rate, 2),
            "declared_share": None if share is None else decimal_text(share, 4),
            "targets": [
                {
                    "regime": target.regime,
                    "from": target.start.isoformat(),
                    "target": decimal_text(target.pct),
                    "in_force": end >= target.start,
                    "met": None if rate is None else rate >= target.pct,
                }
                for target in TARGETS[element]
            ],
            "row_key": key_text((recycler, str(year))),
        }
    ]
