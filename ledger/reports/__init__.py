"""Compliance reports: read functions over the report aggregates.

Owns the list of reports, ``build_report``, the one function an interface calls
for a report (``build_reports`` for several read together, as a page shows
them), and ``row_entries``, the entries behind one row of sums. Each first brings
the aggregates up to the log once (``aggregate.refresh``: what the entries
appended since the last refresh touched), then reads them in one transaction: a
few rows of sums for the reports that count (``inventory`` and its ``monthly``
table, ``recovery``, ``second-life``, ``flows``), one row per finding for those
that list (``deadlines``, ``anomalies``). A regulator sees every org's items; any
other org only the items in whose chain it stands, and sums over those alone.
Listed rows name the seqs they were computed from; a row of sums names its
``row_key``, and ``row_entries`` lists the seqs behind it.

Modules: ``history`` (trails, parts, days), ``aggregate`` (the refresh), one per
report (``inventory``, ``recovery``, ``deadlines``, ``second_life``, ``flows``,
``anomalies``, with its ``cloned_label`` rows from ``clones``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ledger.chain import format_ts
from ledger.errors import NotFoundError
from ledger.lifecycle import Role
from ledger.records import OrgRecord
from ledger.reports.aggregate import EVERYONE, as_part, behind, rebuild, refresh
from ledger.reports.anomalies import anomaly_row, maker_rows
from ledger.reports.clones import cloned_labels
from ledger.reports.deadlines import CLOCKS, Deadlines, deadline_rows, last_overdue_start
from ledger.reports.flows import flows_rows
from ledger.reports.history import Cells, Part, china_day, key_text
from ledger.reports.inventory import inventory_rows, monthly_rows
from ledger.reports.recovery import recovery_rows
from ledger.reports.second_life import second_life_rows
from ledger.store.base import ReportMember, ReportTables, Store

__all__ = [
    "REPORTS",
    "ROW_PAGE",
    "TABLES",
    "Deadlines",
    "Report",
    "RowEntries",
    "behind",
    "build_report",
    "build_reports",
    "rebuild",
    "refresh",
    "row_entries",
]

REPORTS = ("inventory", "recovery", "deadlines", "second-life", "flows", "anomalies")
# The tables of sums, by (report, table), and the parts they are summed from.
TABLES = {
    ("inventory", "rows"): "inventory",
    ("inventory", "monthly"): "monthly",
    ("recovery", "rows"): "recovery",
    ("second-life", "rows"): "second-life",
    ("flows", "rows"): "flows",
}

Row = dict[str, Any]
# A request folds at most this many entries itself before it reads (well under a
# second); after a large bulk load the report says how far it covers (``size``)
# while the server's refresher folds the rest.
CATCH_UP = 20_000
# Items whose entries one page of a row's entries lists, at most.
ROW_PAGE = 5_000


@dataclass(frozen=True)
class Report:
    """A report as computed at ``generated_at`` over the first ``size`` entries:
    its rows and any further tables."""

    name: str
    generated_at: str
    rows: list[Row]
    tables: Mapping[str, list[Row]] = field(default_factory=dict)
    size: int = 0

    def table(self, name: str) -> list[Row]:
        """``rows``, or a further table by name.

        Raises:
            NotFoundError: no such table in this report (pointer ``/table``).
        """
        if name == "rows":
            return self.rows
        if name not in self.tables:
            known = ", ".join(["rows", *self.tables])
            raise NotFoundError(
                f"the {self.name} report has no table {name!r}; it has {known}", pointer="/table"
            )
        return self.tables[name]


@dataclass(frozen=True)
class _View:
    """What one caller sees of the aggregates."""

    tables: ReportTables
    caller: OrgRecord | None

    @property
    def scope(self) -> str:
        """Whose sums the caller reads: everyone's (a regulator, or ``None``: the
        command line) or its own org's."""
        if self.caller is None or self.caller.role == Role.REGULATOR:
            return EVERYONE
        return self.caller.id

    @property
    def everything(self) -> bool:
        return self.scope == EVERYONE

    def sees(self, member: ReportMember) -> bool:
        return self.everything or self.scope in member.viewers

    def cells(self, report: str) -> Cells:
        return {
            tuple(json.loads(key)): {name: Decimal(value) for name, value in sums.items()}
            for key, sums in self.tables.cells(self.scope, report).items()
        }

    def listed(
        self, report: str, key: str | None = None, up_to: str | None = None
    ) -> list[tuple[str, Part]]:
        return [
            (m.item, as_part(m))
            for m in self.tables.row_members(report, key, up_to)
            if self.sees(m)
        ]


