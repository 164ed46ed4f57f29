"""The anomalies report: what the log shows that should not have happened.

Owns DESIGN.md's rows ``{kind, item, detail, entries}``, one per finding, of the kinds:

* ``collected_twice``: an item with more than one ``collected`` entry.
* ``soh_rising``: a state of health higher than the one assessed before it, along
  the item's line of second lives (its ``origin``, and that one's, ...).
* ``unbound_maker_code``: a battery registered by an OEM whose GB/T 34014
  manufacturer code (positions 1-3) is bound to no org (``ledger.makers``).
* ``foreign_maker_code``: ... bound to another org than the one that registered it
  (the binding came after the registration).
* ``recovery_above_content``: a recycling that recovered more of an element than
  the item declared it contained (``attributes.materials``).
* ``collected_above_registered``: an item weighed at collection heavier than its
  registered mass by more than ``MASS_GAIN`` (a different item, or a wrong scale).

Every finding names the entries it rests on. The cloned-label check (a label
scanned at distant sites) needs the scans kept outside the log and is not here.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise
from typing import Any

from ledger.codes import BATTERY_KINDS
from ledger.events import ELEMENT_KEYS
from ledger.lifecycle import Role
from ledger.makers import maker_code
from ledger.reports.history import History, Trail, decimal_text
from ledger.reports.recovery import element_masses

__all__ = ["ANOMALY_KINDS", "MASS_GAIN", "anomalies"]

ANOMALY_KINDS = (
    "collected_twice",
    "soh_rising",
    "unbound_maker_code",
    "foreign_maker_code",
    "recovery_above_content",
    "collected_above_registered",
)
# A weighed mass this much above the registered one is flagged (scales and
# packaging differ by a few percent; ``ledger.lifecycle.Tolerances`` uses 2%).
MASS_GAIN = Decimal("0.10")

Row = dict[str, Any]


def anomalies(history: History) -> list[Row]:
    """Every finding over the visible items, by item, kind and entries."""
    rows: list[Row] = []
    for trail in history.trails.values():
        rows.extend(_collected_twice(trail))
        rows.extend(_soh_rising(history, trail))
        rows.extend(_maker_code(history, trail))
        rows.extend(_above_content(trail))
        rows.extend(_mass_gain(trail))
    return sorted(rows, key=lambda row: (row["item"], row["kind"], row["entries"]))


def _row(kind: str, trail: Trail, detail: str, entries: list[int]) -> Row:
    return {"kind": kind, "item": trail.item.id, "detail": detail, "entries": sorted(entries)}


def _collected_twice(trail: Trail) -> list[Row]:
    seqs = [e.seq for e in trail.of_type("collected")]
    if len(seqs) < 2:
        return []
    return [_row("collected_twice", trail, f"collected {len(seqs)} times", seqs)]


def _soh_rising(history: History, trail: Trail) -> list[Row]:
    line: list[Trail] = [trail]
    while (origin := line[-1].item.origin) is not None and origin in history.all_trails:
        if any(t.item.id == origin for t in line):
            break  # a loop of origins cannot be written; never follow one
        line.append(history.all_trails[origin])
    assessments = sorted(
        (
            (e.seq, Decimal(str(t.data[e.seq]["soh_pct"])), t is trail)
            for t in line
            for e in t.of_type("assessed")
        ),
    )
    rows = []
    for (seq_a, soh_a, _), (seq_b, soh_b, own) in pairwise(assessments):
        if own and soh_b > soh_a:
            detail = f"state of health rose from {soh_a}% (entry {seq_a}) to {soh_b}%"
            rows.append(_row("soh_rising", trail, detail, [seq_a, seq_b]))
    return rows


def _maker_code(history: History, trail: Trail) -> list[Row]:
    item = trail.item
    registered = trail.of_type("registered")
    if item.kind.value not in BATTERY_KINDS or not registered:
        return []
    if history.role(item.manufacturer) != Role.OEM:
        return []  # parts and second lives carry their maker's code, not their registrant's
    code = maker_code(item.code)
    binding = history.makers.get(code)
    if binding is None:
        detail = f"manufacturer code {code} is bound to no org"
        return [_row("unbound_maker_code", trail, detail, [registered[0].seq])]
    if binding.org != item.manufacturer:
        detail = f"manufacturer code {code} is bound to {binding.org}, not to {item.manufacturer}"
        return [_row("foreign_maker_code", trail, detail, [registered[0].seq, binding.seq])]
    return []


def _above_content(trail: Trail) -> list[Row]:
    declared = trail.registered().get("attributes", {}).get("materials")
    if not isinstance(declared, dict):
        return []
    rows = []
    for entry in trail.of_type("recycled"):
        found = element_masses(trail.data[entry.seq].get("recovered", []))
        for element in ELEMENT_KEYS:
            content = Decimal(str(declared.get(element, "0")))
            got = found.get(element, Decimal(0))
            if got > content:
                detail = (
                    f"recovered {decimal_text(got)} kg of {element}, above the "
                    f"{decimal_text(content)} kg declared"
                )
                seqs = [trail.of_type("registered")[0].seq, entry.seq]
                rows.append(_row("recovery_above_content", trail, detail, seqs))
    return rows


def _mass_gain(trail: Trail) -> list[Row]:
    registered = trail.of_type("registered")
    mass = trail.registered().get("attributes", {}).get("mass_kg")
    if not registered or not isinstance(mass, str):
        return []
    rows = []
    for entry in trail.of_type("collected"):
        weighed = Decimal(str(trail.data[entry.seq].get("mass_kg", "0")))
        if weighed > Decimal(mass) * (1 + MASS_GAIN):
            detail = f"weighed {weighed} kg at collection, registered at {mass} kg"
            rows.append(
                _row("collected_above_registered", trail, detail, [registered[0].seq, entry.seq])
            )
    return rows
