"""The deadlines report: items and entries overdue, in working days of China's calendar.

Owns DESIGN.md's deadline rows ``{item, rule, org, since, working_days_overdue,
entries}`` and the three rules, each counted in working days (``history.is_workday``:
China's official calendar, its holidays off and its adjusted weekend days on) from
the day something happened (an event's ``date``, else the day it was recorded):

* ``collect``: retired and transferred to a recycler, not collected within
  ``Deadlines.collect`` working days of the later of the two; the recycler answers.
* ``process``: collected (or assessed) but not recycled, dismantled, repurposed,
  disposed or passed on within ``Deadlines.process`` working days of collection;
  the holder answers.
* ``late_report``: an event recorded more than ``Deadlines.report`` working days
  after the day it happened; the org that recorded it answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.lifecycle import Role, State
from ledger.reports.history import History, Trail, china_day, event_day, working_days_between

__all__ = ["Deadlines", "deadlines"]


@dataclass(frozen=True)
class Deadlines:
    """Working days allowed by each rule (``RETRACE_*_DEADLINE_DAYS``)."""

    collect: int = 90
    process: int = 365
    report: int = 15


def deadlines(history: History, rules: Deadlines, today: date) -> list[dict[str, Any]]:
    """Every overdue item or entry as of ``today`` (a day of China's calendar)."""
    rows: list[dict[str, Any]] = []
    for trail in history.trails.values():
        rows.extend(_custody(history, trail, rules, today))
        for entry in trail.entries:
            happened = event_day(entry, trail.data[entry.seq])
            late = working_days_between(happened, china_day(entry.ts)) - rules.report
            if late > 0:
                rows.append(_row(trail, "late_report", entry.actor, happened, late, [entry.seq]))
    return sorted(rows, key=lambda row: (row["rule"], row["item"], row["entries"]))


def _custody(history: History, trail: Trail, rules: Deadlines, today: date) -> list[dict[str, Any]]:
    item = trail.item
    if item.state == State.RETIRED and history.role(item.holder) == Role.RECYCLER:
        rule, limit = "collect", rules.collect
        steps = [*trail.of_type("retired")[-1:], *_transfers_to(trail, item.holder)[-1:]]
    elif item.state in (State.COLLECTED, State.ASSESSED):
        rule, limit = "process", rules.process
        steps = trail.of_type("collected")[-1:]
    else:
        return []
    if not steps:
        return []
    since = max(event_day(e, trail.data[e.seq]) for e in steps)
    over = working_days_between(since, today) - limit
    if over <= 0:
        return []
    return [_row(trail, rule, item.holder, since, over, sorted(e.seq for e in steps))]


def _transfers_to(trail: Trail, org: str) -> list[Any]:
    return [e for e in trail.of_type("transferred") if trail.data[e.seq].get("to_org") == org]


def _row(
    trail: Trail, rule: str, org: str, since: date, over: int, entries: list[int]
) -> dict[str, Any]:
    return {
        "item": trail.item.id,
        "rule": rule,
        "org": org,
        "since": since.isoformat(),
        "working_days_overdue": over,
        "entries": entries,
    }
