"""Redis adapter: a stream of new entries for subscribers.

Redis only speeds things up and fans out; losing it costs no data, so every
failure here is logged and swallowed. Subscribers read the stream
``retrace:entries`` (XREAD) and can always re-read the log from PostgreSQL.
"""

from __future__ import annotations

import structlog
from redis import Redis
from redis.exceptions import RedisError

from ledger.chain import Entry

STREAM = "retrace:entries"
log = structlog.get_logger("retrace.bus")


class EntryBus:
    """Publishes committed entries to a capped Redis stream."""

    def __init__(self, url: str, *, maxlen: int = 100_000) -> None:
        self.redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.maxlen = maxlen

    def publish(self, entries: list[Entry]) -> None:
        try:
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
        except RedisError as exc:
            log.warning("bus.publish_failed", error=str(exc), first_seq=entries[0].seq)

    def ping(self) -> bool:
        try:
            return bool(self.redis.ping())
        except RedisError:
            return False

    def close(self) -> None:
        self.redis.close()
