"""The report aggregates: every report's rows kept up to date as the log grows.

Owns ``refresh``: it folds the entries the aggregates do not cover yet, a slice
at a time, each slice in one transaction of ``Store.reports(write=True)`` (its
own lock, never the chain's: appends go on). For every item a slice touches
(and every second life of one), it reads the item's whole trail, works out its
parts anew (``PARTS``: each report module's share of each row), takes the item's
old parts out of the rows' sums and puts the new ones in, for everyone (``*``)
and for each org in the item's chain (``ledger.passport.chain_orgs``), then
moves the mark. So a report reads a few rows of sums whatever the size of the
log, and a refresh costs what the new entries touch. ``rebuild`` starts again
from an empty mark: the aggregates are derived from the log alone.

An item whose stored parts were worked out at its current head is passed over
(``_current``): its trail has not changed since. That is the common case when
an item's entries span two slices (a bulk load, a rebuild): the first slice
reads its whole trail. Within one refresh such an item is not even read again:
a slice hands the next the heads it worked out at (``ahead``), and an item
whose entries in the slice all lie at or before its head there is passed over.
A trail is let go as soon as its item's parts are worked out, unless a second
life looks back at it, so a slice holds the changed parts, not every trail it
read.

A slice reads entries below the head it saw; items read a moment later may
already show later entries: their parts then rest on those entries already,
and are worked out again only if the item has moved on by the time the mark
passes them, so once a refresh reaches the head every part is exact.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from ledger.chain import StoredEntry
from ledger.lifecycle import Item
from ledger.passport import chain_orgs
from ledger.reports.anomalies import anomaly_parts
from ledger.reports.deadlines import deadline_parts
from ledger.reports.flows import flows_parts
from ledger.reports.history import Context, Part, Trail, key_text, make_trail
from ledger.reports.inventory import inventory_parts
from ledger.reports.recovery import recovery_parts
from ledger.reports.second_life import second_life_parts
from ledger.store.base import CellKey, ReportMember, ReportTables, Store

__all__ = ["COUNTED", "EVERYONE", "PARTS", "as_part", "behind", "rebuild", "refresh"]

EVERYONE = "*"
# The tables whose rows are sums kept per scope; the others are listed row by row.
COUNTED = frozenset({"inventory", "monthly", "recovery", "second-life", "flows", "maker"})
# Entries folded per transaction: enough that an item whose entries came close
# together is worked out once; few enough that SQLite writers wait little.
SLICE = 5000


def _item_part(trail: Trail, _ctx: Context) -> list[Part]:
    # Every item once, with its registration: who may see it, and what a row about
    # it (a cloned label) rests on.
    first = trail.of_type("registered")[:1]
    return [Part("item", (), tuple(e.seq for e in first), {})]


PARTS: tuple[Callable[[Trail, Context], list[Part]], ...] = (
    _item_part,
    inventory_parts,
    recovery_parts,
    second_life_parts,
    flows_parts,
    deadline_parts,
    anomaly_parts,
)


def refresh(
    store: Store,
    *,
    slice_size: int = SLICE,
    progress: Callable[[int], None] | None = None,
    budget: int | None = None,
) -> int:
    """Fold the entries the aggregates do not cover yet (at most about ``budget``
    of them; ``None``: all); the size they then cover.

    ``progress`` is told the size covered after each slice.
    """
    with store.reports() as tables:
        # Nothing new: no lock taken (on SQLite, the write lock).
        mark, size = tables.report_mark(), tables.size()
    if budget is not None:
        size = min(size, mark + budget)
    ahead: dict[str, int] = {}
    left = mark
    while mark < size:
        with store.reports(write=True) as tables:
            mark = tables.report_mark()
            if mark != left:
                ahead.clear()  # another refresh moved the mark: nothing here is known
            count, touched = tables.touched(mark, slice_size)
            if count:
                _fold(tables, touched, ahead)
                tables.set_report_mark(mark + count)
        if progress is not None:
            progress(mark + count)
        mark += count
        left = mark
        ahead = {item: head for item, head in ahead.items() if head >= mark}
        if count < slice_size:
            break
    return mark


def behind(store: Store) -> int:
    """How many entries of the log the aggregates do not cover yet."""
    with store.reports() as tables:
        return max(0, tables.size() - tables.report_mark())


def rebuild(
    store: Store, *, slice_size: int = SLICE, progress: Callable[[int], None] | None = None
) -> int:
    """Drop the aggregates and fold the whole log again."""
    with store.reports(write=True) as tables:
        tables.clear_reports()
    return refresh(store, slice_size=slice_size, progress=progress)


def as_part(member: ReportMember) -> Part:
    """A stored member as the part it was made from (measures as stored)."""
    return Part(member.report, tuple(json.loads(member.key)), member.seqs, member.measures)


def _fold(tables: ReportTables, touched: Mapping[str, int], ahead: dict[str, int]) -> None:
    """Work out again the parts of the items ``touched`` (each with its last seq in
    the slice), but those whose parts an earlier slice of the same refresh
    worked out at a head (``ahead``) at or past that seq: their entries in this
    slice are in them already, and they are not read again. ``ahead`` is told
    the heads of the items worked out (or found current) here."""
    passed = {i for i, last in touched.items() if ahead.get(i, -1) >= last}
    lives = tables.items_from(sorted(touched))  # second lives look back at origins
    items = tables.items_by_ids(sorted((touched.keys() | set(lives)) - passed))
    old: dict[str, dict[tuple[str, str], ReportMember]] = {item_id: {} for item_id in items}
    heads: dict[str, tuple[int, ...]] = {}
    for m in tables.members_of(sorted(items)):
        old.setdefault(m.item, {})[(m.report, m.key)] = m
        if m.report == "inventory":
            heads[m.item] = m.seqs
    stale = sorted(i for i, item in items.items() if not _current(item, heads.get(i)))
    # Read after the items: a trail holds at least the entries up to its item's head.
    stored = tables.entries_of(stale)
    trails = _Trails(tables, items, stored)
    ctx = Context({org.id: org for org in tables.orgs()}, trails.trail_of)
    gone: list[ReportMember] = []
    came: list[ReportMember] = []
    for item_id in stale:
        trail = trails.own(item_id)
        viewers = tuple(sorted(chain_orgs(trail.item, trail.entries)))
        kept: dict[tuple[str, str], ReportMember] = {}
        for make in PARTS:
            for part in make(trail, ctx):
                member = _member(item_id, part, viewers)
                kept[(member.report, member.key)] = member
        # Only what changed is written: most of an item's parts (its registration,
        # the months before) stay as they were when one more entry comes.
        before = old.pop(item_id)
        if before:
            gone.extend(m for at, m in before.items() if kept.get(at) != m)
            came.extend(m for at, m in kept.items() if before.get(at) != m)
        else:
            came.extend(kept.values())
    _apply(tables, gone, came)
    tables.change_members(gone, came)
    ahead.update((i, item.head_seq) for i, item in items.items() if item.origin is None)


def _current(item: Item, head: tuple[int, ...] | None) -> bool:
    """Whether an item's stored parts were worked out from its trail as it stands.

    Its inventory part rests on its head entry, and an item changes only by
    entries of its own, each a new head: a trail read after the item's row holds
    that head, so parts kept at the head the row names still hold (the orgs they
    read never change). A second life's parts also read its origins' trails: it
    is worked out again whenever it is touched.
    """
    return item.origin is None and head == (item.head_seq,)


class _Trails:
    """The trails one fold reads: each item's own, made when its parts are worked
    out and then let go, unless a second life looks back at it (``trail_of``)."""

    def __init__(
        self,
        tables: ReportTables,
        items: Mapping[str, Item],
        stored: dict[str, list[StoredEntry]],
    ) -> None:
        self.tables, self.items, self.stored = tables, items, stored
        self.kept: dict[str, Trail] = {}
        self.origins = {item.origin for item in items.values() if item.origin is not None}
        # The origins whose entries this fold does not read anyway, read at once.
        wanted = sorted(self.origins - stored.keys())
        if wanted:
            found = {i: items[i] for i in wanted if i in items}
            if missing := [i for i in wanted if i not in found]:
                found.update(tables.items_by_ids(missing))
            more = tables.entries_of(sorted(found))
            for i, item in found.items():
                self.kept[i] = make_trail(item, more.get(i, ()))

    def own(self, item_id: str) -> Trail:
        """The trail of one of the items whose entries were read (their rows are
        let go with it)."""
        trail = self.kept.get(item_id)
        if trail is None:
            trail = make_trail(self.items[item_id], self.stored.pop(item_id, ()))
            if item_id in self.origins:
                self.kept[item_id] = trail
        return trail

    def trail_of(self, item_id: str) -> Trail | None:
        """Any item's trail, read if need be, and kept."""
        if item_id in self.kept:
            return self.kept[item_id]
        if item_id in self.stored:
            trail = make_trail(self.items[item_id], self.stored.pop(item_id))
        else:
            item = self.items.get(item_id) or self.tables.item(item_id)
            if item is None:
                return None
            trail = make_trail(item, self.tables.entries_of([item_id]).get(item_id, []))
        self.kept[item_id] = trail
        return trail


