"""Intake at a recycler's dock: a whole delivery, scanned and weighed, in one write.

Owns the rules of a delivery: each line names an item by what was scanned
(``ledger.scan``) and carries the mass weighed; each retired item the recycler
holds becomes ``collected``; every other line is refused on its own with the
reason, and the rest are appended in the same write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger import domain
from ledger.chain import Entry
from ledger.commit import Tx
from ledger.errors import DuplicateInDeliveryError, LedgerError
from ledger.events import Collected, dump, parse_model
from ledger.idempotency import Refusal
from ledger.lifecycle import Item, Org
from ledger.records import OrgRecord
from ledger.scan import ScanTarget, resolve_scans

__all__ = ["Intake", "IntakeLine", "IntakeResult", "intake"]


@dataclass(frozen=True)
class IntakeLine:
    """One line of a delivery: what was scanned (or why it could not be read) and
    the mass weighed at the dock."""

    scanned: ScanTarget | LedgerError
    mass_kg: Any


@dataclass(frozen=True)
class IntakeResult:
    """One line after intake: the item as it now stands, and its ``collected``
    entry or the refusal."""

    line: int
    item: Item | None = None
    entry: Entry | None = None
    error: Refusal | None = None


@dataclass(frozen=True)
class Intake:
    """A delivery after intake."""

    site: str
    results: list[IntakeResult]

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.results if r.error is None)


def intake(tx: Tx, actor: OrgRecord, site: str, lines: Sequence[IntakeLine]) -> Intake:
    """Collect a delivery: each retired item this recycler holds becomes ``collected``.

    A line whose scan matches nothing, that repeats an item of an earlier line,
    whose item is not retired or not held by ``actor``, or whose mass is not an
    exact decimal is refused with the reason and appends nothing; the other
    lines are appended in this one write.

    Raises:
        ValidationError: ``site`` is not acceptable (the whole delivery is refused).
    """
    parse_model(Collected, {"site": site, "mass_kg": "0"})
    found = resolve_scans(tx.writer, [line.scanned for line in lines])
    first_line: dict[str, int] = {}
    results: list[IntakeResult] = []

    def org(org_id: str) -> Org | None:
        found = tx.writer.org(org_id)
        return found.as_actor() if found is not None else None

    for number, (line, item) in enumerate(zip(lines, found, strict=True)):
        if isinstance(item, LedgerError):
            results.append(IntakeResult(number, error=_at_line(item, number)))
            continue
        if item.id in first_line:
            first = first_line[item.id]
            results.append(
                IntakeResult(
                    number,
                    item=tx.item(item.id) or item,
                    error=DuplicateInDeliveryError(
                        f"item {item.id} was scanned on line {first} of this delivery already; "
                        "it is counted there once",
                        pointer=f"/deliveries/{number}/payload",
                        first_line=first,
                        item=item.id,
                    ),
                )
            )
            continue
        first_line[item.id] = number
        try:
            domain.check_event(item, actor.as_actor(), "collected", find_org=org)
            payload = parse_model(
                Collected,
                {"site": site, "mass_kg": line.mass_kg},
                pointer=f"/deliveries/{number}",
            )
            entry = tx.append(actor.id, item, item.id, "collected", dump(payload))
        except LedgerError as exc:
            results.append(IntakeResult(number, item=item, error=_at_line(exc, number)))
            continue
        results.append(IntakeResult(number, item=tx.item(item.id) or item, entry=entry))
    return Intake(site, results)


def _at_line(exc: LedgerError, number: int) -> LedgerError:
    """Point a line's refusal at that line of the delivery."""
    if exc.pointer is None or exc.pointer == "/payload":
        exc.pointer = f"/deliveries/{number}/payload"
    return exc
