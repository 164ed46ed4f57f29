"""Ledger values as the API shows them: the one place each wire shape is built.

Owns the turning of ledger results (``ItemView``, ``Written``, ``Registered``,
``Intake``, ``Created``, …) into the JSON-ready shapes of ``api.schemas``, and of
``LabelSubject`` into what a printed label shows. A
write's first answer and its idempotent replay both come through here, so the
two cannot differ; routes declare the response model and FastAPI checks it.
"""

from __future__ import annotations

from typing import Any

from api.problems import ledger_problem
from labels import LabelInfo
from ledger.chain import Entry
from ledger.errors import ValidationError
from ledger.intake import Intake
from ledger.items import ItemView, Registered, Written
from ledger.orgs import Created, KeyIssued, KeyRevoked
from ledger.reads import EntriesPage, History, LabelSubject, ScanView
from ledger.records import OrgRecord
from ledger.verify import VerifyReport


def org(record: OrgRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "role": record.role.value,
        "region": record.region,
    }


def entry(value: Entry) -> dict[str, Any]:
    return value.to_wire()


def item(view: ItemView) -> dict[str, Any]:
    """An item as clients rely on it (DESIGN.md's shape, plus the decoded code)."""
    it = view.item
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
        "attributes": it.attributes,
        "decoded": view.decoded,
        "terminal": view.terminal,
        "head": it.head,
        "head_seq": it.head_seq,
    }


def written(value: Written) -> dict[str, Any]:
    """A write's result: the item after it, its own entry, every entry it appended."""
    return {
        "item": item(value.view()),
        "entry": entry(value.entries[0]),
        "entries": [entry(e) for e in value.entries],
    }


def registered(value: Registered) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for line in value.results:
        if line.error is not None:
            results.append({"line": line.line, "ok": False, "error": ledger_problem(line.error)})
            continue
        assert line.entry is not None  # noqa: S101 - a line is registered or refused
        results.append(
            {
                "line": line.line,
                "ok": True,
                "id": line.item,
                "code": line.code,
                "seq": line.entry.seq,
                "hash": line.entry.hash,
            }
        )
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


def key_issued(value: KeyIssued) -> dict[str, Any]:
    return {"key_id": value.key_id, "org": value.org_id, "api_key": value.api_key}


def key_revoked(value: KeyRevoked) -> dict[str, Any]:
    return {"key_id": value.key_id, "revoked": True}


def history(value: History) -> dict[str, Any]:
    checkpoint = value.checkpoint
    return {
        "item": value.item_id,
        "entries": [entry(e) for e in value.entries],
        "checkpoint": {"size": checkpoint.size, "root": checkpoint.root, "note": checkpoint.note},
        "proofs": [{"seq": e.seq, "proof": value.proofs[e.seq]} for e in value.entries],
    }


def scan(value: ScanView) -> dict[str, Any]:
    return {
        "item": item(value.item),
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
