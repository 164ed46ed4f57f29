"""What the interfaces read: items, histories with proofs, scans, pages of the log.

Owns every read the API and the CLI make of the ledger, each one function that
opens its own read (or lookup) on the store and answers with ledger values: an
``ItemView``, a ``History`` with inclusion proofs against the latest signed
checkpoint, a ``ScanView`` with the events the caller may record next, the
``Passport`` view at the caller's access tier, a page of entries, the orgs a
caller may list, what a label names. Routes present these; they never open the
store themselves. Who may see personal data in them is ``ledger.privacy``'s.

Scans and passports also come in two parts, so that a cache can keep the first:
what anyone who names the item sees (``Found``, ``PassportSource``; read by
``find``, ``find_many`` and ``passport_source``), and the caller's own view of
it, worked out without I/O (``scan_view``: the events it may record next;
``passport_view``: its access tier, from the item's chain).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger import domain, lifecycle
from ledger.chain import Entry, StoredEntry, parse_entry
from ledger.errors import NotFoundError
from ledger.items import ItemView, view_item
from ledger.lifecycle import Item, Org
from ledger.orgs import OrgCache
from ledger.passport import (
    Access,
    HistoryCheck,
    access_for,
    build_passport,
    chain_orgs,
    check_history,
    successors,
)
from ledger.privacy import sees_personal
from ledger.records import CheckpointRecord, IssuedKey, OrgRecord
from ledger.registry import ORG_FIELDS
from ledger.scan import ScanTarget, resolve_scan
from ledger.store.base import ProjectionReader, Store
from ledger.transparency import Transparency

__all__ = [
    "EntriesPage",
    "Found",
    "History",
    "LabelSubject",
    "OrgListing",
    "Overview",
    "PassportSource",
    "ScanView",
    "entries_page",
    "find",
    "find_many",
    "find_org",
    "history",
    "item_view",
    "label_subject",
    "label_subjects",
    "list_orgs",
    "log_size",
    "org_directory",
    "overview",
    "passport",
    "passport_source",
    "passport_view",
    "scan",
    "scan_view",
]

MAX_ID_LENGTH = 64


def _item(r: ProjectionReader, item_id: str) -> Item:
    item = r.item(item_id)
    if item is None:
        raise NotFoundError(f"no item {item_id}")
    return item


def item_view(store: Store, item_id: str) -> ItemView:
    """An item with its children and decoded code.

    Raises:
        NotFoundError: unknown item.
    """
    with store.reader() as r:
        return view_item(_item(r, item_id), r.children(item_id))


@dataclass(frozen=True)
class History:
    """An item's entries, each with its inclusion proof in the latest checkpoint
    (None for an entry newer than it)."""

    item_id: str
    entries: list[Entry]
    checkpoint: CheckpointRecord
    proofs: dict[int, list[str] | None]


def history(store: Store, tlog: Transparency, item_id: str) -> History:
    """The item's entries in order, with proofs a scanning app can check offline.

    When the latest checkpoint does not cover the item's newest entry, one that
    covers the whole log is signed first, so that every entry comes with its proof
    (a writer can prove what it has just written without waiting for the next
    periodic checkpoint).

    Raises:
        NotFoundError: unknown item.
        ChainIntegrityError: the stored tree disagrees with a signed root.
    """
    with store.reader() as r:
        _item(r, item_id)
        entries = [parse_entry(row.body) for row in r.item_entries(item_id)]
    checkpoint = tlog.checkpoint(None)
    if entries and entries[-1].seq >= checkpoint.size:
        checkpoint = tlog.checkpoint(tlog.publish().size)
    proofs = {
        e.seq: tlog.inclusion(e.seq, checkpoint.size).proof if e.seq < checkpoint.size else None
        for e in entries
    }
    return History(item_id, entries, checkpoint, proofs)


@dataclass(frozen=True)
class Found:
    """An item as anyone who names it sees it: its view and its holder.

    What a caller may do with it (``ScanView.allowed_events``) is not part of it,
    so one ``Found`` serves every caller.
    """

    view: ItemView
    holder: OrgRecord | None


def _found(r: ProjectionReader, orgs: OrgCache, item: Item) -> Found:
    # Kinds that contain nothing (cells, PV modules, blades) have no children.
    children = r.children(item.id) if lifecycle.CONTAINS[item.kind] else []
    return Found(view_item(item, children), orgs.get(r, item.holder))


def find(store: Store, orgs: OrgCache, target: ScanTarget) -> Found:
    """The item a scan names, with its holder, over one store lookup.

    Raises:
        NotFoundError, AmbiguousScanError: the scan names no one item.
    """
    with store.lookup() as r:
        return _found(r, orgs, resolve_scan(r, target))


def find_many(store: Store, orgs: OrgCache, item_ids: Sequence[str]) -> dict[str, Found]:
    """The items of ``item_ids`` that exist, by id, with their holders (one lookup)."""
    if not item_ids:
        return {}
    with store.lookup() as r:
        return {i: _found(r, orgs, item) for i, item in r.items_by_ids(item_ids).items()}


@dataclass(frozen=True)
class ScanView:
    """What a scan found: the item, its holder, and what the caller may record next."""

    item: ItemView
    holder: OrgRecord | None
    allowed_events: list[str]
    via: str
    personal: bool = False  # the caller may see personal data (``ledger.privacy``)


def scan_view(found: Found, caller: OrgRecord, via: str) -> ScanView:
    """What the holder of ``caller``'s key sees of a found item: the events it may
    record next are the caller's own, worked out on every scan."""
    item = found.view.item
    allowed = domain.allowed_events(item, caller.as_actor())
    return ScanView(found.view, found.holder, allowed, via, sees_personal(caller.role))


