"""What every report reads: the visible items, their entries and the orgs, at one instant.

Owns the one read a report makes of the store (a consistent ``Reader``: the log and
the projection together), which items the caller may see (a regulator every item;
any other org the items in whose chain it stands, ``ledger.passport.chain_orgs``:
those it made, holds or held, or wrote on), and the facts the reports share: an
entry's effective data (corrections applied), the day an event happened, and the
working days of China's official calendar (``chinese-calendar``: its public
holidays and the weekends made working days).

Reports compute on request from the whole log: correct first, no summary tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

import chinese_calendar

from ledger.chain import Entry, parse_entry
from ledger.lifecycle import Item, MakerBinding, Role
from ledger.materials import effective_data
from ledger.passport import chain_orgs
from ledger.records import OrgRecord
from ledger.store.base import Store

__all__ = [
    "History",
    "Trail",
    "china_day",
    "decimal_text",
    "event_day",
    "is_workday",
    "read_history",
    "working_days_between",
]

# China keeps one time zone, UTC+8, with no daylight saving: the day an entry was
# recorded, as its calendar counts days.
_CHINA = timedelta(hours=8)


@dataclass(frozen=True)
class Trail:
    """One item, its entries in seq order and their data with corrections applied."""

    item: Item
    entries: tuple[Entry, ...]
    data: Mapping[int, Mapping[str, Any]]

    def of_type(self, event_type: str) -> list[Entry]:
        return [e for e in self.entries if e.type == event_type]

    def registered(self) -> Mapping[str, Any]:
        """The effective data of the item's registration (empty when absent)."""
        first = self.of_type("registered")
        return self.data.get(first[0].seq, {}) if first else {}


@dataclass(frozen=True)
class History:
    """What a report is computed from: the visible items' trails, every item's
    (for links such as a second life's origin), every org and every manufacturer
    code binding."""

    trails: Mapping[str, Trail]
    all_trails: Mapping[str, Trail]
    orgs: Mapping[str, OrgRecord]
    makers: Mapping[str, MakerBinding]

    def region(self, org_id: str) -> str:
        org = self.orgs.get(org_id)
        return org.region if org is not None else ""

    def role(self, org_id: str) -> Role | None:
        org = self.orgs.get(org_id)
        return org.role if org is not None else None


def read_history(store: Store, caller: OrgRecord | None) -> History:
    """Every item with its entries, and the subset ``caller`` may see (``None``:
    whoever holds the database itself, the ``retrace`` command, sees everything)."""
    with store.reader() as r:
        items = {item.id: item for item in r.iter_items()}
        orgs = {org.id: org for org in r.orgs()}
        makers = {binding.code: binding for binding in r.makers()}
        by_item: dict[str, list[Entry]] = {}
        for stored in r.iter_entries():
            if stored.item is not None and stored.item in items:
                by_item.setdefault(stored.item, []).append(parse_entry(stored.body))
    trails = {
        item_id: Trail(
            item, tuple(by_item.get(item_id, ())), effective_data(by_item.get(item_id, []))
        )
        for item_id, item in sorted(items.items())
    }
    if caller is None or caller.role == Role.REGULATOR:
        return History(trails, trails, orgs, makers)
    visible = {
        item_id: trail
        for item_id, trail in trails.items()
        if caller.id in chain_orgs(trail.item, trail.entries)
    }
    return History(visible, trails, orgs, makers)


def china_day(ts: str) -> date:
    """The day in China (UTC+8) of an RFC 3339 UTC timestamp."""
    return (datetime.fromisoformat(ts.replace("Z", "+00:00")) + _CHINA).date()


def event_day(entry: Entry, data: Mapping[str, Any]) -> date:
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
