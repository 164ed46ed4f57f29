"""Redis adapter: a stream of new entries for subscribers, fed off the write path.

Redis only speeds things up and fans out; losing it costs no data. A commit hands
its entries to ``EntryBus.publish``, which only queues them: a thread of the bus
adds them to the stream ``retrace:entries`` (XADD), with short socket timeouts.
When Redis fails or hangs, the bus stops trying for a pause (a circuit breaker)
and keeps only the seq ranges still to publish, not the entries; once Redis
answers again it reads those entries back from the database and publishes them,
so the stream catches up with everything this process committed. A write never
waits for Redis. Subscribers read the stream (XREAD) and can always re-read the
log from the database.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from ledger.errors import LedgerError

STREAM = "retrace:entries"
log = structlog.get_logger("retrace.bus")

SOCKET_SECONDS = 0.5
"""How long one Redis call may take before the bus counts Redis as down."""

PAUSE_SECONDS = 2.0
"""How long the bus leaves a failed Redis alone before it tries again."""

HELD_ENTRIES = 10_000
"""Entries kept in memory while they wait; beyond, only their seqs (read back later)."""

_BATCH = 1000


class Published(Protocol):
    """What the stream carries of an entry (``ledger.chain.Entry`` or ``StoredEntry``)."""

    @property
    def seq(self) -> int: ...
    @property
    def hash(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def item(self) -> str | None: ...
    @property
    def body(self) -> bytes: ...


ReadEntries = Callable[[int, int], Sequence[Published]]
"""Reads ``limit`` stored entries from ``start`` (``LogReader.entries``)."""


@dataclass
class _Pending:
    """Seqs first … last still to publish, with the entries when they are held."""

    first: int
    last: int
    entries: list[Published] | None = field(default=None)


class EntryBus:
    """Publishes committed entries to a capped Redis stream, from a thread of its own.

    Args:
        read: reads stored entries back for a catch-up after Redis was away.
    """

    def __init__(self, url: str, read: ReadEntries, *, maxlen: int = 100_000) -> None:
        self.redis = Redis.from_url(
            url,
            socket_timeout=SOCKET_SECONDS,
            socket_connect_timeout=SOCKET_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        self.read = read
        self.maxlen = maxlen
        self._pending: deque[_Pending] = deque()
        self._held = 0
        self._wake = threading.Condition()
        self._closed = False
        self._down_until = 0.0
        self._missed = 0  # entries that waited for Redis in the current outage
        self._thread = threading.Thread(target=self._run, name="retrace-bus", daemon=True)
        self._thread.start()

    # -- the write path's side: never blocks on Redis ------------------------------

    def publish(self, entries: Sequence[Published]) -> None:
        """Queue committed entries for the stream (returns at once)."""
        if not entries:
            return
        with self._wake:
            keep = self._held + len(entries) <= HELD_ENTRIES
            self._pending.append(
                _Pending(entries[0].seq, entries[-1].seq, list(entries) if keep else None)
            )
            self._held += len(entries) if keep else 0
            self._wake.notify()

    @property
    def down(self) -> bool:
        """Whether the last call to Redis failed and the bus is waiting to retry."""
        return time.monotonic() < self._down_until

    def backlog(self) -> int:
        """Entries committed here and not yet in the stream."""
        with self._wake:
            return sum(p.last - p.first + 1 for p in self._pending)

    def ping(self) -> bool:
        if self.down:
            return False
        try:
            return bool(self.redis.ping())
        except RedisError:
            return False

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the backlog to drain; whether it did."""
        deadline = time.monotonic() + timeout
        while self.backlog():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        """Publish what is queued (for a second at most), then stop."""
        self.flush(1.0)
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=2.0)
        self.redis.close()

    # -- the bus's thread -----------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                head = self._pending[0]
            wait = self._down_until - time.monotonic()
            if wait > 0:
                with self._wake:
                    self._wake.wait(timeout=wait)
                continue
            self._send(head)

    def _send(self, pending: _Pending) -> None:
        try:
            entries = pending.entries
            if entries is None:
                last = min(pending.last, pending.first + _BATCH - 1)
                entries = list(self.read(pending.first, last - pending.first + 1))
            else:
                last = pending.last
            pipe = self.redis.pipeline(transaction=False)
            for entry in entries:
                pipe.xadd(
                    STREAM,
                    {
                        "seq": entry.seq,
                        "hash": entry.hash,
                        "type": entry.type,
                        "item": entry.item or "",
                        "body": entry.body,
                    },
                    maxlen=self.maxlen,
                    approximate=True,
                )
            pipe.execute()
        except (RedisError, LedgerError) as exc:  # Redis, or the database a catch-up reads
            self._failed(pending, exc)
            return
        with self._wake:
            if last < pending.last:  # a long catch-up, a slice at a time
                pending.first = last + 1
            else:
                self._pending.popleft()
                self._held -= len(pending.entries or ())
            caught_up = not self._pending and self._missed
        if caught_up:
            log.info("bus.caught_up", entries=self._missed)
            self._missed = 0

    def _failed(self, pending: _Pending, exc: Exception) -> None:
        first_failure = self._missed == 0
        with self._wake:
            # While Redis is away, keep seqs only: memory stays flat however long.
            for waiting in self._pending:
                self._held -= len(waiting.entries or ())
                waiting.entries = None
            self._missed = sum(p.last - p.first + 1 for p in self._pending)
        self._down_until = time.monotonic() + PAUSE_SECONDS
        if first_failure:
            log.warning(
                "bus.publish_failed",
                error=str(exc) or type(exc).__name__,
                first_seq=pending.first,
                retry_in_s=PAUSE_SECONDS,
            )