def scan(store: Store, orgs: OrgCache, caller: OrgRecord, target: ScanTarget) -> ScanView:
    """Resolve a scan for ``caller``.

    Every item at a loading dock is scanned: the lookups share one connection and
    need no transaction.

    Args:
        target: the scanned text as read (``ledger.scan.parse_scan``).

    Raises:
        NotFoundError, AmbiguousScanError: the scan names no one item.
    """
    return scan_view(find(store, orgs, target), caller, target.via)


@dataclass(frozen=True)
class EntriesPage:
    entries: list[Entry]
    next: int | None
    size: int


def entries_page(store: Store, start: int, limit: int) -> EntriesPage:
    """Entries from ``start`` in seq order, and where the next page starts."""
    with store.reader() as r:
        rows = r.entries(start, limit)
        size = r.size()
    following = rows[-1].seq + 1 if rows and rows[-1].seq + 1 < size else None
    return EntriesPage([parse_entry(row.body) for row in rows], following, size)


def list_orgs(store: Store) -> list[OrgRecord]:
    """Every org, oldest first."""
    with store.reader() as r:
        return r.orgs()


@dataclass(frozen=True)
class OrgListing:
    """An org as a caller may list it; ``keys`` (ids and the entries that issued and
    revoked them, never a secret) only for admins and regulators, else None."""

    org: OrgRecord
    keys: list[IssuedKey] | None


_OVERSEERS = frozenset({lifecycle.Role.ADMIN, lifecycle.Role.REGULATOR})


def org_directory(store: Store, caller: OrgRecord) -> list[OrgListing]:
    """The orgs ``caller`` may list, oldest first.

    Admins and regulators list every org with its API keys; any other org lists the
    orgs an item may pass between (makers, operators, recyclers) with what it needs
    to pick one, and nothing of how the service is run (admins, regulators, keys).
    """
    with store.reader() as r:
        orgs = r.orgs()
        if caller.role not in _OVERSEERS:
            return [OrgListing(o, None) for o in orgs if o.role in lifecycle.CUSTODIANS]
        keys: dict[str, list[IssuedKey]] = {}
        for key in r.api_keys():
            keys.setdefault(key.org_id, []).append(key)
    return [OrgListing(o, keys.get(o.id, [])) for o in orgs]


def find_org(store: Store, id_or_name: str) -> OrgRecord | None:
    """An org by its id or, failing that, its name."""
    with store.reader() as r:
        return r.org(id_or_name) or r.org_by_name(id_or_name)


def log_size(store: Store) -> int:
    """How many entries the log holds."""
    with store.reader() as r:
        return r.size()


@dataclass(frozen=True)
class Overview:
    """The ledger at a glance: size, head, items by (kind, state), recent entries."""

    size: int
    head: str | None
    counts: dict[tuple[str, str], int]
    recent: list[Entry]
    orgs: dict[str, OrgRecord]


def overview(store: Store, recent: int = 15) -> Overview:
    with store.reader() as r:
        head = r.head()
        return Overview(
            r.size(),
            head[1] if head else None,
            r.item_counts(),
            [parse_entry(row.body) for row in r.recent_entries(recent)],
            {o.id: o for o in r.orgs()},
        )


@dataclass(frozen=True)
class LabelSubject:
    """What a label shows: the item and the org that made it."""

    item: Item
    manufacturer: OrgRecord | None


def label_subject(store: Store, item_id: str) -> LabelSubject:
    """What the label of one item shows.

    Raises:
        NotFoundError: unknown item.
    """
    with store.reader() as r:
        item = _item(r, item_id)
        return LabelSubject(item, r.org(item.manufacturer))


