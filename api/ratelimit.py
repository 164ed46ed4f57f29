"""Rate limits per API key and per client address (the ``limits`` library).

Owns how many requests a caller may make: ``RETRACE_RATE_LIMIT`` (the
``limits`` notation, e.g. ``500/second;20000/minute``) for every client
address and every key, and ``RETRACE_RATE_LIMIT_<ROLE>`` for the keys of one
role. Counts are kept in Redis when ``RETRACE_REDIS_URL`` is set, so every
worker and every replica shares them, and in the process otherwise. A process
tells Redis its hits in batches (``SharedCounts``), not one round trip per
request: a limit holds across processes within ``SLACK`` of it per process, and
exactly wherever that share is under one request. A Redis that fails or hangs
costs one short timeout, then the process counts alone for a pause: limits go
on holding, per process, and no request waits for Redis.
A caller over a limit gets 429 problem+json with ``Retry-After``: from
``api.edge.Edge`` (which counts every request by address, but those to
``UNCOUNTED`` paths) or from the handler of ``RateLimited`` (raised where the
key is checked, ``api.reads.Reads.caller``).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from limits import RateLimitItem, WindowStats, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError

from api.problems import problem, problem_response

__all__ = ["UNCOUNTED", "RateLimited", "RateLimits", "SharedCounts", "install", "parse_limits"]

log = structlog.get_logger("retrace.ratelimit")

SOCKET_SECONDS = 0.1
# Probes and scrapes: a flood from elsewhere must not make a healthy service look dead.
UNCOUNTED = frozenset({"/healthz", "/readyz", "/metrics"})
PAUSE_SECONDS = 5.0
# A process's hits not yet in Redis: at most this share of a limit, and this old.
SLACK = 0.05
SYNC_SECONDS = 0.05
MAX_COUNTS = 50_000


class RateLimited(Exception):
    """A caller over one of its limits; ``retry_after`` in whole seconds."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after

    def response(self, instance: str) -> JSONResponse:
        body = problem(
            429,
            "rate-limited",
            "Too many requests",
            self.detail,
            instance,
            retry_after=self.retry_after,
        )
        return problem_response(429, body, {"Retry-After": str(self.retry_after)})


def parse_limits(text: str) -> list[RateLimitItem]:
    """The limits ``text`` names (``100/second;2000/minute``).

    Raises:
        ValueError: not in the ``limits`` notation.
    """
    found = parse_many(text)
    if not found:
        raise ValueError(f"no rate limit in {text!r}")
    return found


@dataclass
class _Count:
    """One limit's window as this process knows it."""

    total: int = 0  # the window's count in Redis when this process last added to it
    pending: int = 0  # this process's hits since then
    told: float = -math.inf  # when it last added them (``time.monotonic``)


class SharedCounts:
    """Fixed windows counted in a ``limits`` storage (Redis) that every process shares,
    each process adding its hits in batches rather than one round trip per hit.

    A hit is counted here and let through while this process's view of the window's
    total stays within the limit, its hits not yet told stay within ``SLACK`` of the
    limit and the last telling is under ``SYNC_SECONDS`` old; otherwise the hits are
    added to the shared count at once and the hit is judged by the total that comes
    back. So a process tells Redis at most about once every ``SYNC_SECONDS`` per key or
    address, and each process lets through at most ``SLACK`` of a limit more than
    the shared count allows; a limit whose share is under one hit is counted exactly,
    every hit in Redis. The windows and their expiry are the library's own
    (``FixedWindowRateLimiter``'s keys), so its window stats read them.
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.limiter = FixedWindowRateLimiter(storage)
        self._counts: dict[str, _Count] = {}

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Count one hit; whether it is within the limit.

        Raises:
            RedisError, OSError: the storage failed (the hits not yet told are dropped).
        """
        key = item.key_for(*identifiers)
        count = self._counts.get(key)
        if count is None:
            if len(self._counts) >= MAX_COUNTS:
                self._forget()
            count = self._counts[key] = _Count()
        count.pending += 1
        now = time.monotonic()
        if (
            count.total + count.pending <= item.amount
            and count.pending <= item.amount * SLACK
            and now - count.told < SYNC_SECONDS
        ):
            return True
        told, count.pending, count.told = count.pending, 0, now
        count.total = await self.storage.incr(key, item.get_expiry(), amount=told)
        return count.total <= item.amount

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        return await self.limiter.get_window_stats(item, *identifiers)

    def _forget(self) -> None:
        # Those with nothing pending are in Redis already: forgetting one costs a
        # round trip at its next hit, nothing more.
        self._counts = {k: c for k, c in self._counts.items() if c.pending}


class RateLimits:
    """Counts requests per client address and per API key against their limits.

    Args:
        default: the limits of every address and of keys whose role has none.
        by_role: a role's own limits for its keys.
        redis_url: shared counts in Redis; None counts in this process.
    """

    def __init__(
        self,
        default: Sequence[RateLimitItem],
        by_role: Mapping[str, Sequence[RateLimitItem]],
        redis_url: str | None,
    ) -> None:
        self.default = list(default)
        self.by_role = {role: list(items) for role, items in by_role.items()}
        self.local = FixedWindowRateLimiter(MemoryStorage())
        self.shared: SharedCounts | None = None
        if redis_url:
            storage: Storage = RedisStorage(
                redis_url.replace("redis://", "async+redis://", 1)
                if redis_url.startswith("redis://")
                else redis_url,
                implementation="redispy",
                key_prefix="retrace:limits",
                socket_timeout=SOCKET_SECONDS,
                socket_connect_timeout=SOCKET_SECONDS,
            )
            self.shared = SharedCounts(storage)
        self._shared_down_until = 0.0

    async def address(self, address: str) -> None:
        """Count one request from a client address.

        Raises:
            RateLimited: over a limit.
        """
        await self._hit(self.default, "address", address)

    async def key(self, api_key: str, role: str) -> None:
        """Count one request signed by ``api_key`` (of ``role``).

        Raises:
            RateLimited: over a limit.
        """
        digest = hashlib.sha256(api_key.encode()).hexdigest()[:32]
        await self._hit(self.by_role.get(role, self.default), "key", digest)

    async def _hit(self, items: Sequence[RateLimitItem], kind: str, who: str) -> None:
        limiter = self._limiter()
        for item in items:
            try:
                allowed = await limiter.hit(item, kind, who)
            except (RedisError, OSError) as exc:  # Redis away or hung: count locally
                if limiter is self.local:
                    raise
                self._shared_down_until = time.monotonic() + PAUSE_SECONDS
                log.warning("ratelimit.redis_failed", error=str(exc) or type(exc).__name__)
                limiter = self.local
                allowed = await limiter.hit(item, kind, who)
            if not allowed:
                stats = await limiter.get_window_stats(item, kind, who)
                retry = max(1, math.ceil(stats.reset_time - time.time()))
                raise RateLimited(
                    f"more than {item} from this {'API key' if kind == 'key' else 'address'}; "
                    f"try again in {retry} s",
                    retry_after=retry,
                )

    def _limiter(self) -> FixedWindowRateLimiter | SharedCounts:
        if self.shared is not None and time.monotonic() >= self._shared_down_until:
            return self.shared
        return self.local


def install(app: FastAPI) -> None:
    """Answer ``RateLimited`` raised inside a route (a key over its limit)."""

    @app.exception_handler(RateLimited)
    async def _limited(request: Request, exc: RateLimited) -> JSONResponse:
        return exc.response(request.url.path)
