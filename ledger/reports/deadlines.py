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

An item's parts are its running clock (``clock:collect`` or ``clock:process``,
keyed by the day it started, so the overdue ones are one range of keys) and its
entries recorded after the day they happened (``late``, with the working days
between); the rules' limits apply when the report is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ledger.lifecycle import Role, State
from ledger.reports.history import (
    Context,
    Part,
    Step,
    Trail,
    china_day,
    event_day,
    is_workday,
    working_days_between,
)

__all__ = ["CLOCKS", "Deadlines", "deadline_parts", "deadline_rows", "last_overdue_start"]

CLOCKS = {"collect": "clock:collect", "process": "clock:process"}


@dataclass(frozen=True)
class Deadlines:
    """Working days allowed by each rule (``RETRACE_*_DEADLINE_DAYS``)."""

    collect: int = 90
    process: int = 365
    report: int = 15

    def limit(self, rule: str) -> int:
        return {"collect": self.collect, "process": self.process}.get(rule, self.report)


def deadline_parts(trail: Trail, ctx: Context) -> list[Part]:
    """The item's running clock, if any, and its entries recorded late."""
    parts = _clock(trail, ctx)
    for entry in trail.entries:
        # A correction's own data is folded into the entry it corrects.
        data = trail.data.get(entry.seq, entry.data)
        if not isinstance(data.get("date"), str):
            continue  # it happened the day it was recorded
        happened = event_day(entry, data)
        lag = working_days_between(happened, china_day(entry.ts))
        if lag > 0:
            key = (happened.isoformat(), str(entry.seq))
            parts.append(Part("late", key, (entry.seq,), {"org": entry.actor, "lag": lag}))
    return parts


def _clock(trail: Trail, ctx: Context) -> list[Part]:
    item = trail.item
    if item.state == State.RETIRED and ctx.role(item.holder) == Role.RECYCLER:
        rule = "collect"
        steps = [*trail.of_type("retired")[-1:], *_transfers_to(trail, item.holder)[-1:]]
    elif item.state in (State.COLLECTED, State.ASSESSED):
        rule, steps = "process", [*trail.of_type("collected")[-1:]]
    else:
        return []
    if not steps:
        return []
    since = max(event_day(e, trail.data[e.seq]) for e in steps)
    seqs = tuple(sorted(e.seq for e in steps))
    return [Part(CLOCKS[rule], (since.isoformat(),), seqs, {"org": item.holder})]


def _transfers_to(trail: Trail, org: str) -> list[Step]:
    return [e for e in trail.of_type("transferred") if trail.data[e.seq].get("to_org") == org]


def last_overdue_start(limit: int, today: date) -> date:
    """The latest day a clock may have started and be overdue on ``today``: more
    than ``limit`` working days lie after it, up to and including ``today``."""
    count, day = 0, today
    while True:
        count += is_workday(day)
        if count > limit:
            return day - timedelta(days=1)
        day -= timedelta(days=1)


def deadline_rows(
    clocks: Sequence[tuple[str, str, Part]],
    late: Sequence[tuple[str, Part]],
    rules: Deadlines,
    today: date,
) -> list[dict[str, Any]]:
    """Every overdue item or entry as of ``today`` (a day of China's calendar):
    from the running ``clocks`` (rule, item, part) that started by the last
    overdue day, and the ``late`` entries (item, part)."""
    rows: list[dict[str, Any]] = []
    for rule, item, part in clocks:
        since = date.fromisoformat(part.key[0])
        over = working_days_between(since, today) - rules.limit(rule)
        if over > 0:
            rows.append(_row(item, rule, str(part.measures["org"]), since, over, part.seqs))
    for item, part in late:
        over = int(Decimal(str(part.measures["lag"]))) - rules.report
        if over > 0:
            since = date.fromisoformat(part.key[0])
            rows.append(
                _row(item, "late_report", str(part.measures["org"]), since, over, part.seqs)
            )
    return sorted(rows, key=lambda row: (row["rule"], row["item"], row["entries"]))


def _row(
    item: str, rule: str, org: str, since: date, over: int, entries: Sequence[int]
) -> dict[str, Any]:
    return {
        "item": item,
        "rule": rule,
        "org": org,
        "since": since.isoformat(),
        "working_days_overdue": over,
        "entries": sorted(entries),
    }