def label_subjects(
    store: Store, item_ids: Sequence[str] = (), *, registered_by: str | None = None
) -> list[LabelSubject]:
    """The items to label in the order asked, repeats kept (or every item an org
    registered, oldest first).

    Raises:
        NotFoundError: an id names no item (the first such, with its position).
    """
    with store.reader() as r:
        if registered_by is not None:
            items = r.items_registered_by(registered_by)
        else:
            found = r.items_by_ids(item_ids)
            for index, item_id in enumerate(item_ids):
                if item_id not in found:
                    raise NotFoundError(
                        f"no item {item_id} (item_ids[{index}])",
                        pointer=f"/item_ids/{index}",
                        item=item_id,
                    )
            items = [found[i] for i in item_ids]
        makers = {m: r.org(m) for m in {i.manufacturer for i in items}}
    return [LabelSubject(item, makers[item.manufacturer]) for item in items]


def _parsed(rows: Sequence[StoredEntry]) -> list[Entry]:
    """The entries whose bytes parse; the history check reports the others."""
    out = []
    for row in rows:
        try:
            out.append(parse_entry(row.body))
        except ValueError:
            continue
    return out


def _orgs_named(r: ProjectionReader, item: Item, entries: Sequence[Entry]) -> dict[str, Org]:
    ids = {item.manufacturer, item.holder}
    for entry in entries:
        ids.add(entry.actor)
        for name in ORG_FIELDS & set(entry.data):
            if isinstance(entry.data[name], str):
                ids.add(entry.data[name])
    found = {}
    for org_id in sorted(ids):
        record = r.org(org_id)
        if record is not None:
            found[org_id] = record.as_actor()
    return found


@dataclass(frozen=True)
class PassportSource:
    """What an item's passport is built from, whoever reads it.

    The item, its entries, children and the orgs they name, and its history
    checked against the latest signed checkpoint (``note``). ``linked`` holds the
    parent, origin, children and successors as they were read with the rest;
    ``passport_view`` may be given fresher ones.
    """

    item: Item
    entries: list[Entry]
    children: list[str]
    orgs: dict[str, Org]
    check: HistoryCheck
    note: str
    linked: dict[str, Item]

    @property
    def linked_ids(self) -> list[str]:
        """The items the passport links to: children, successors, parent, origin."""
        return _linked_ids(self.item, self.children, self.entries)


def _linked_ids(item: Item, children: Sequence[str], entries: Sequence[Entry]) -> list[str]:
    links = [*children, *successors(entries), *(i for i in (item.parent, item.origin) if i)]
    return list(dict.fromkeys(links))


def passport_source(store: Store, tlog: Transparency, item_id: str) -> PassportSource | None:
    """What the passport of an item is built from, its history checked against the
    latest signed checkpoint; None for an unknown item."""
    with store.reader() as r:
        item = r.item(item_id) if len(item_id) <= MAX_ID_LENGTH else None
        if item is None:
            return None
        rows = r.item_entries(item_id)
        children = r.children(item_id)
        entries = _parsed(rows)
        orgs = _orgs_named(r, item, entries)
        linked = r.items_by_ids(_linked_ids(item, children, entries))
    # Read after the rows: it may cover more of the log than they show, never less
    # than it covered before, and entries newer than it are reported as pending.
    checkpoint = tlog.checkpoint(None)
    proofs = {
        row.seq: tlog.inclusion(row.seq, checkpoint.size).proof
        for row in rows
        if row.seq < checkpoint.size
    }
    check = check_history(item, rows, checkpoint.note, tlog.verifier, proofs)
    return PassportSource(item, entries, children, orgs, check, checkpoint.note, linked)


def passport_view(
    source: PassportSource, reader: Org | None, linked: Mapping[str, Item] | None = None
) -> dict[str, Any]:
    """The passport as ``reader`` may see it (JSON-ready): its tier
    (``ledger.passport.access_for``) from the item's chain.

    Args:
        reader: the org of the reader's key, or None for the public.
        linked: the linked items to show, when fresher than ``source.linked``.
    """
    item, children = source.item, source.children
    access = access_for(reader, chain_orgs(item, source.entries))
    view = build_passport(
        item,
        source.entries,
        children,
        source.orgs,
        source.linked if linked is None else linked,
        source.check,
        access,
        view_item(item, children).decoded,
    )
    if access is Access.REGULATOR:
        view["verification"]["checkpoint"]["note"] = source.note
    return view


def passport(
    store: Store, tlog: Transparency, item_id: str, reader: Org | None
) -> dict[str, Any] | None:
    """The passport of an item as ``reader`` may see it, with its history checked
    against the latest signed checkpoint; None for an unknown item."""
    source = passport_source(store, tlog, item_id)
    return None if source is None else passport_view(source, reader)
