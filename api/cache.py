"""Read-through caches: scans, item views and passports in Redis; API keys in the process.

Owns how cached values stay right (version tokens, invalidation after each
commit) and the cache of API keys; which values the routes' reads are made of
is ``api.reads``'s. Redis only speeds reads up: any Redis failure is logged and
the read goes to the database, with short socket timeouts and a pause after a
failure, so a lost or hung Redis never fails or stalls a read. Without
``RETRACE_REDIS_URL`` every read goes to the database.

How a cached value stays right. Each value is stored with a tag: the version
tokens of what it shows (the cache's epoch, the item, the codes a scan names),
read in the same round trip (MGET) as the value, and it counts only while its
tag equals the current tokens. A writer replaces the tokens of everything a
transaction changed (``invalidator``; the app calls it after each commit,
before any writer of the transaction is answered). A reader that misses has
read the tokens before it reads the database, and tags what it stores with
them: a write committed in between has replaced a token, so the value read
before it is never served after it, and no reader sees less than its own
acknowledged write. Tokens are random, not counters, so a lost or evicted
token can never bring an old tag back to life.

What each cached value holds, and so which tokens guard it:

- ``item:<id>``: the item's view and holder (``ledger.reads.Found``), under the
  item's token. An entry on the item replaces it; so does the registration of
  a child (the parent's ``children``) or of a second life (its origin).
- ``scan:<digest>``: the item id a scanned code resolves to, under the tokens
  of the codes the scan may name: a new item with one of them can make the
  scan resolve elsewhere, or become ambiguous.
- ``passport:<id>``: what the passport is built from (``PassportSource``)
  without the linked items, under the item's token. The linked items come from
  their own ``item:`` values; its history check counts only while the latest
  checkpoint (cosignatures included) is the one it was made against, read
  from the database on every passport (checkpoints are signed and cosigned
  apart from commits, by any process or tool).

When an invalidation fails (Redis unreachable from the writer), the writer's
process reads nothing from the cache until it has replaced the epoch, which
drops every value. Values expire after ``CACHE_SECONDS`` whatever happens: that
bounds what another process could serve meanwhile, and how long a write made
without the API (the CLI on the same database) takes to be seen.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import structlog
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from api.metrics import record_cache
from ledger.chain import Entry
from ledger.lifecycle import KEY_REVOKED
from ledger.orgs import hash_api_key
from ledger.records import OrgRecord
from ledger.registry import EVENTS
from ledger.service import Ledger

__all__ = ["KeyCache", "Lookup", "RedisCache", "invalidator"]

# The format of the cached values is part of their keys: a release that changes
# it starts from an empty cache instead of misreading the old one.
FORMAT = 1
CACHE_SECONDS = 300  # values expire even if nothing replaced their tokens
EPOCH_SECONDS = 86_400
SOCKET_SECONDS = 0.1  # a hung Redis costs a read at most this much, then ...
PAUSE_SECONDS = 1.0  # ... the cache is left alone this long
KEY_SECONDS = 1.0  # a revoked key is refused everywhere within this

log = structlog.get_logger("retrace.cache")


@dataclass(frozen=True)
class Lookup:
    """A cached value (None on a miss) and the tag a value read now must carry."""

    value: bytes | None
    tag: bytes


class RedisCache:
    """Tagged values and version tokens in Redis; never raises a Redis error.

    Reads are async (``redis.asyncio``: a slow Redis holds no thread); the
    invalidation after a commit runs on the writer's thread (``redis``). Keys are
    named ``retrace:cache:<format>:<ledger>:…``, where ``<ledger>`` is a digest of
    ``ledger``, the log's verifier key: every process of one ledger shares the
    values, and two ledgers on one Redis never see each other's.
    """

    def __init__(self, url: str, ledger: str, *, seconds: int = CACHE_SECONDS) -> None:
        self.url = url
        # No retries: one failure costs one timeout, then the cache is left alone.
        self.redis = Redis.from_url(
            url,
            socket_timeout=SOCKET_SECONDS,
            socket_connect_timeout=SOCKET_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        self._reader: tuple[asyncio.AbstractEventLoop, AsyncRedis] | None = None
        self.seconds = seconds
        self.prefix = f"retrace:cache:{FORMAT}:{hashlib.sha256(ledger.encode()).hexdigest()[:16]}:"
        self.epoch = self.prefix + "epoch"
        self._paused_until = 0.0
        # Invalidations that failed since the epoch was last replaced: until it is,
        # this process reads nothing from the cache (it may hold what they changed).
        self._lost = 0
        self._healed = 0
        self._counts = threading.Lock()

    # -- names --------------------------------------------------------------

    def key(self, kind: str, name: str) -> str:
        """The key of a cached value: ``item``, ``scan`` or ``passport``, and its name."""
        return f"{self.prefix}{kind}:{name}"

    def item_version(self, item_id: str) -> str:
        return f"{self.prefix}v:item:{item_id}"

    def code_version(self, code: str) -> str:
        return f"{self.prefix}v:code:{code}"

    def changed_versions(self, entries: Sequence[Entry]) -> list[str]:
        """The tokens of everything ``entries`` change.

        An entry changes its item (``ledger.domain.apply_entry`` folds it into that
        item alone); a registration also changes its parent's children and its
        origin's links, and whom a scan of its code finds.
        """
        names = set()
        for entry in entries:
            if entry.item is None:
                continue
            names.add(self.item_version(entry.item))
            spec = EVENTS.get(entry.type)
            if spec is None or not spec.opens_item:
                continue
            for link in ("parent", "origin"):
                if isinstance(entry.data.get(link), str):
                    names.add(self.item_version(entry.data[link]))
            if isinstance(entry.data.get("code"), str):
                names.add(self.code_version(entry.data["code"]))
        return sorted(names)

    # -- reads ----------------------------------------------------------------

    async def get_many(self, wanted: Sequence[tuple[str, Sequence[str]]]) -> list[Lookup] | None:
        """Each ``(key, version keys)``'s value and current tag, in one round trip
        (two when a token must be made first); None when Redis cannot answer."""
        if not await self._usable():
            return None
        names = list(dict.fromkeys([self.epoch, *(v for _, vs in wanted for v in vs)]))
        try:
            keys = [k for k, _ in wanted] + names
            async with asyncio.timeout(SOCKET_SECONDS):
                got = cast("list[bytes | None]", await self._client().mget(keys))
                found = dict(zip(names, got[len(wanted) :], strict=True))
                missing = [name for name, token in found.items() if token is None]
                if missing:
                    found.update(await self._make_tokens(missing))
        except (RedisError, OSError) as exc:
            self._failed("cache.read_failed", exc)
            return None
        tokens = {name: token for name, token in found.items() if token is not None}
        if len(tokens) < len(found):
            return None  # a token vanished as it was made (a flush): read, store nothing
        out = []
        for (_, versions), value in zip(wanted, got[: len(wanted)], strict=True):
            tag = b".".join(tokens[name] for name in (self.epoch, *versions))
            stored, _, payload = (value or b"").partition(b"|")
            out.append(Lookup(payload if value is not None and stored == tag else None, tag))
        return out

    async def get(self, key: str, versions: Sequence[str]) -> Lookup | None:
        found = await self.get_many([(key, versions)])
        return None if found is None else found[0]

    async def put(self, key: str, tag: bytes, value: bytes) -> None:
        """Store ``value`` tagged with the tokens read before it was read."""
        await self.put_many([(key, tag, value)])

    async def put_many(self, values: Sequence[tuple[str, bytes, bytes]]) -> None:
        """``put`` each ``(key, tag, value)``, in one round trip."""
        if not values:
            return
        try:
            pipe = self._client().pipeline(transaction=False)
            for key, tag, value in values:
                pipe.set(key, tag + b"|" + value, ex=self.seconds)
            async with asyncio.timeout(SOCKET_SECONDS):
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._failed("cache.write_failed", exc)

    async def _make_tokens(self, names: Sequence[str]) -> dict[str, bytes | None]:
        # A token that is not there (never made, expired, evicted) is made anew:
        # never taken as some default a value could already be tagged with.
        pipe = self._client().pipeline(transaction=False)
        for name in names:
            pipe.set(name, _token(), nx=True, ex=self._expiry(name))
        pipe.mget(names)
        made: list[bytes | None] = (await pipe.execute())[-1]
        return dict(zip(names, made, strict=True))

    def _client(self) -> AsyncRedis:
        # An asyncio client belongs to the event loop it was made in (one per worker).
        loop = asyncio.get_running_loop()
        if self._reader is None or self._reader[0] is not loop:
            # No socket timeout of its own (redis-py makes a task for each write it
            # times): every call is held to SOCKET_SECONDS by an ``asyncio.timeout``
            # around it, and a cancelled command drops its connection.
            client = AsyncRedis.from_url(
                self.url,
                socket_timeout=None,
                socket_connect_timeout=SOCKET_SECONDS,
                retry=AsyncRetry(NoBackoff(), 0),
            )
            self._reader = (loop, client)
        return self._reader[1]

    # -- invalidation ---------------------------------------------------------

    def invalidate(self, versions: Iterable[str]) -> None:
        """Replace these tokens (after a commit, before its writers are answered)."""
        names = list(versions)
        lost = self._lost
        try:
            pipe = self.redis.pipeline(transaction=False)
            for name in names:
                pipe.set(name, _token(), ex=2 * self.seconds)
            if lost > self._healed:
                pipe.set(self.epoch, _token(), ex=EPOCH_SECONDS)
            pipe.execute()
        except (RedisError, OSError) as exc:
            with self._counts:
                self._lost += 1
            self._failed("cache.invalidate_failed", exc, tokens=len(names))
            return
        with self._counts:
            self._healed = max(self._healed, lost)

    def _expiry(self, name: str) -> int:
        # A token outlives the values tagged with it; were it gone sooner, they
        # would only miss.
        return EPOCH_SECONDS if name == self.epoch else 2 * self.seconds

    async def _usable(self) -> bool:
        if time.monotonic() < self._paused_until:
            return False
        lost = self._lost
        if lost > self._healed:
            # Replacing the epoch drops every value, those a lost invalidation missed too.
            try:
                async with asyncio.timeout(SOCKET_SECONDS):
                    await self._client().set(self.epoch, _token(), ex=EPOCH_SECONDS)
            except (RedisError, OSError) as exc:
                self._failed("cache.read_failed", exc)
                return False
            with self._counts:
                self._healed = max(self._healed, lost)
        return True

    def _failed(self, event: str, exc: Exception, **extra: Any) -> None:
        if time.monotonic() >= self._paused_until:
            log.warning(event, error=str(exc), **extra)
        self._paused_until = time.monotonic() + PAUSE_SECONDS

    async def close(self) -> None:
        self.redis.close()
        if self._reader is not None:
            await self._reader[1].aclose()
            self._reader = None


def _token() -> bytes:
    return secrets.token_hex(8).encode()


class KeyCache:
    """Callers by the SHA-256 of their API key (never the key), each remembered at
    most ``seconds``: a key revoked elsewhere is refused within that."""

    def __init__(self, seconds: float = KEY_SECONDS, *, size: int = 10_000) -> None:
        if not 0 <= seconds <= KEY_SECONDS:
            raise ValueError(f"API keys are remembered at most {KEY_SECONDS} s")
        self.seconds = seconds
        self.size = size
        self._callers: dict[str, tuple[float, OrgRecord]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def remembered(self, api_key: str) -> OrgRecord | None:
        """The org of ``api_key`` if it is remembered (no I/O), else None."""
        found = self._callers.get(hash_api_key(api_key))
        if found is None or found[0] <= time.monotonic():
            return None
        record_cache("api_key", True)
        return found[1]

    def caller(self, ledger: Ledger, api_key: str) -> OrgRecord:
        """The org of ``api_key``, remembered or read.

        Raises:
            AuthError: unknown or revoked key (refusals are not remembered).
        """
        remembered = self.remembered(api_key)
        if remembered is not None:
            return remembered
        record_cache("api_key", False)
        digest = hash_api_key(api_key)
        now = time.monotonic()
        generation = self._generation
        org = ledger.authenticate(api_key)
        with self._lock:
            # Not if a revocation was committed while the key was read.
            if self.seconds > 0 and generation == self._generation:
                if len(self._callers) >= self.size:
                    self._callers.clear()
                self._callers[digest] = (now + self.seconds, org)
        return org

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._callers.clear()


def invalidator(cache: RedisCache | None, keys: KeyCache) -> Callable[[list[Entry]], None]:
    """What the app runs after each commit: revocations drop this process's
    remembered keys at once, and the changed items' tokens are replaced."""

    def committed(entries: list[Entry]) -> None:
        if any(entry.type == KEY_REVOKED for entry in entries):
            keys.forget()
        if cache is not None:
            names = cache.changed_versions(entries)
            if names:
                cache.invalidate(names)

    return committed
