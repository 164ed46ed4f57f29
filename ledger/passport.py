"""An item's passport: who may see what, and an independent check of its history.

Owns two rules of the passport page a QR label opens:

* **Access tiers.** As in the EU battery passport (Regulation (EU) 2023/1542,
  Annex XIII), passport data falls in three groups: what the public sees, what
  persons with a legitimate interest see (repairers, second-life operators,
  recyclers, the economic operators in the chain), and what authorities see.
  Here: the public sees the item's identity, its manufacturer, its state, and
  the types and dates of its events; an org in the item's chain (``chain_orgs``: its
  manufacturer, every org that held it or was handed it, every org that wrote
  on it) adds custody, attributes and the event data (sites, masses, grades)
  without personal data (``ledger.privacy``); a regulator sees everything, the
  actors' ids and the entries' hashes included. Any other key reads the public
  tier.
* **History check.** The item's entries are re-hashed from their stored bytes,
  their ``item_prev`` chain is followed from the registration to the item's
  recorded head, the checkpoint's signature is checked with the log key and
  each covered entry's inclusion proof is verified against the signed root.
  Nothing stored is trusted because it was stored: the hash columns, the
  Merkle nodes behind a proof and the projection row are all checked against
  something recomputed or signed.

Pure: the caller reads the rows, the checkpoint and the proofs and hands them
in. Words for kinds and events, and HTML, are the API's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hashing import Verifier
from ledger.chain import Entry, EntryContent, StoredEntry
from ledger.errors import AuditFailure
from ledger.lifecycle import TERMINAL, Item, Org
from ledger.privacy import sees_personal, strip
from ledger.registry import ORG_FIELDS, SUCCESSORS
from ledger.verify import open_checkpoint_note, verify_item_history


class Access(StrEnum):
    """What a reader of a passport may see (EU 2023/1542 Annex XIII's groups)."""

    PUBLIC = "public"
    INTERESTED = "interested"  # a person with a legitimate interest
    REGULATOR = "regulator"  # an authority


def chain_orgs(item: Item, entries: Sequence[EntryContent]) -> frozenset[str]:
    """The orgs in an item's chain: its manufacturer and holder, every org that wrote
    one of its entries (the recycler that collected or processed it included) and
    every org an entry names (the recipient of a transfer)."""
    ids = {item.manufacturer, item.holder}
    for entry in entries:
        ids.add(entry.actor)
        ids.update(value for name in ORG_FIELDS if isinstance(value := entry.data.get(name), str))
    return frozenset(ids)


def access_for(reader: Org | None, insiders: Set[str]) -> Access:
    """The tier of a reader: a regulator sees everything, an org in the item's
    chain (``insiders``) what a person with a legitimate interest sees, anyone else (no key
    included) the public tier."""
    if reader is None:
        return Access.PUBLIC
    if sees_personal(reader.role):
        return Access.REGULATOR
    return Access.INTERESTED if reader.id in insiders else Access.PUBLIC


@dataclass(frozen=True)
class HistoryCheck:
    """The outcome of checking one item's history.

    Attributes:
        ok: every check held (entries newer than the checkpoint are pending,
            not failures).
        entries: how many entries the item has.
        proved: entries proved to be in the signed checkpoint.
        pending: entries newer than the checkpoint (proved once it covers them).
        checkpoint_size: tree size of the checkpoint the proofs are against.
        checkpoint_root: its root (hex), as signed.
        problem: the first thing that failed, in words, or None.
    """

    ok: bool
    entries: int
    proved: int
    pending: int
    checkpoint_size: int
    checkpoint_root: str
    problem: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "proved": self.proved,
            "pending": self.pending,
            "problem": self.problem,
            "checkpoint": {"size": self.checkpoint_size, "root": self.checkpoint_root},
        }


def check_history(
    item: Item,
    rows: Sequence[StoredEntry],
    note: str,
    log_key: Verifier,
    proofs: Mapping[int, Sequence[str]],
) -> HistoryCheck:
    """Check an item's entries, their chain and their inclusion in the log, for the page.

    The checkpoint's signature is checked with ``log_key``, then the history with
    ``ledger.verify.verify_item_history`` (the auditor's check), the item's recorded
    ``head`` included.

    Args:
        item: the item as the projection holds it (its ``head`` is checked).
        rows: the item's stored entries in ``seq`` order.
        note: the latest signed checkpoint (C2SP tlog-checkpoint).
        log_key: the log's verifier key; the note must carry its signature.
        proofs: inclusion proofs (hex, bottom-up) by ``seq``, against the
            checkpoint's size, for the entries it covers.

    Returns:
        The ``HistoryCheck``; ``problem`` names the first failure. Never raises
        for bad data: a failure is a result the page shows.
    """
    try:
        checkpoint = open_checkpoint_note(note, log_key).checkpoint
    except AuditFailure as exc:
        problem = f"the checkpoint does not verify with the log key: {exc.reason}"
        return HistoryCheck(False, len(rows), 0, 0, 0, "", problem)
    size, root_hex = checkpoint.size, checkpoint.root.hex()
    try:
        verify_item_history(item.id, rows, checkpoint, proofs, head=item.head)
    except AuditFailure as exc:
        # The entries before the one that failed were checked; none after it.
        checked = [row.seq for row in rows if exc.seq is None or row.seq < exc.seq]
        proved = sum(seq < size for seq in checked)
        problem = _problem(exc, item.id)
        return HistoryCheck(
            False, len(rows), proved, len(checked) - proved, size, root_hex, problem
        )
    proved = sum(row.seq < size for row in rows)
    return HistoryCheck(True, len(rows), proved, len(rows) - proved, size, root_hex, None)


