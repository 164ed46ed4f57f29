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

A slice reads entries below the head it saw; items read a moment later may
already show later entries: their parts are then worked out again when the
mark passes those entries, so once a refresh reaches the head every part is
exact.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

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
    while mark < size:
        with store.reports(write=True) as tables:
            mark = tables.report_mark()
            tail = tables.entries(mark, slice_size)
            if tail:
                _fold(tables, {e.item for e in tail if e.item is not None})
                tables.set_report_mark(mark + len(tail))
        if progress is not None:
            progress(mark + len(tail))
        mark += len(tail)
        if len(tail) < slice_size:
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


def _fold(tables: ReportTables, touched: set[str]) -> None:
    touched |= set(tables.items_from(sorted(touched)))  # second lives look back at origins
    items = tables.items_by_ids(sorted(touched))
    stored = tables.entries_of(sorted(items))
    trails = {i: make_trail(item, stored.get(i, [])) for i, item in items.items()}
    ctx = Context({org.id: org for org in tables.orgs()}, _trail_lookup(tables, trails))
    new: list[ReportMember] = []
    for item_id, trail in sorted(trails.items()):
        viewers = tuple(sorted(chain_orgs(trail.item, trail.entries)))
        for make in PARTS:
            for part in make(trail, ctx):
                new.append(_member(item_id, part, viewers))
    # Only what changed is written: most of an item's parts (its registration, the
    # months before) stay as they were when one more entry comes.
    old = {(m.item, m.report, m.key): m for m in tables.members_of(sorted(items))}
    kept = {(m.item, m.report, m.key): m for m in new}
    gone = [m for at, m in old.items() if kept.get(at) != m]
    came = [m for at, m in kept.items() if old.get(at) != m]
    _apply(tables, gone, came)
    tables.change_members(gone, came)


def _trail_lookup(tables: ReportTables, known: dict[str, Trail]) -> Callable[[str], Trail | None]:
    def trail_of(item_id: str) -> Trail | None:
        if item_id not in known:
            item = tables.item(item_id)
            if item is None:
                return None
            known[item_id] = make_trail(item, tables.entries_of([item_id]).get(item_id, []))
        return known[item_id]

    return trail_of


def _member(item_id: str, part: Part, viewers: tuple[str, ...]) -> ReportMember:
    measures = {
        name: (str(value) if isinstance(value, Decimal) else value)
        for name, value in part.measures.items()
    }
    return ReportMember(item_id, part.report, key_text(part.key), part.seqs, measures, viewers)


def _apply(tables: ReportTables, old: Iterable[ReportMember], new: Iterable[ReportMember]) -> None:
    """Take ``old`` out of the sums and put ``new`` in, for every scope that sees them."""
    deltas: dict[CellKey, dict[str, Decimal]] = {}
    zero = Decimal(0)
    for members, sign in ((old, -1), (new, 1)):
        for m in members:
            if m.report not in COUNTED:
                continue
            values = [(name, sign * Decimal(str(value))) for name, value in m.measures.items()]
            for scope in (EVERYONE, *m.viewers):
                sums = deltas.setdefault((scope, m.report, m.key), {})
                for name, value in values:
                    sums[name] = sums.get(name, zero) + value
    changed = {key: sums for key, sums in deltas.items() if any(sums.values())}
    if not changed:
        return
    current = tables.cells_at(sorted(changed))
    written: dict[CellKey, Mapping[str, str] | None] = {}
    for key, sums in changed.items():
        total = {name: Decimal(value) for name, value in current.get(key, {}).items()}
        for name, value in sums.items():
            total[name] = total.get(name, Decimal(0)) + value
        kept = {name: _text(value) for name, value in sorted(total.items()) if value}
        written[key] = kept or None
    tables.write_cells(written)


def _text(value: Decimal) -> str:
    # One spelling per number, whatever sums and differences led to it.
    return f"{value.normalize():f}"
