"""Ledger values as the API shows them: the one place each wire shape is built.

Owns the turning of ledger results (``ItemView``, ``Written``, ``Registered``,
``Recorded``, ``Intake``, ``Created``, …) into the JSON-ready shapes of ``api.schemas``, and of
``LabelSubject`` into what a printed label shows. A
write's first answer and its idempotent replay both come through here, so the
two cannot differ; routes declare the response model and FastAPI checks it, but
for the busiest answers (a write's ``written``, a ``scan``), sent as built
(``api.deps.Answer``): ``tests/api/test_answers.py`` holds them to their models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.problems import ledger_problem
from labels import LabelInfo
from ledger.chain import Entry
from ledger.errors import ValidationError
from ledger.intake import Intake
from ledger.items import ItemView, Recorded, Registered, Written
from ledger.lifecycle import MakerBinding
from ledger.makers import Bound
from ledger.orgs import Created, KeyIssued, KeyRevoked
from ledger.privacy import mask
from ledger.queries import ItemPage
from ledger.reads import EntriesPage, History, LabelSubject, OrgListing, ScanView
from ledger.records import OrgRecord
from ledger.verify import VerifyReport


def org(record: OrgRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "role": record.role.value,
        "region": record.region,
    }


def org_listing(value: OrgListing) -> dict[str, Any]:
    out = org(value.org)
    if value.keys is not None:
        out["keys"] = [
            {"id": k.id, "issued_seq": k.issued_seq, "revoked_seq": k.revoked_seq}
            for k in value.keys
        ]
    return out


def entry(value: Entry, *, personal: bool = True) -> dict[str, Any]:
    """An entry as the log holds it; without ``personal``, its personal values masked
    and named in ``redacted`` (then its bytes no longer rebuild from what is shown)."""
    wire = value.to_wire()
    if not personal:
        data, redacted = mask(wire["data"], "/data")
        if redacted:
            wire.update(data=data, redacted=redacted)
    return wire


def item(view: ItemView, *, personal: bool = False) -> dict[str, Any]:
    """An item as clients rely on it (DESIGN.md's shape, plus the decoded code);
    without ``personal``, personal attributes masked and named in ``redacted``."""
    it = view.item
    attributes, redacted = (it.attributes, []) if personal else mask(it.attributes, "/attributes")
    return {
        "id": it.id,
        "kind": it.kind.value,
        "code": it.code,
        "state": it.state.value,
        "holder": it.holder,
        "manufacturer": it.manufacturer,
        "parent": it.parent,
        "origin": it.origin,
        "children": list(view.children),
        "attributes": attributes,
        "redacted": redacted,
        "decoded": view.decoded,
        "terminal": view.terminal,
        "head": it.head,
        "head_seq": it.head_seq,
    }


def item_page(page: ItemPage, *, personal: bool = False) -> dict[str, Any]:
    """A page of an item query: each item as ``item`` shows it, and the next cursor."""
    return {
        "items": [item(view, personal=personal) for view in page.items],
        "next_cursor": page.next_cursor,
    }


def written(value: Written) -> dict[str, Any]:
    """A write's result: the item after it, its own entry, every entry it appended,
    and the items it created besides."""
    return {
        "item": item(value.view()),
        "entry": entry(value.entries[0]),
        "entries": [entry(e) for e in value.entries],
        "created": [item(view) for view in value.created_views()],
    }


def _number(numbers: Sequence[int] | None, index: int) -> int:
    """A bulk line's number (from 1) from its index in the request."""
    return numbers[index] if numbers is not None else index + 1


def registered(value: Registered, numbers: Sequence[int] | None = None) -> dict[str, Any]:
    """A bulk registration's per-line results; ``numbers``: each line's number."""
    results: list[dict[str, Any]] = []
    for line in value.results:
        number = _number(numbers, line.line)
        if line.error is not None:
            results.append({"line": number, "ok": False, "error": ledger_problem(line.error)})
            continue
        assert line.entry is not None  # noqa: S101 - a line is registered or refused
        results.append(
            {
                "line": number,
                "ok": True,
                "id": line.item,
                "code": line.code,
                "seq": line.entry.seq,
                "hash": line.entry.hash,
            }
        )
    accepted = value.accepted
    return {"accepted": accepted, "refused": len(results) - accepted, "results": results}


def recorded(value: Recorded, numbers: Sequence[int] | None = None) -> dict[str, Any]:
    """A bulk event request's per-line results; ``numbers``: each line's number."""
    results: list[dict[str, Any]] = []
    for line in value.results:
        out: dict[str, Any] = {
            "line": _number(numbers, line.line),
            "ok": line.error is None,
            "item": line.item,
        }
        if line.entry is not None:
            out.update(seq=line.entry.seq, hash=line.entry.hash)
        if line.created:
            out["created"] = line.created
        if line.error is not None:
            out["error"] = ledger_problem(line.error)
        results.append(out)
    accepted = value.accepted
    return {"accepted": accepted, "refused": len(results) - accepted, "results": results}


def intake(value: Intake) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for line in value.results:
        it = line.item
        out: dict[str, Any] = {
            "line": line.line,
            "ok": line.error is None,
            "item": it.id if it else None,
            "state": it.state.value if it else None,
            "holder": it.holder if it else None,
        }
        if line.entry is not None:
            out["seq"] = line.entry.seq
            out["hash"] = line.entry.hash
        if line.error is not None:
            out["error"] = ledger_problem(line.error)
        results.append(out)
    accepted = value.accepted
    return {
        "site": value.site,
        "accepted": accepted,
        "refused": len(results) - accepted,
        "results": results,
    }


def created(value: Created) -> dict[str, Any]:
    return {"org": org(value.org), "api_key": value.api_key, "key_id": value.key_id}


def maker_bound(value: Bound) -> dict[str, Any]:
    return {"code": value.binding.code, "org": value.binding.org, "entry": entry(value.entry)}


def makers(bindings: Sequence[MakerBinding]) -> dict[str, Any]:
    return {"makers": [{"code": b.code, "org": b.org, "seq": b.seq} for b in bindings]}


def key_issued(value: KeyIssued) -> dict[str, Any]:
    return {"key_id": value.key_id, "org": value.org_id, "api_key": value.api_key}


def key_revoked(value: KeyRevoked) -> dict[str, Any]:
    return {"key_id": value.key_id, "revoked": True}


def history(value: History, *, personal: bool) -> dict[str, Any]:
    """An item's entries with their proofs; without ``personal``, each entry's personal
    values masked (its ``hash`` and proof kept)."""
    checkpoint = value.checkpoint
    return {
        "item": value.item_id,
        "entries": [entry(e, personal=personal) for e in value.entries],
        "checkpoint": {"size": checkpoint.size, "root": checkpoint.root, "note": checkpoint.note},
        "proofs": [{"seq": e.seq, "proof": value.proofs[e.seq]} for e in value.entries],
    }


def scan(value: ScanView) -> dict[str, Any]:
    return {
        "item": item(value.item, personal=value.personal),
        "holder": org(value.holder) if value.holder else None,
        "allowed_events": value.allowed_events,
        "via": value.via,
    }


def entries_page(value: EntriesPage) -> dict[str, Any]:
    return {"entries": [entry(e) for e in value.entries], "next": value.next, "size": value.size}


def verify_report(value: VerifyReport) -> dict[str, Any]:
    return {"ok": value.ok, "size": value.size, "first_bad": value.first_bad, "head": value.head}


def _printable_name(name: str, fallback: str) -> str:
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in name).split())
    return text[:200] or fallback


def label_info(subject: LabelSubject) -> LabelInfo:
    """What the label of an item shows; the manufacturer by name.

    Raises:
        ValidationError: the code cannot be printed on a label (too long).
    """
    item, maker = subject.item, subject.manufacturer
    name = maker.name if maker is not None else item.manufacturer
    try:
        return LabelInfo(
            item_id=item.id,
            code=item.code,
            kind=item.kind.value,
            manufacturer=_printable_name(name, item.manufacturer),
        )
    except ValueError as exc:
        raise ValidationError(f"item {item.id} cannot be labelled: {exc}") from None
