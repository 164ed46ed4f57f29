"""Auditing the entries and the tree with no server and no database.

Owns what checks a stream of entries' canonical bytes, in ``seq`` order:

* ``check_block``: one run of consecutive entries, each checked by the one entry check
  (``ledger.verify.entry.check_entries``) as far as the run itself allows, with the aligned
  perfect subtrees of its leaves. A pure function of its arguments, so blocks may be
  checked in other processes;
* ``LogAuditor``: joins blocks in order: the links into earlier blocks, the tree
  frontier (``hashing.TreeFrontier``), and each signed checkpoint's root, compared as the
  stream passes that checkpoint's size. Its ``feed`` checks entries in this process, each
  against the entries before it, with the same verdict as joining ``check_block``'s.

Every check raises ``AuditFailure`` naming the first thing wrong: an entry's seq, or a
checkpoint's size, and why. Signatures, keys and consistency proofs are
``ledger.verify.trust``'s; bundles and servers are ``ledger.verify.bundle``'s and
``ledger.verify.live``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from hashing import Subtrees, TreeFrontier, covering_subtrees, subtree_levels
from ledger.chain import ZERO_HASH
from ledger.errors import AuditFailure
from ledger.verify.entry import (
    EntryRun,
    FirstLinks,
    check_entries,
    item_link_reason,
    prev_link_failure,
)
from ledger.verify.trust import SignedCheckpoint

__all__ = ["AuditSummary", "BlockResult", "LogAuditor", "check_block", "check_text_block"]

_RUN = 1024  # entries checked and hashed into the tree together by ``LogAuditor.feed``
_link = itemgetter(1)


@dataclass
class BlockResult:
    """What ``check_block`` found in entries ``[start, start + count)``.

    Attributes:
        start: seq of the first entry.
        count: entries that passed, from ``start``; the block stops at a failure.
        first_prev: the first entry's ``prev`` (checked by whoever knows entry start - 1).
        head: hex hash of the last entry that passed.
        first_links: item to (seq, ``item_prev``) of its first entry in the block.
        last_links: item to the hash of its last entry in the block.
        subtrees: aligned perfect subtrees over the leaves that passed.
        snapshots: for each requested size inside the block, the subtrees up to it.
        failure: the first entry that failed inside the block: (seq, reason).
    """

    start: int
    count: int = 0
    first_prev: str | None = None
    head: str | None = None
    first_links: FirstLinks = field(default_factory=dict)
    last_links: dict[str, str] = field(default_factory=dict)
    subtrees: Subtrees = field(default_factory=list)
    snapshots: dict[int, Subtrees] = field(default_factory=dict)
    failure: tuple[int, str] | None = None


def check_block(start: int, lines: Sequence[bytes], stops: Sequence[int] = ()) -> BlockResult:
    """Check the entries ``start, start + 1, …`` as far as they can be checked alone.

    Args:
        start: the first line's seq.
        lines: canonical entry bytes, without newlines.
        stops: sizes in ``(start, start + len(lines)]`` at which to snapshot the subtrees
            (the sizes of signed checkpoints).

    Returns:
        The block's result; ``failure`` is set at the first entry that is wrong.
    """
    result = BlockResult(start)
    run = check_entries(lines, start, None, result.last_links, result.first_links)
    result.first_prev = run.first_prev
    _settle(result, run, stops)
    return result


def _settle(result: BlockResult, run: EntryRun, stops: Sequence[int]) -> None:
    """Fill ``result`` from the run of its entries: count, head, failure, subtrees."""
    start = result.start
    if run.failure is not None:
        result.failure = (start + run.count, run.failure.reason)
    result.count = run.count
    result.head = run.head
    if run.leaves:
        end = start + run.count
        levels = subtree_levels(start, run.leaves)
        result.subtrees = covering_subtrees(levels, start, end)
        for stop in stops:
            if start < stop <= end:
                result.snapshots[stop] = covering_subtrees(levels, start, stop)


def check_text_block(start: int, text: bytes, stops: Sequence[int] = ()) -> BlockResult:
    """``check_block`` of newline-separated entries (no final newline): one object to send
    to another process instead of one per line."""
    return check_block(start, text.split(b"\n"), stops)


@dataclass(frozen=True)
class AuditSummary:
    """What an audit checked."""

    size: int
    head: str
    root: bytes
    checkpoints: int
    items: int
    unchecked_item_links: int = 0


@dataclass
class LogAuditor:
    """Checks entries streamed in ``seq`` order against each other and the checkpoints.

    Feed canonical entry bytes (no newline) with ``feed``, or join blocks checked
    elsewhere (``check_block`` with ``stops``' sizes) with ``join``, then call ``finish``.
    Memory is the O(log n) frontier plus one hash per item (for the ``item_prev`` links).

    To resume after ``size`` verified entries, pass ``size``, ``head`` and that tree's
    ``frontier``; links from new entries to items last seen before then cannot be checked
    and are counted in ``unchecked_item_links``.
    """

    checkpoints: Sequence[SignedCheckpoint] = ()
    size: int = 0
    head: str = ZERO_HASH
    frontier: TreeFrontier = field(default_factory=TreeFrontier)
    unchecked_item_links: int = 0

    def __post_init__(self) -> None:
        if self.frontier.size != self.size:
            raise ValueError("the frontier is not of the resumed size")
        self._resumed = self.size > 0
        self._items: dict[str, str] = {}
        self._pending = sorted(self.checkpoints, key=lambda c: c.size)
        if self._pending and self._pending[0].size < self.size:
            raise ValueError("a checkpoint is older than the resumed position")
        while self._pending and self._pending[0].size == self.size:
            self._check_root(self._pending.pop(0), self.frontier.root())

    @staticmethod
    def _check_root(signed: SignedCheckpoint, root: bytes) -> None:
        if root != signed.root:
            raise AuditFailure.at_checkpoint(
                signed.size,
                f"the entries give root {root.hex()[:16]}…, but the log signed "
                f"{signed.root.hex()[:16]}… for this size",
            )

    def stops(self, count: int, start: int | None = None) -> list[int]:
        """Checkpoint sizes inside the block of ``count`` entries from ``start``."""
        first = self.size if start is None else start
        return [c.size for c in self._pending if first < c.size <= first + count]

    def feed(self, lines: Sequence[bytes]) -> None:
        """Check the next entries, here, against the entries before them.

        Raises:
            AuditFailure: the first entry (by seq) or checkpoint that is wrong.
        """
        # In runs ending at multiples of _RUN: each full run is one perfect subtree, hashed
        # while its leaves are still in the CPU cache.
        done = 0
        while done < len(lines):
            end = min(done + _RUN - self.size % _RUN, len(lines))
            self._feed_run(lines[done:end])
            done = end

    def _feed_run(self, lines: Sequence[bytes]) -> None:
        # The same verdict as ``join(check_block(...))``, with the links into earlier
        # entries checked as each entry passes instead of after the block.
        first_links: FirstLinks | None = {} if self._resumed else None
        run = check_entries(lines, self.size, self.head, self._items, first_links)
        block = BlockResult(self.size)
        _settle(block, run, self.stops(len(lines)))
        self.join(block)
        # A resumed audit cannot check the first link of an item last seen before it.
        self.unchecked_item_links += sum(
            link is not None for _, link in (first_links or {}).values()
        )

    def join(self, block: BlockResult) -> None:
        """Add the next block: links into earlier entries, tree, checkpoints.

        Raises:
            AuditFailure: the first entry (by seq) or checkpoint that is wrong, counting
                a checkpoint as coming just before the entry at its size.
        """
        if block.start != self.size:
            raise ValueError(f"block starts at {block.start}, the audit is at {self.size}")
        findings: list[tuple[float, AuditFailure]] = []
        if block.failure is not None:
            findings.append((block.failure[0], AuditFailure.at_entry(*block.failure)))
        if block.first_prev is not None and block.first_prev != self.head:
            failure = prev_link_failure(block.start, block.first_prev, self.head)
            findings.append((block.start, failure))
        items, unchecked = self._items, 0
        firsts = block.first_links
        # Most often every first link is right: one comparison of two lists says so.
        linked = list(map(items.get, firsts)) == list(map(_link, firsts.values()))
        for item, (seq, link) in () if linked else firsts.items():
            last = items.get(item)
            if link != last:
                if last is None and self._resumed:
                    unchecked += 1
                else:
                    failure = AuditFailure.at_entry(seq, item_link_reason(item, last))
                    findings.append((seq, failure))
        for size, subtrees in block.snapshots.items():
            signed = next(c for c in self._pending if c.size == size)
            frontier = self.frontier.copy()
            for level, node in subtrees:
                frontier.append_subtree(node, level)
            try:
                self._check_root(signed, frontier.root())
            except AuditFailure as exc:
                findings.append((size - 0.5, exc))
        if findings:
            raise min(findings, key=lambda pair: pair[0])[1]
        self.unchecked_item_links += unchecked
        items.update(block.last_links)
        for level, node in block.subtrees:
            self.frontier.append_subtree(node, level)
        self.size += block.count
        if block.head is not None:
            self.head = block.head
        while self._pending and self._pending[0].size <= self.size:
            self._pending.pop(0)

    def finish(self) -> AuditSummary:
        """Close the audit: every checkpoint must have been reached.

        Raises:
            AuditFailure: a checkpoint covers more entries than were fed.
        """
        if self._pending:
            signed = self._pending[0]
            raise AuditFailure.at_checkpoint(
                signed.size,
                f"it covers {signed.size} entries, but there are only {self.size}: entries "
                "are missing from the end",
            )
        return AuditSummary(
            self.size,
            self.head,
            self.frontier.root(),
            len(self.checkpoints),
            len(self._items),
            self.unchecked_item_links,
        )
