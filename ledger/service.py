"""The ledger service: every write and read the API and CLI perform.

Owns the order of work in one write: take the chain head, check the rules
(``domain``), build linked entries (``chain``), store them with their
projection rows and the idempotent answer in the same transaction. It gets
its store, clock and id source from the caller and never reads settings.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from ledger import codes, domain
from ledger.chain import ChainVerifier, Entry, format_ts, parse_entry
from ledger.domain import Item, Role
from ledger.errors import (
    AuthError,
    DuplicateError,
    DuplicateInDeliveryError,
    IdempotencyConflictError,
    LedgerError,
    NotFoundError,
    ValidationError,
)
from ledger.events import (
    Collected,
    Corrected,
    Dismantled,
    ItemKind,
    Recycled,
    Registration,
    Repurposed,
    Transferred,
    dump,
    parse_event_data,
    parse_model,
)
from ledger.ids import IdSource
from ledger.scan import ScanTarget, parse_scan, pick_match
from ledger.store.sql import IdempotentAnswer, OrgRecord, Reader, SqlStore
from ledger.writes import Answer, AnswerSeal, Idempotency, Job, Tx, Written, render_item

__all__ = [
    "KEY_PREFIX",
    "Answer",
    "Created",
    "Idempotency",
    "IntakeLine",
    "IntakeResult",
    "Ledger",
    "LineResult",
    "VerifyReport",
    "Written",
    "hash_api_key",
    "iter_wire",
    "render_item",
]

T = TypeVar("T")
_ORG_CACHE_SIZE = 10_000
KEY_PREFIX = "rtr_"


def hash_api_key(api_key: str) -> str:
    """Stored form of an API key: SHA-256 hex (keys carry 256 random bits)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True)
class Created:
    """An org created with its first API key (shown once)."""

    org: OrgRecord
    api_key: str
    key_id: str
    entries: list[Entry]


@dataclass(frozen=True)
class LineResult:
    """One line of a bulk request: its result or its refusal."""

    line: int
    written: Written | None = None
    error: LedgerError | None = None


@dataclass(frozen=True)
class IntakeLine:
    """One line of a delivery: what was scanned (or why it could not be read) and
    the mass weighed at the dock."""

    scanned: ScanTarget | LedgerError
    mass_kg: Any


@dataclass(frozen=True)
class IntakeResult:
    """One line of a delivery after intake: the item as it now stands, and the
    ``collected`` entry or the refusal."""

    line: int
    item: Item | None = None
    entry: Entry | None = None
    error: LedgerError | None = None


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    size: int
    first_bad: dict[str, Any] | None
    head: str


