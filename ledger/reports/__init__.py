"""Compliance reports: read functions over the log and its projection.

Owns the list of reports and ``build_report``, the one function an interface calls:
it reads the items the caller may see with their entries (``history``), hands them
to the report's own module and answers with a ``Report``: rows (plus, for some,
further tables), each row naming the seqs of the entries it was computed from, so
every figure traces back to the log. A regulator sees every org's items; any other
org only the items in whose chain it stands. Reports are computed on request from
the whole log; nothing is kept between requests.

Modules: ``inventory``, ``recovery``, ``deadlines``, ``second_life``, ``flows``,
``anomalies``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.chain import format_ts
from ledger.errors import NotFoundError
from ledger.records import OrgRecord
from ledger.reports.anomalies import anomalies
from ledger.reports.deadlines import Deadlines, deadlines
from ledger.reports.flows import flows
from ledger.reports.history import History, china_day, read_history
from ledger.reports.inventory import inventory
from ledger.reports.recovery import recovery
from ledger.reports.second_life import second_life
from ledger.store.base import Store

__all__ = ["REPORTS", "Deadlines", "Report", "build_report"]

REPORTS = ("inventory", "recovery", "deadlines", "second-life", "flows", "anomalies")

Row = dict[str, Any]


@dataclass(frozen=True)
class Report:
    """A report as computed at ``generated_at``: its rows and any further tables."""

    name: str
    generated_at: str
    rows: list[Row]
    tables: Mapping[str, list[Row]] = field(default_factory=dict)

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
    if name not in REPORTS:
        raise NotFoundError(f"no report {name!r}; the reports are {', '.join(REPORTS)}")
    history = read_history(store, caller)
    rows, tables = _compute(name, history, now, rules or Deadlines())
    return Report(name, format_ts(now), rows, tables)


def _compute(
    name: str, history: History, now: datetime, rules: Deadlines
) -> tuple[list[Row], dict[str, list[Row]]]:
    if name == "inventory":
        return inventory(history)
    if name == "deadlines":
        return deadlines(history, rules, china_day(format_ts(now))), {}
    computed = {"recovery": recovery, "second-life": second_life, "flows": flows}
    if name in computed:
        return computed[name](history), {}
    return anomalies(history), {}