def _problem(exc: AuditFailure, item_id: str) -> str:
    """A finding in the page's words: the entry it names, or what about the item."""
    if exc.seq is not None:
        return f"entry {exc.seq}: {exc.reason}"
    if exc.subject == f"item {item_id}":
        return exc.reason
    return f"{exc.subject}: {exc.reason}"


# -- the passport, filtered to the reader's tier -----------------------------------


def _org(org_id: str, orgs: Mapping[str, Org], access: Access) -> dict[str, Any]:
    org = orgs.get(org_id)
    out: dict[str, Any] = {
        "name": org.name if org else "unknown org",
        "role": org.role.value if org else None,
    }
    if access is Access.REGULATOR:
        out["id"] = org_id
    return out


def _link(item_id: str, linked: Mapping[str, Item]) -> dict[str, Any]:
    found = linked.get(item_id)
    return {
        "id": item_id,
        "kind": found.kind.value if found else None,
        "code": found.code if found else None,
        "state": found.state.value if found else None,
    }


def _data_for(entry: Entry, orgs: Mapping[str, Org], access: Access) -> dict[str, Any]:
    if access is Access.REGULATOR:
        # Exactly the signed data, so the entry's bytes can be rebuilt and re-hashed.
        return dict(entry.data)
    # Personal data (a VIN, an owner's name, at any depth: a correction's fields) is
    # kept from readers with a legitimate interest, and a field naming an org shows
    # its name.
    data: dict[str, Any] = strip(entry.data)
    for name in ORG_FIELDS & set(data):
        data[name] = _org(str(data[name]), orgs, access)["name"]
    return data


def _event(entry: Entry, orgs: Mapping[str, Org], access: Access) -> dict[str, Any]:
    if access is Access.PUBLIC:
        return {"type": entry.type, "date": entry.ts[:10]}
    out: dict[str, Any] = {
        "type": entry.type,
        "date": entry.ts[:10],
        "ts": entry.ts,
        "by": _org(entry.actor, orgs, access),
        "data": _data_for(entry, orgs, access),
    }
    if access is Access.REGULATOR:
        out.update(
            {
                "seq": entry.seq,
                "actor": entry.actor,
                "hash": entry.hash,
                "prev": entry.prev,
                "item_prev": entry.item_prev,
                "sig": entry.sig,
                "names": {
                    name: _org(str(entry.data[name]), orgs, access)["name"]
                    for name in sorted(ORG_FIELDS & set(entry.data))
                },
            }
        )
    return out


def successors(entries: Sequence[Entry]) -> list[str]:
    """Items that carry on this one's life (the new item of ``repurposed``)."""
    return [
        str(e.data[field])
        for e in entries
        if (field := SUCCESSORS.get(e.type)) is not None and isinstance(e.data.get(field), str)
    ]


def build_passport(
    item: Item,
    entries: Sequence[Entry],
    children: Sequence[str],
    orgs: Mapping[str, Org],
    linked: Mapping[str, Item],
    check: HistoryCheck,
    access: Access,
    decoded: dict[str, str] | None,
) -> dict[str, Any]:
    """The passport of ``item`` as ``access`` may see it (JSON-ready).

    Args:
        entries: the item's entries in order.
        children: ids of the items it contains (or was dismantled into).
        orgs: the orgs the passport names (manufacturer, holder, actors, recipients).
        linked: parent, origin, children and successors, by id, for their codes.
        check: the result of ``check_history``.
        decoded: the decoded GB/T 34014 code of a battery, else None.
    """
    view: dict[str, Any] = {
        "id": item.id,
        "kind": item.kind.value,
        "code": item.code,
        "decoded": decoded,
        "state": item.state.value,
        "terminal": item.state in TERMINAL,
        "manufacturer": _org(item.manufacturer, orgs, access),
        "parent": _link(item.parent, linked) if item.parent else None,
        "origin": _link(item.origin, linked) if item.origin else None,
        "children": [_link(c, linked) for c in children],
        "successors": [_link(s, linked) for s in successors(entries)],
    }
    if access is not Access.PUBLIC:
        view["holder"] = _org(item.holder, orgs, access)
        view["attributes"] = strip(item.attributes)
    if access is Access.REGULATOR:
        view["attributes"] = dict(item.attributes)
        view["head"] = item.head
        view["head_seq"] = item.head_seq
    return {
        "access": access.value,
        "item": view,
        "timeline": [_event(e, orgs, access) for e in entries],
        "verification": check.to_json(),
    }
