"""What every report reads of one item, and the days and numbers reports share.

Owns ``Trail`` (an item with its entries in seq order, as ``Step``s: only what
the reports read of an entry, indexed by type once, and their data with
corrections applied), ``Part`` (an item's share of one report row: the row's
key, the seqs it rests on and its measures), ``Context`` (what a part may look
up beyond its own item: orgs, and the trails along a second life's origins), the
day an event happened, and the working days of China's official calendar
(``chinese-calendar``: its public holidays and the weekends made working days).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

import chinese_calendar
import orjson

from ledger.chain import StoredEntry
from ledger.lifecycle import Item, Role
from ledger.materials import CORRECTED, effective_data
from ledger.records import OrgRecord

__all__ = [
    "Cells",
    "Context",
    "Part",
    "Step",
    "Trail",
    "china_day",
    "decimal_text",
    "event_day",
    "is_workday",
    "key_text",
    "make_trail",
    "working_days_between",
]

# China keeps one time zone, UTC+8, with no daylight saving: the day an entry was
# recorded, as its calendar counts days.
_CHINA = timedelta(hours=8)


class Step(NamedTuple):
    """What the reports read of one entry (``ledger.chain.EntryContent``): no
    bytes, links or signature, so a trail is cheap to read and to hold."""

    seq: int
    ts: str
    actor: str
    type: str
    data: dict[str, Any]


_NONE: Sequence[Step] = ()


@dataclass(frozen=True)
class Trail:
    """One item, its entries in seq order (and by type, read once), and their
    data with corrections applied."""

    item: Item
    entries: tuple[Step, ...]
    data: Mapping[int, Mapping[str, Any]]
    by_type: Mapping[str, Sequence[Step]]

    def of_type(self, event_type: str) -> Sequence[Step]:
        """The entries of one type, in seq order."""
        return self.by_type.get(event_type, _NONE)

    def registered(self) -> Mapping[str, Any]:
        """The effective data of the item's registration (empty when absent)."""
        first = self.of_type("registered")
        return self.data.get(first[0].seq, {}) if first else {}


def make_trail(item: Item, stored: Iterable[StoredEntry]) -> Trail:
    """The trail of ``item`` from its stored entries (in seq order).

    Their bytes are read without checking their form again: the writer built
    them, and ``ledger.chain.parse_entry`` (every verifier's read) checks them.
    """
    entries: list[Step] = []
    by_type: dict[str, list[Step]] = {}
    for s in stored:
        fields = orjson.loads(s.body)
        step = Step(fields["seq"], fields["ts"], fields["actor"], fields["type"], fields["data"])
        entries.append(step)
        by_type.setdefault(step.type, []).append(step)
    if CORRECTED in by_type:
        data: Mapping[int, Mapping[str, Any]] = effective_data(entries)
    else:
        data = {step.seq: step.data for step in entries}  # nothing corrected: as written
    return Trail(item, tuple(entries), data, by_type)


@dataclass(frozen=True)
class Part:
    """An item's share of one report row.

    ``report`` names the table (``inventory``, ``monthly``, ``recovery``, ...),
    ``key`` the row within it, ``seqs`` the entries the share rests on, and
    ``measures`` what it adds to the row: numbers (``Decimal``) for the rows that
    are sums, or the values of a row of its own (a finding, an overdue item).
    """

    report: str
    key: tuple[str, ...]
    seqs: tuple[int, ...]
    measures: Mapping[str, Any]


@dataclass(frozen=True)
class Context:
    """What an item's parts may look up: the orgs, and other items' trails."""

    orgs: Mapping[str, OrgRecord]
    trail_of: Callable[[str], Trail | None]

    def region(self, org_id: str) -> str:
        org = self.orgs.get(org_id)
        return org.region if org is not None else ""

    def role(self, org_id: str) -> Role | None:
        org = self.orgs.get(org_id)
        return org.role if org is not None else None


Cells = Mapping[tuple[str, ...], Mapping[str, Decimal]]
"""A report's rows that are sums: each row's key and its measures."""


def key_text(key: tuple[str, ...]) -> str:
    """A row's key as the compact JSON array that names it (``row_key``)."""
    return orjson.dumps(list(key)).decode()


@lru_cache(maxsize=65536)
def china_day(ts: str) -> date:
    """The day in China (UTC+8) of an RFC 3339 UTC timestamp."""
    return (datetime.fromisoformat(ts.replace("Z", "+00:00")) + _CHINA).date()


def event_day(entry: Step, data: Mapping[str, Any]) -> date:
    """The day an event happened: its ``date``, else the day it was recorded."""
    given = data.get("date")
    return date.fromisoformat(given) if isinstance(given, str) else china_day(entry.ts)


@lru_cache(maxsize=8192)
def is_workday(day: date) -> bool:
    """A working day on China's official calendar (holidays off, adjusted weekend
    days on); for a year the calendar does not cover yet, Monday to Friday."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


@lru_cache(maxsize=65536)
def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 if ``end`` is not later)."""
    count = 0
    day = start + timedelta(days=1)
    while day <= end:
        count += is_workday(day)
        day += timedelta(days=1)
    return count


def decimal_text(value: Decimal, places: int | None = None) -> str:
    """A decimal as the API writes it: a plain string, optionally to ``places``."""
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    return f"{value.normalize():f}" if places is None else f"{value:f}"