def build_report(
    store: Store,
    name: str,
    caller: OrgRecord | None,
    now: datetime,
    rules: Deadlines | None = None,
) -> Report:
    """The report ``name`` over the items ``caller`` may see (``None``: every
    item, for the command line that holds the database), as of ``now``.

    Raises:
        NotFoundError: no report of that name.
    """
    return build_reports(store, (name,), caller, now, rules)[name]


def build_reports(
    store: Store,
    names: Sequence[str],
    caller: OrgRecord | None,
    now: datetime,
    rules: Deadlines | None = None,
) -> dict[str, Report]:
    """The reports ``names``, by name, as ``build_report`` makes each, after one
    refresh and read in one transaction: every one covers the same entries.

    Raises:
        NotFoundError: a name that is no report (before anything is read).
    """
    for name in names:
        if name not in REPORTS:
            raise NotFoundError(f"no report {name!r}; the reports are {', '.join(REPORTS)}")
    size = refresh(store, budget=CATCH_UP)
    generated_at, rules = format_ts(now), rules or Deadlines()
    done = {}
    with store.reports() as tables:
        view = _View(tables, caller)
        for name in names:
            rows, more = _compute(view, name, now, rules)
            done[name] = Report(name, generated_at, rows, more, size)
    return done


@dataclass(frozen=True)
class RowEntries:
    """A page of the seqs behind one row of sums: those of up to ``limit`` items,
    and where the next page begins (``None``: this was the last)."""

    entries: list[int]
    next_after: str | None


def row_entries(
    store: Store,
    name: str,
    table: str,
    row_key: str,
    caller: OrgRecord | None,
    *,
    after: str | None = None,
    limit: int = ROW_PAGE,
) -> RowEntries:
    """The seqs behind one row of sums (``row_key``) of ``name``'s ``table``, over
    the items ``caller`` may see, a page of items at a time (in item order, after
    the item ``after``).

    Raises:
        NotFoundError: no such report or table of sums (pointer ``/table``).
    """
    report = TABLES.get((name, table))
    if report is None:
        known = ", ".join(f"{n}/{t}" for n, t in TABLES)
        raise NotFoundError(
            f"no table of sums {name}/{table}; entries are listed for {known}", pointer="/table"
        )
    refresh(store, budget=CATCH_UP)
    with store.reports() as tables:
        view = _View(tables, caller)
        members = tables.row_members(report, row_key, after_item=after, limit=limit)
    seqs = sorted({seq for m in members if view.sees(m) for seq in m.seqs})
    return RowEntries(seqs, members[-1].item if len(members) == limit else None)


def _compute(
    view: _View, name: str, now: datetime, rules: Deadlines
) -> tuple[list[Row], dict[str, list[Row]]]:
    if name == "inventory":
        return inventory_rows(view.cells("inventory")), {
            "monthly": monthly_rows(view.cells("monthly"))
        }
    if name == "recovery":
        return recovery_rows(view.cells("recovery")), {}
    if name == "second-life":
        return second_life_rows(view.cells("second-life")), {}
    if name == "flows":
        regions = {org.id: org.region for org in view.tables.orgs()}
        return flows_rows(view.cells("flows"), lambda org: regions.get(org, "")), {}
    if name == "deadlines":
        today = china_day(format_ts(now))
        clocks = [
            (rule, item, part)
            for rule, report in CLOCKS.items()
            for item, part in view.listed(
                report, up_to=key_text((last_overdue_start(rules.limit(rule), today).isoformat(),))
            )
        ]
        return deadline_rows(clocks, view.listed("late"), rules, today), {}
    return _anomalies(view), {}


def _anomalies(view: _View) -> list[Row]:
    rows = [anomaly_row(item, part) for item, part in view.listed("anomaly")]
    makers = {binding.code: binding for binding in view.tables.makers()}
    counted = [(code, maker) for code, maker in view.cells("maker")]
    rows += maker_rows(counted, makers, lambda pair: view.listed("maker", key_text(pair)))
    visible = None
    if not view.everything:
        found = sorted({f.item for f in view.tables.clone_findings()})
        visible = {m.item for m in view.tables.members_of(found) if view.sees(m)}
    rows += cloned_labels(view.tables, visible)
    return sorted(rows, key=lambda row: (row["item"], row["kind"], row["entries"]))