def _member(item_id: str, part: Part, viewers: tuple[str, ...]) -> ReportMember:
    measures = {
        name: (str(value) if isinstance(value, Decimal) else value)
        for name, value in part.measures.items()
    }
    return ReportMember(item_id, part.report, key_text(part.key), part.seqs, measures, viewers)


def _apply(tables: ReportTables, old: Iterable[ReportMember], new: Iterable[ReportMember]) -> None:
    """Take ``old`` out of the sums and put ``new`` in, for every scope that sees them."""
    taken = {(m.item, m.report, m.key): m for m in old if m.report in COUNTED}
    # Summed by row and by the orgs that see them first: items in the same chain
    # add to the same cells.
    rows: dict[tuple[str, str, tuple[str, ...]], dict[str, Decimal]] = {}
    for m in new:
        if m.report not in COUNTED:
            continue
        was = taken.pop((m.item, m.report, m.key), None)
        if was is not None and was.measures == m.measures and was.viewers == m.viewers:
            continue  # only the seqs it rests on moved
        if was is not None:
            _add(rows, was, -1)
        _add(rows, m, 1)
    for m in taken.values():
        _add(rows, m, -1)
    deltas: dict[CellKey, dict[str, Decimal]] = {}
    zero = Decimal(0)
    for (report, row, viewers), values in rows.items():
        for scope in (EVERYONE, *viewers):
            sums = deltas.setdefault((scope, report, row), {})
            for name, value in values.items():
                sums[name] = sums.get(name, zero) + value
    changed = {key: sums for key, sums in deltas.items() if any(sums.values())}
    if not changed:
        return
    current = tables.cells_at(sorted(changed))
    written: dict[CellKey, Mapping[str, str] | None] = {}
    for key, sums in changed.items():
        total = {name: Decimal(value) for name, value in current.get(key, {}).items()}
        for name, value in sums.items():
            total[name] = total.get(name, zero) + value
        kept = {name: _text(value) for name, value in sorted(total.items()) if value}
        written[key] = kept or None
    tables.write_cells(written)


def _add(
    rows: dict[tuple[str, str, tuple[str, ...]], dict[str, Decimal]], m: ReportMember, sign: int
) -> None:
    sums = rows.setdefault((m.report, m.key, m.viewers), {})
    for name, value in m.measures.items():
        sums[name] = sums.get(name, Decimal(0)) + sign * Decimal(str(value))


def _text(value: Decimal) -> str:
    # One spelling per number, whatever sums and differences led to it.
    return f"{value.normalize():f}"
