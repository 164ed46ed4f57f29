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

Every finding names the entries it rests on. ``cloned_label`` rows (a label
scanned at two sites too fast) come from findings kept outside the log: ``clones``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from itertools import pairwise
from typing import Any

from ledger.codes import BATTERY_KINDS
from ledger.events import ELEMENT_KEYS
from ledger.lifecycle import MakerBinding, Role
from ledger.makers import maker_code
from ledger.reports.history import Context, Part, Trail, decimal_text
from ledger.reports.recovery import element_masses

__all__ = ["ANOMALY_KINDS", "MASS_GAIN", "anomaly_parts", "anomaly_row", "maker_rows"]

ANOMALY_KINDS = (
    "collected_twice",
    "soh_rising",
    "unbound_maker_code",
    "foreign_maker_code",
    "recovery_above_content",
    "collected_above_registered",
    "cloned_label",
)
# A weighed mass this much above the registered one is flagged (scales and
# packaging differ by a few percent; ``ledger.lifecycle.Tolerances`` uses 2%).
MASS_GAIN = Decimal("0.10")

Row = dict[str, Any]


def anomaly_parts(trail: Trail, ctx: Context) -> list[Part]:
    """The item's findings (``anomaly`` parts, keyed by kind and number) and, for a
    battery an OEM registered, its manufacturer code (a ``maker`` part, counted per
    code and org: whether it is foreign or unbound depends on the bindings when
    the report is read)."""
    rows = [
        *_collected_twice(trail),
        *_soh_rising(ctx, trail),
        *_above_content(trail),
        *_mass_gain(trail),
    ]
    parts = [
        Part("anomaly", (row["kind"], str(n)), tuple(row["entries"]), {"detail": row["detail"]})
        for n, row in enumerate(rows)
    ]
    item, registered = trail.item, trail.of_type("registered")
    if item.kind.value in BATTERY_KINDS and registered and ctx.role(item.manufacturer) == Role.OEM:
        # Parts and second lives carry their maker's code, not their registrant's.
        key = (maker_code(item.code), item.manufacturer)
        parts.append(Part("maker", key, (registered[0].seq,), {"count": Decimal(1)}))
    return parts


def anomaly_row(item: str, part: Part) -> Row:
    """The row of one ``anomaly`` part."""
    return {
        "kind": part.key[0],
        "item": item,
        "detail": str(part.measures["detail"]),
        "entries": sorted(part.seqs),
    }


def maker_rows(
    counted: Iterable[tuple[str, str]],
    makers: Mapping[str, MakerBinding],
    members: Callable[[tuple[str, str]], list[tuple[str, Part]]],
) -> list[Row]:
    """The rows of the batteries whose manufacturer code is bound to no org or to
    another org: ``counted`` the (code, maker) pairs registered, ``members`` the
    items (and their parts) of one pair."""
    rows: list[Row] = []
    for code, maker in counted:
        binding = makers.get(code)
        if binding is not None and binding.org == maker:
            continue
        for item, part in members((code, maker)):
            if binding is None:
                detail = f"manufacturer code {code} is bound to no org"
                rows.append(_row("unbound_maker_code", item, detail, list(part.seqs)))
            else:
                detail = f"manufacturer code {code} is bound to {binding.org}, not to {maker}"
                rows.append(_row("foreign_maker_code", item, detail, [*part.seqs, binding.seq]))
    return rows


def _row(kind: str, item: str, detail: str, entries: list[int]) -> Row:
    return {"kind": kind, "item": item, "detail": detail, "entries": sorted(entries)}


def _collected_twice(trail: Trail) -> list[Row]:
    seqs = [e.seq for e in trail.of_type("collected")]
    if len(seqs) < 2:
        return []
    return [_row("collected_twice", trail.item.id, f"collected {len(seqs)} times", seqs)]


def _soh_rising(ctx: Context, trail: Trail) -> list[Row]:
    if not trail.of_type("assessed"):
        return []  # a finding names one of the item's own assessments
    line: list[Trail] = [trail]
    while (origin := line[-1].item.origin) is not None:
        if any(t.item.id == origin for t in line):
            break  # a loop of origins cannot be written; never follow one
        found = ctx.trail_of(origin)
        if found is None:
            break
        line.append(found)
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
            rows.append(_row("soh_rising", trail.item.id, detail, [seq_a, seq_b]))
    return rows


def _above_content(trail: Trail) -> list[Row]:
    recycled = trail.of_type("recycled")
    declared = trail.registered().get("attributes", {}).get("materials") if recycled else None
    if not isinstance(declared, dict):
        return []
    rows = []
    for entry in recycled:
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
                rows.append(_row("recovery_above_content", trail.item.id, detail, seqs))
    return rows


def _mass_gain(trail: Trail) -> list[Row]:
    registered, collected = trail.of_type("registered"), trail.of_type("collected")
    if not registered or not collected:
        return []
    mass = trail.registered().get("attributes", {}).get("mass_kg")
    if not isinstance(mass, str):
        return []
    rows = []
    for entry in collected:
        weighed = Decimal(str(trail.data[entry.seq].get("mass_kg", "0")))
        if weighed > Decimal(mass) * (1 + MASS_GAIN):
            detail = f"weighed {weighed} kg at collection, registered at {mass} kg"
            rows.append(
                _row(
                    "collected_above_registered",
                    trail.item.id,
                    detail,
                    [registered[0].seq, entry.seq],
                )
            )
    return rows