class Ledger:
    """Writes and reads of the ledger over one store."""

    def __init__(
        self,
        store: SqlStore,
        *,
        clock: Callable[[], datetime],
        ids: IdSource | None = None,
        on_commit: Callable[[list[Entry]], None] | None = None,
        answer_secret: bytes | None = None,
    ) -> None:
        """Args:
        on_commit: called with the entries of each write once it is durable
            (publishing to subscribers, logging); its failures are its own.
        answer_secret: seals the first answers kept for Idempotency-Key
            replays (they can hold a new API key, which is never stored in
            clear); without it no idempotent write is accepted.
        """
        self.on_commit = on_commit
        self._queue: list[Job] = []
        self._queue_lock = threading.Lock()
        self._write_turn = threading.Lock()
        self.answers = AnswerSeal(answer_secret) if answer_secret is not None else None
        self.store = store
        self.clock = clock
        self.ids = ids or IdSource()
        self._orgs: dict[str, OrgRecord] = {}

    # -- transactions ---------------------------------------------------------

    def execute(
        self,
        op: Callable[[Tx], T],
        render: Callable[[T], tuple[int, Any]],
        idempotency: Idempotency | None = None,
    ) -> Answer:
        """Run one write atomically and render its answer.

        With ``idempotency``, a key seen before returns the first answer and
        writes nothing; the same key with a different request is refused.

        Raises:
            LedgerError: any refusal; nothing is written.
        """
        if idempotency is not None and self.answers is None:
            raise ValidationError(
                "this ledger keeps no idempotent answers", pointer="header:/Idempotency-Key"
            )
        # Group commit (flat combining): each caller queues its write; whoever
        # holds the process's write turn runs every queued write in one
        # transaction (one chain lock, one commit, one fsync), each inside its
        # own savepoint so a refusal undoes only that write.
        job = Job(op, render, idempotency)
        with self._queue_lock:
            self._queue.append(job)
        with self._write_turn:
            if not job.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._run_batch(batch)
        if job.error is not None:
            raise job.error
        assert job.answer is not None  # noqa: S101 - a done job has one of the two
        return job.answer

    def _run_batch(self, batch: list[Job]) -> None:
        try:
            outcomes, entries = self._commit_batch(batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error, batch[0].done = exc, True
                return
            # The transaction failed as a whole: run each write alone, so only
            # the one at fault fails.
            for job in batch:
                self._run_batch([job])
            return
        for job, answer, error in outcomes:
            job.answer, job.error, job.done = answer, error, True
        self._committed(entries)

    def _commit_batch(
        self, batch: list[Job]
    ) -> tuple[list[tuple[Job, Answer | None, LedgerError | None]], list[Entry]]:
        outcomes: list[tuple[Job, Answer | None, LedgerError | None]] = []
        with self.store.writer() as writer:
            tx = Tx(writer, self.clock())
            replays: dict[tuple[str, str], tuple[str, Answer]] = {}
            if len(batch) == 1:
                # Alone in its transaction, a refusal rolls the whole of it back.
                answer = self._run_job(tx, batch[0], replays)
                tx.flush()
                return [(batch[0], answer, None)], tx.entries
            for job in batch:
                mark = tx.mark()
                try:
                    with writer.savepoint():
                        answer = self._run_job(tx, job, replays)
                except LedgerError as exc:
                    tx.restore(mark)
                    outcomes.append((job, None, exc))
                    continue
                except BaseException:
                    tx.restore(mark)
                    raise
                outcomes.append((job, answer, None))
            tx.flush()
        return outcomes, tx.entries

    def _run_job(
        self, tx: Tx, job: Job, replays: dict[tuple[str, str], tuple[str, Answer]]
    ) -> Answer:
        idem = job.idempotency
        if idem is not None:
            assert self.answers is not None  # noqa: S101 - checked in execute
            seen = replays.get((idem.org_id, idem.key))
            first = None if seen else tx.writer.idempotent_answer(idem.org_id, idem.key)
            fingerprint = seen[0] if seen else first.fingerprint if first else None
            if fingerprint is not None and fingerprint != idem.fingerprint:
                raise IdempotencyConflictError(
                    f"Idempotency-Key {idem.key!r} was used for a different "
                    "request; use a new key for a new request"
                )
            if seen:
                return seen[1]
            if first is not None:
                return Answer(first.status, self.answers.open(idem, first.response), replayed=True)
        result = job.op(tx)
        status, body = job.render(result)
        raw = json.dumps(body, separators=(",", ":")).encode()
        if idem is not None:
            assert self.answers is not None  # noqa: S101 - checked in execute
            tx.writer.save_idempotent_answer(
                idem.org_id,
                idem.key,
                IdempotentAnswer(idem.fingerprint, status, self.answers.seal(idem, raw)),
                format_ts(tx.now),
            )
            replays[(idem.org_id, idem.key)] = (
                idem.fingerprint,
                Answer(status, raw, replayed=True),
            )
        return Answer(status, raw)

    def write(self, op: Callable[[Tx], T]) -> T:
        """Run one write atomically and return its result (CLI, demo)."""
        with self.store.writer() as writer:
            tx = Tx(writer, self.clock())
            result = op(tx)
            tx.flush()
        self._committed(tx.entries)
        return result

    def org(self, r: Reader, org_id: str) -> OrgRecord | None:
        """An org by id, read once per process.

        Orgs are written once and never updated (only their keys are revoked),
        so a remembered one cannot go stale; scans name an item's holder on
        every request and skip that read.
        """
        found = self._orgs.get(org_id)
        if found is None:
            found = r.org(org_id)
            if found is not None and len(self._orgs) < _ORG_CACHE_SIZE:
                self._orgs[org_id] = found
        return found

    def _committed(self, entries: list[Entry]) -> None:
        if entries and self.on_commit is not None:
            self.on_commit(entries)

    # -- orgs and keys --------------------------------------------------------

    def authenticate(self, api_key: str, r: Reader | None = None) -> OrgRecord:
        """The org an API key belongs to.

        Args:
            r: read in this transaction (a request that reads more shares its
                connection); by default a read of its own.

        Raises:
            AuthError: unknown or revoked key (the message never echoes it).
        """
        if r is None:
            with self.store.reader() as own:
                return self.authenticate(api_key, own)
        found = r.key_by_hash(hash_api_key(api_key))
        if found is None:
            raise AuthError("the API key is not valid")
        key, org = found
        if key.revoked:
            raise AuthError("the API key has been revoked")
        return org

    def create_org(
        self,
        tx: Tx,
        actor: OrgRecord | None,
        name: str,
        role: Role,
        region: str,
        api_key: str | None = None,
    ) -> Created:
        """Create an org (logged) and issue its first key (logged).

        ``actor`` None means the org creates itself (the first admin).

        Raises:
            DuplicateError: the name is taken.
        """
        if tx.writer.org_by_name(name) is not None:
            raise DuplicateError(f"an org named {name!r} exists already", pointer="/name")
        org = OrgRecord(self.ids.new("org"), name, role, region)
        actor_id = actor.id if actor is not None else org.id
        entry = tx.append(
            actor_id,
            None,
            None,
            domain.ORG_CREATED,
            {"id": org.id, "name": name, "role": role.value, "region": region},
        )
        tx.writer.insert_org(org, entry.seq)
        key_id, secret, key_entry = self._issue_key(tx, actor_id, org.id, api_key)
        return Created(org, secret, key_id, [entry, key_entry])

    def issue_key(self, tx: Tx, actor: OrgRecord, org_id: str) -> tuple[str, str, Entry]:
        if tx.writer.org(org_id) is None:
            raise NotFoundError(f"no org {org_id}")
        return self._issue_key(tx, actor.id, org_id, None)

    def _issue_key(
        self, tx: Tx, actor_id: str, org_id: str, api_key: str | None
    ) -> tuple[str, str, Entry]:
        secret = api_key or KEY_PREFIX + secrets.token_urlsafe(32)
        key_id = self.ids.new("key")
        entry = tx.append(actor_id, None, None, domain.KEY_ISSUED, {"key": key_id, "org": org_id})
        tx.writer.insert_key(key_id, org_id, hash_api_key(secret), entry.seq)
        return key_id, secret, entry

    def revoke_key(self, tx: Tx, actor: OrgRecord, key_id: str) -> Entry:
        key = tx.writer.key(key_id)
        if key is None:
            raise NotFoundError(f"no API key {key_id}")
        if key.revoked:
            raise DuplicateError(f"API key {key_id} is revoked already")
        entry = tx.append(
            actor.id, None, None, domain.KEY_REVOKED, {"key": key_id, "org": key.org_id}
        )
        tx.writer.revoke_key(key_id, entry.seq)
        return entry

    # -- items ----------------------------------------------------------------

    def register(self, tx: Tx, actor: OrgRecord, raw: Any, *, pointer: str = "") -> Written:
        """Register one item from a raw ``{kind, code, attributes, parent?, origin?}``.

        Raises:
            ValidationError, InvalidCodeError: a bad field (JSON pointer given).
            ForbiddenError: the role may not register this.
            DuplicateError: the code is registered already.
            NotFoundError: unknown parent or origin.
        """
        reg = parse_model(Registration, raw, pointer=pointer)
        parent = self._linked(tx, reg.parent, f"{pointer}/parent")
        origin = self._linked(tx, reg.origin, f"{pointer}/origin")
        domain.check_registrant(actor.as_actor(), origin=origin, parent=parent)
        if parent is not None:
            domain.check_parent(reg.kind, parent, actor.as_actor())
        self._check_code(tx, reg.kind, reg.code, f"{pointer}/code", actor.id)
        return self._append_registration(tx, actor.id, dump(reg))

    def register_many(self, tx: Tx, actor: OrgRecord, lines: Sequence[Any]) -> list[LineResult]:
        """Register many items; a refused line leaves the others standing."""
        pairs = {
            (str(raw["kind"]), codes.code_scope(str(raw["kind"]), actor.id), str(raw["code"]))
            for raw in lines
            if isinstance(raw, dict)
            and isinstance(raw.get("kind"), str)
            and isinstance(raw.get("code"), str)
            and raw["code"].isprintable()
        }
        taken = tx.writer.existing_codes(sorted(pairs))
        tx.taken |= taken
        tx.known_free |= pairs - taken
        results = []
        for number, raw in enumerate(lines):
            try:
                results.append(LineResult(number, written=self.register(tx, actor, raw)))
            except LedgerError as exc:
                results.append(LineResult(number, error=exc))
        return results

    def _linked(self, tx: Tx, item_id: str | None, pointer: str) -> Item | None:
        if item_id is None:
            return None
        item = tx.item(item_id)
        if item is None:
            raise NotFoundError(f"no item {item_id}", pointer=pointer)
        return item

    def _check_code(
        self, tx: Tx, kind: ItemKind, code: str, pointer: str, manufacturer: str
    ) -> None:
        try:
            codes.validate_code(kind.value, code)
        except LedgerError as exc:
            exc.pointer = pointer
            raise
        key = (kind.value, codes.code_scope(kind.value, manufacturer), code)
        if key not in tx.known_free and key not in tx.taken and tx.writer.existing_codes([key]):
            tx.taken.add(key)
        if key in tx.codes or key in tx.taken:
            whose = "" if kind.value in codes.BATTERY_KINDS else " by this manufacturer"
            raise DuplicateError(
                f"a {kind} with code {code} is registered already{whose}", pointer=pointer
            )
        tx.codes.add(key)

    def _append_registration(self, tx: Tx, actor_id: str, data: dict[str, Any]) -> Written:
        item_id = self.ids.new("itm")
        entry = tx.append(actor_id, None, item_id, domain.REGISTERED, data)
        return Written(tx.new_items[item_id], [entry])

    def record_event(
        self, tx: Tx, actor: OrgRecord, item_id: str, event_type: str, raw_data: Any
    ) -> Written:
        """Record a lifecycle event on an item.

        Raises:
            NotFoundError: unknown item (or org, or corrected entry).
            ValidationError: bad type or data.
            ForbiddenError: wrong role, or the caller does not hold the item.
            IllegalTransitionError: the event cannot follow the current state.
        """
        item = tx.item(item_id)
        if item is None:
            raise NotFoundError(f"no item {item_id}")
        if event_type == domain.REGISTERED:
            raise ValidationError("items are registered with POST /v1/items", pointer="/type")
        payload = parse_event_data(event_type, raw_data)
        corrected_actor = None
        if isinstance(payload, Corrected):
            corrected_actor = self._corrected_actor(tx, item, payload)
        holder = tx.writer.org(item.holder)
        domain.check_event(
            item,
            actor.as_actor(),
            event_type,
            holder=holder.as_actor() if holder else None,
            corrected_actor=corrected_actor,
        )
        data = dump(payload)
        follow: list[dict[str, Any]] = []
        if isinstance(payload, Transferred):
            to_org = tx.writer.org(payload.to_org)
            if to_org is None:
                raise NotFoundError(f"no org {payload.to_org}", pointer="/data/to_org")
            domain.check_transfer(item, to_org.as_actor())
        elif isinstance(payload, Recycled):
            domain.check_mass_balance(payload)
        elif isinstance(payload, Repurposed):
            self._check_code(tx, item.kind, payload.new_code, "/data/new_code", actor.id)
            new_id = self.ids.new("itm")
            data["new_item"] = new_id
            follow.append(
                {
                    "id": new_id,
                    "kind": item.kind.value,
                    "code": payload.new_code,
                    "attributes": dict(payload.attributes),
                    "origin": item.id,
                }
            )
        elif isinstance(payload, Dismantled):
            domain.check_children(item.kind, payload)
            for index, child in enumerate(payload.children):
                self._check_code(
                    tx, child.kind, child.code, f"/data/children/{index}/code", actor.id
                )
                child_id = self.ids.new("itm")
                data["children"][index]["item"] = child_id
                follow.append(
                    {
                        "id": child_id,
                        "kind": child.kind.value,
                        "code": child.code,
                        "attributes": dict(child.attributes),
                        "parent": item.id,
                    }
                )
        elif isinstance(payload, Collected):
            pass
        entries = [tx.append(actor.id, item, item_id, event_type, data)]
        for new in follow:
            new_id = new.pop("id")
            entries.append(tx.append(actor.id, None, new_id, domain.REGISTERED, new))
        return Written(tx.item(item_id) or item, entries)

    def _corrected_actor(self, tx: Tx, item: Item, payload: Corrected) -> str:
        rows = tx.writer.entries(payload.seq, 1)
        if not rows or rows[0].seq != payload.seq:
            raise NotFoundError(f"no entry {payload.seq}", pointer="/data/seq")
        entry = parse_entry(rows[0].body)
        if entry.item != item.id:
            raise ValidationError(
                f"entry {payload.seq} is not about item {item.id}", pointer="/data/seq"
            )
        unknown = sorted(set(payload.fields) - set(entry.data))
        if unknown:
            raise ValidationError(
                f"entry {payload.seq} ({entry.type}) has no field {unknown[0]!r} to correct",
                pointer=f"/data/fields/{unknown[0]}",
            )
        return entry.actor

    # -- reads ----------------------------------------------------------------

    def item_view(self, r: Reader, item_id: str) -> dict[str, Any]:
        """An item as the API shows it, with its children and decoded code.

        Raises:
            NotFoundError: unknown item.
        """
        item = r.item(item_id)
        if item is None:
            raise NotFoundError(f"no item {item_id}")
        return render_item(item, r.children(item_id))

    def history(self, item_id: str) -> list[Entry]:
        with self.store.reader() as r:
            if r.item(item_id) is None:
                raise NotFoundError(f"no item {item_id}")
            return [parse_entry(row.body) for row in r.item_entries(item_id)]

    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Re-hash every entry and check both chains; name the first bad seq."""
        verifier = ChainVerifier()
        with self.store.reader() as r:
            batch: list[Any] = []
            for row in r.iter_entries():
                batch.append(row)
                if len(batch) == 5000:
                    if not verifier.feed(batch):
                        break
                    batch = []
                    if progress:
                        progress(verifier.size)
            else:
                verifier.feed(batch)
            if progress:
                progress(verifier.size)
        bad = verifier.first_bad
        return VerifyReport(
            ok=bad is None,
            size=verifier.size,
            first_bad=None if bad is None else {"seq": bad.seq, "reason": bad.reason},
            head=verifier.head,
        )

    def replay(self) -> tuple[dict[str, Item], dict[str, int]]:
        """The items projection recomputed from the log alone."""
        items: dict[str, Item] = {}
        created: dict[str, int] = {}
        with self.store.reader() as r:
            for row in r.iter_entries():
                if row.item is None:
                    continue
                entry = parse_entry(row.body)
                items[row.item] = domain.apply_entry(
                    items.get(row.item),
                    entry.type,
                    entry.actor,
                    row.item,
                    entry.data,
                    head=row.hash,
                    seq=row.seq,
                )
                created.setdefault(row.item, row.seq)
        return items, created

    def projection_differences(self) -> list[str]:
        """How the ``items`` table differs from a rebuild from the log (empty: equal)."""
        rebuilt, _ = self.replay()
        differences = []
        with self.store.reader() as r:
            stored = {item.id: item for item in r.iter_items()}
        for item_id in sorted(set(rebuilt) | set(stored)):
            want, have = rebuilt.get(item_id), stored.get(item_id)
            if want != have:
                if have is None:
                    differences.append(f"{item_id}: in the log but not in the items table")
                elif want is None:
                    differences.append(f"{item_id}: in the items table but not in the log")
                else:
                    fields = [
                        f for f in want.__dataclass_fields__ if getattr(want, f) != getattr(have, f)
                    ]
                    differences.append(f"{item_id}: differs in {', '.join(fields)}")
        return differences

    def rebuild_projection(self) -> int:
        """Replace the items table with the rebuild from the log; returns its size."""
        items, created = self.replay()
        with self.store.writer() as w:
            w.replace_items(list(items.values()), created)
        return len(items)

    def resolve_scan(self, r: Reader, scanned: str | ScanTarget) -> Item:
        """The item a scanned text names (see ``ledger.scan``), in one indexed lookup.

        Raises:
            ValidationError: empty text, or a malformed GS1 link.
            NotFoundError: nothing matches (the message quotes the scan).
            AmbiguousScanError: a code shared by items of different kinds.
        """
        target = scanned if isinstance(scanned, ScanTarget) else parse_scan(scanned)
        if target.item_id is not None:
            item = r.item(target.item_id)
            return pick_match(target, [] if item is None else [item])
        found = r.items_by_codes(target.codes, target.kinds) if target.codes else []
        return pick_match(target, found)

    def resolve_scans(
        self, r: Reader, targets: Sequence[ScanTarget | LedgerError]
    ) -> list[Item | LedgerError]:
        """Many scans in two queries (ids, then codes); a refusal per unmatched scan.

        An entry of ``targets`` that is already an error (a text that could
        not be read) is passed through.
        """
        readable = [t for t in targets if isinstance(t, ScanTarget)]
        by_id = r.items_by_ids([t.item_id for t in readable if t.item_id is not None])
        by_code: dict[str, list[Item]] = {}
        named = [t for t in readable if t.item_id is None]
        wanted = {code for t in named for code in t.codes}
        if wanted:
            kinds = {kind for t in named for kind in t.kinds}
            for item in r.items_by_codes(sorted(wanted), sorted(kinds)):
                by_code.setdefault(item.code, []).append(item)
        out: list[Item | LedgerError] = []
        for target in targets:
            if isinstance(target, LedgerError):
                out.append(target)
                continue
            if target.item_id is not None:
                found = [by_id[target.item_id]] if target.item_id in by_id else []
            else:
                found = [item for code in target.codes for item in by_code.get(code, [])]
            try:
                out.append(pick_match(target, found))
            except LedgerError as exc:
                out.append(exc)
        return out

    def intake(
        self, tx: Tx, actor: OrgRecord, site: str, lines: Sequence[IntakeLine]
    ) -> list[IntakeResult]:
        """Collect a delivery: each retired item this recycler holds becomes ``collected``.

        Every line stands on its own: a line whose scan matches nothing, that
        repeats an item of an earlier line, whose item is not retired or not
        held by ``actor``, or whose mass is not an exact decimal is refused
        with the reason and appends nothing; the other lines are appended in
        this one write.

        Raises:
            ValidationError: ``site`` is not acceptable (the whole delivery is refused).
        """
        parse_model(Collected, {"site": site, "mass_kg": "0"})
        found = self.resolve_scans(tx.writer, [line.scanned for line in lines])
        first_line: dict[str, int] = {}
        results: list[IntakeResult] = []
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
                holder = self.org(tx.writer, item.holder)
                domain.check_event(
                    item,
                    actor.as_actor(),
                    "collected",
                    holder=holder.as_actor() if holder else None,
                )
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
        return results


def _at_line(exc: LedgerError, number: int) -> LedgerError:
    """Point a line's refusal at that line of the delivery."""
    if exc.pointer is None or exc.pointer == "/payload":
        exc.pointer = f"/deliveries/{number}/payload"
    return exc


def iter_wire(entries: Sequence[Entry]) -> Iterator[dict[str, Any]]:
    for entry in entries:
        yield entry.to_wire()
