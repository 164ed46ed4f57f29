"""Group commit: one write transaction for every write waiting in this process.

Owns the order of work around a write: ``Tx`` (the entries and projection rows
of one transaction, linked in memory and stored at ``flush``, with marks to undo
a refused write) and ``GroupCommit`` (flat combining: each caller queues its
write; whoever holds the process's write turn runs every queued write in one
transaction, one chain lock, one commit, one fsync, each write inside its own
savepoint so a refusal undoes only that write; the queue is taken once the
chain is held, so writes queued while another process held it join the batch;
writes queued while a batch commits form the next batch). What a write does is the
caller's function of a ``Tx``; keeping idempotent answers is
``ledger.idempotency``'s. Nothing here reads settings or does I/O on creation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from ledger import domain
from ledger.chain import ZERO_HASH, Entry, build_entry
from ledger.errors import LedgerError
from ledger.ids import IdSource
from ledger.lifecycle import Item, Tolerances
from ledger.limits import refuse_unauditable
from ledger.store.base import CodeKey, Store, Writer

__all__ = ["GroupCommit", "Job", "Tx"]

T = TypeVar("T")


@dataclass(frozen=True)
class _Mark:
    size: int
    prev: str
    entries: int
    new_items: dict[str, Item]
    changed: dict[str, Item]
    sets: tuple[set[CodeKey], ...]


@dataclass
class Tx:
    """Entries and projection rows of one write, linked in memory, stored at flush.

    Attributes:
        writer: the store's write transaction (it holds the chain head).
        now: the time every entry of this transaction carries.
        ids: where new ids come from.
        codes: item codes this transaction registers.
        known_free, taken: item codes found free or taken (a bulk write asks once).
        tolerances: what the plausibility rules allow (``ledger.lifecycle.Tolerances``).
    """

    writer: Writer
    now: datetime
    ids: IdSource
    size: int = 0
    prev: str = ZERO_HASH
    entries: list[Entry] = field(default_factory=list)
    new_items: dict[str, Item] = field(default_factory=dict)
    changed: dict[str, Item] = field(default_factory=dict)
    codes: set[CodeKey] = field(default_factory=set)
    known_free: set[CodeKey] = field(default_factory=set)
    taken: set[CodeKey] = field(default_factory=set)
    start: int = 0
    tolerances: Tolerances = field(default_factory=Tolerances)
    # Manufacturer code bindings (``ledger.makers``), read at most once per transaction.
    makers: dict[str, str] | None = None

    @classmethod
    def begin(
        cls,
        writer: Writer,
        now: datetime,
        ids: IdSource,
        tolerances: Tolerances | None = None,
    ) -> Tx:
        """A transaction that continues the log ``writer`` holds the head of."""
        tx = cls(writer, now, ids, tolerances=tolerances or Tolerances())
        head = writer.head()
        if head is not None:
            tx.size, tx.prev = head
        tx.start = tx.size
        return tx

    def mark(self) -> _Mark:
        """The in-memory state to go back to if the next write is refused."""
        return _Mark(
            self.size,
            self.prev,
            len(self.entries),
            dict(self.new_items),
            dict(self.changed),
            (set(self.codes), set(self.known_free), set(self.taken)),
        )

    def restore(self, mark: _Mark) -> None:
        self.size, self.prev = mark.size, mark.prev
        del self.entries[mark.entries :]
        self.new_items, self.changed = mark.new_items, mark.changed
        codes, known_free, taken = mark.sets
        self.codes, self.known_free, self.taken = set(codes), set(known_free), set(taken)

    def item(self, item_id: str) -> Item | None:
        """An item as it stands in this transaction."""
        found = self.new_items.get(item_id) or self.changed.get(item_id)
        return found if found is not None else self.writer.item(item_id)

    def children(self, item_id: str) -> list[str]:
        """Children of an item, those added in this transaction included."""
        new = {i.id for i in self.new_items.values() if i.parent == item_id}
        if item_id in self.new_items:
            return sorted(new)  # an item new in this transaction has no stored children
        return sorted(set(self.writer.children(item_id)) | new)

    def append(
        self,
        actor: str,
        item: Item | None,
        item_id: str | None,
        entry_type: str,
        data: dict[str, Any],
    ) -> Entry:
        """Link the next entry and fold it into the item it is about."""
        entry = build_entry(
            seq=self.size,
            now=self.now,
            actor=actor,
            item=item_id,
            type=entry_type,
            data=data,
            prev=self.prev,
            item_prev=(item.head if item is not None else None) if item_id else None,
        )
        refuse_unauditable(entry.data, entry.body)  # never what an audit refuses
        self.entries.append(entry)
        self.size += 1
        self.prev = entry.hash
        if item_id is not None:
            updated = domain.apply_entry(
                item, entry_type, actor, item_id, data, head=entry.hash, seq=entry.seq
            )
            if item_id in self.new_items or item is None:
                self.new_items[item_id] = updated
            else:
                self.changed[item_id] = updated
        return entry

    def flush(self) -> None:
        """Store the entries and projection rows (still inside the transaction)."""
        # Few rows go as one statement; many take the store's bulk path (COPY).
        with self.writer.together() if len(self.entries) < 64 else nullcontext():
            self.writer.append(self.entries, expected_size=self.start)
            self.writer.insert_items(list(self.new_items.values()))
            self.writer.update_items(list(self.changed.values()))


@dataclass
class Job(Generic[T]):
    """One queued write of a group commit, and what became of it."""

    run: Callable[[Tx], T]
    claims: frozenset[CodeKey] = frozenset()
    result: T | None = None
    error: BaseException | None = None
    done: bool = False


class GroupCommit:
    """Runs the writes of many threads of one process in shared transactions.

    A leader takes the queue only once its transaction holds the chain: every
    write queued while it waited for the lock (another process appending) joins
    its batch, and so does every write queued while the batch ran, up to
    ``MAX_BATCH`` writes. The more writers wait, the more each commit carries.
    """

    MAX_BATCH = 256
    """Most writes in one transaction: a batch ends within a bounded time."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        ids: IdSource,
        on_commit: Callable[[list[Entry]], None] | None = None,
        tolerances: Tolerances | None = None,
    ) -> None:
        """Args:
        on_commit: called with the entries of each transaction once it is durable
            (publishing to subscribers, logging); its failures are its own.
        tolerances: what the plausibility rules allow, given to every ``Tx``.
        """
        self.tolerances = tolerances or Tolerances()
        self.store = store
        self.clock = clock
        self.ids = ids
        self.on_commit = on_commit
        self._queue: list[Job[Any]] = []
        # Guards the queue and the lead. Waiters sleep on it until their job is
        # done or nobody leads, never on a lock the leader holds while it writes:
        # when a batch ends, every write queued meanwhile goes in the next one.
        self._cond = threading.Condition()
        self._leading = False

    def run(self, write: Callable[[Tx], T], claims: frozenset[CodeKey] = frozenset()) -> T:
        """Run ``write`` atomically, perhaps in one transaction with others' writes.

        ``claims``: the item codes the write will register (``ledger.items.claimed_codes``),
        checked with every other write's of the batch in one read once the chain is held.

        Raises:
            LedgerError: the write's refusal; nothing of it is kept.
        """
        job: Job[T] = Job(write, claims)
        with self._cond:
            self._queue.append(job)
        while True:
            with self._cond:
                while not job.done and self._leading:
                    self._cond.wait()
                if job.done:
                    break
                self._leading = True
            try:
                self._lead()
            finally:
                with self._cond:
                    self._leading = False
                    self._cond.notify_all()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]  # a done job without error has one

    def alone(self, write: Callable[[Tx], T]) -> T:
        """Run ``write`` in a transaction of its own (tools, the demo, bootstrap)."""
        with self.store.writer() as writer:
            tx = Tx.begin(writer, self.clock(), self.ids, self.tolerances)
            result = write(tx)
            tx.flush()
        self._committed(tx.entries)
        return result

    def _take(self, most: int) -> list[Job[Any]]:
        """Up to ``most`` queued jobs, oldest first."""
        with self._cond:
            taken, self._queue = self._queue[:most], self._queue[most:]
        return taken

    def _lead(self) -> None:
        """Run one batch: the queue as it stands once the chain is held."""
        batch: list[Job[Any]] = []
        try:
            entries = self._commit_batch(batch)
        except Exception as exc:
            if not batch:  # the chain was never held: fail what waits, one by one
                batch = self._take(self.MAX_BATCH)
            if len(batch) == 1:
                self._finish(batch, [], error=exc)
                return
            # The transaction failed as a whole: run each write alone, so only
            # the one at fault fails.
            for job in batch:
                self._alone(job)
            return
        except BaseException as exc:
            self._finish(batch, [], error=exc)  # no waiter is left behind
            raise
        self._finish(batch, entries)

    def _alone(self, job: Job[Any]) -> None:
        try:
            with self.store.writer() as writer:
                tx = Tx.begin(writer, self.clock(), self.ids, self.tolerances)
                job.result, job.error = job.run(tx), None
                tx.flush()
        except Exception as exc:
            self._finish([job], [], error=exc)
            return
        self._finish([job], tx.entries)

    def _commit_batch(self, batch: list[Job[Any]]) -> list[Entry]:
        """Run the queued jobs, ``batch`` filled with those taken, in one transaction."""
        with self.store.writer() as writer:
            tx = Tx.begin(writer, self.clock(), self.ids, self.tolerances)
            # Taken now, not before the chain was held: the writes queued while
            # another process held it share this transaction.
            batch += self._take(self.MAX_BATCH)
            self._check_claims(tx, batch)
            if len(batch) == 1:
                # Alone in its transaction, a refusal rolls the whole of it back.
                batch[0].error = None
                batch[0].result = batch[0].run(tx)
                ran = 1
            else:
                ran = 0
            while True:
                for job in batch[ran:]:
                    self._in_savepoint(writer, tx, job)
                ran = len(batch)
                # Writes queued while these ran join too, before the one commit.
                more = self._take(self.MAX_BATCH - len(batch))
                if not more:
                    break
                self._check_claims(tx, more)
                batch += more
            tx.flush()
        return tx.entries

    @staticmethod
    def _check_claims(tx: Tx, jobs: list[Job[Any]]) -> None:
        """One read for the codes ``jobs`` will register: each write then finds its
        code free or taken in ``tx`` (``ledger.items``) without a read of its own."""
        wanted: set[CodeKey] = set()
        for job in jobs:
            wanted |= job.claims
        wanted -= tx.known_free | tx.taken
        if wanted:
            taken = tx.writer.existing_codes(sorted(wanted))
            tx.taken |= taken
            tx.known_free |= wanted - taken

    @staticmethod
    def _in_savepoint(writer: Writer, tx: Tx, job: Job[Any]) -> None:
        job.result, job.error = None, None
        mark = tx.mark()
        try:
            with writer.savepoint():
                job.result = job.run(tx)
        except LedgerError as exc:
            tx.restore(mark)
            job.error = exc
        except BaseException:
            tx.restore(mark)
            raise

    def _finish(
        self, jobs: list[Job[Any]], entries: list[Entry], error: BaseException | None = None
    ) -> None:
        """After the commit's callback (read-your-writes), mark ``jobs`` done."""
        try:
            if error is None:
                self._committed(entries)
        finally:
            with self._cond:
                for job in jobs:
                    if error is not None:
                        job.error = error
                    job.done = True
                self._cond.notify_all()

    def _committed(self, entries: list[Entry]) -> None:
        if entries and self.on_commit is not None:
            self.on_commit(entries)
