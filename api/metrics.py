"""Prometheus metrics: their definitions, the request middleware and the scrape.

Owns every ``retrace_`` metric and how ``GET /metrics`` (``api/routes/health.py``)
renders them. Counters and histograms are counted where they happen: requests in
``api.edge.Edge`` (``observe``), appends in the app's commit callback (``record_commit``), cache
lookups wherever a cache is read (``record_cache``). Gauges (log size, checkpoint,
the report aggregates' mark, database and Redis health) are read when scraped, each
check bounded by a timeout so a scrape answers even when a dependency hangs.

With several worker processes (``retrace serve --workers N``) prometheus_client's
multiprocess mode keeps each worker's counts in files under
``PROMETHEUS_MULTIPROC_DIR``, and a scrape, whichever worker answers it, sums them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import structlog
from prometheus_client import REGISTRY, Counter, Histogram, generate_latest, values
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import Scope

from api.bus import EntryBus
from ledger.errors import LedgerError
from ledger.store.base import Store

__all__ = [
    "CONTENT_TYPE",
    "Scrape",
    "observe",
    "record_cache",
    "record_commit",
]

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The Prometheus text exposition format, version 0.0.4."""

CHECK_TIMEOUT_S = 1.0
"""How long a scrape waits for the database and Redis before reporting them down."""

UNMATCHED = "unmatched"
"""The route label of a request no route matched (never the raw path: unbounded)."""

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
_HTTP_LABELS = ("route", "method", "status")

log = structlog.get_logger("retrace.metrics")
_T = TypeVar("_T")

HTTP_REQUESTS = Counter(
    "retrace_http_requests_total",
    "HTTP requests answered, by route template, method and status class.",
    _HTTP_LABELS,
)
HTTP_DURATION = Histogram(
    "retrace_http_request_duration_seconds",
    "Time from a request's arrival to its last response byte, by route template, "
    "method and status class.",
    _HTTP_LABELS,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ENTRIES_APPENDED = Counter(
    "retrace_entries_appended_total",
    "Log entries appended (counted after their transaction committed).",
)
COMMIT_BATCH = Histogram(
    "retrace_commit_batch_entries",
    "Entries per committed write transaction (the group commit's batch size).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192),
)
CACHE_LOOKUPS = Counter(
    "retrace_cache_lookups_total",
    "Cache lookups by cache name and result (hit or miss).",
    ("cache", "result"),
)


# Each cache's hit and miss series, made once (a scan counts two or three lookups).
_lookups: dict[tuple[str, bool], Counter] = {}


def record_cache(cache: str, hit: bool) -> None:
    """Count one lookup in the cache named ``cache`` as a hit or a miss."""
    series = _lookups.get((cache, hit))
    if series is None:
        series = _lookups[cache, hit] = CACHE_LOOKUPS.labels(cache, "hit" if hit else "miss")
    series.inc()


def record_commit(entries: int) -> None:
    """Count one committed write transaction that appended ``entries`` entries."""
    ENTRIES_APPENDED.inc(entries)
    COMMIT_BATCH.observe(entries)


# -- requests -------------------------------------------------------------------


# Each label set's two series, made once: a request then costs one dictionary lookup.
_series: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}


def observe(scope: Scope, status: int, seconds: float) -> None:
    """Count one answered HTTP request and its time (``api.edge.Edge`` calls this),
    labelled by the template of the route that answered (``/v1/items/{item_id}``),
    the method and the status class."""
    # The router stores the route it matched in the scope, which is shared down
    # the middleware stack; the template it was declared with is a bounded label.
    route = scope.get("route")
    template = getattr(route, "path_format", UNMATCHED) if route is not None else UNMATCHED
    method = scope["method"] if scope["method"] in _METHODS else "other"
    key = (template, method, _STATUS_CLASSES.get(status // 100, "other"))
    series = _series.get(key)
    if series is None:
        series = (HTTP_REQUESTS.labels(*key), HTTP_DURATION.labels(*key))
        _series[key] = series
    series[0].inc()
    series[1].observe(seconds)


# -- the scrape -----------------------------------------------------------------


@dataclass(frozen=True)
class _LogState:
    size: int
    checkpoint_size: int | None
    checkpoint_at: datetime | None
    report_mark: int


def _read_log(store: Store) -> _LogState:
    with store.lookup() as r:
        size = r.size()
        latest = r.latest_checkpoint()
    with store.reports() as tables:
        mark = tables.report_mark()
    if latest is None:
        return _LogState(size, None, None, mark)
    return _LogState(size, latest.size, datetime.fromisoformat(latest.created_at), mark)


# Shared by every app of the process. A check that hangs holds a thread until its
# own socket timeout; the scrape stops waiting for it after CHECK_TIMEOUT_S.
_checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="retrace-metrics")


def _counted() -> Collector:
    """Where this process's counters and histograms are read from.

    prometheus_client chose where values live when it was imported: in memory, or
    (``PROMETHEUS_MULTIPROC_DIR`` set) in per-process files that every worker's
    scrape must sum. Asking it, rather than the environment now, keeps the two in
    step even if the variable was set after the import.
    """
    if values.ValueClass is values.MutexValue:
        return REGISTRY
    # prometheus_client's multiprocess module has no annotations.
    return MultiProcessCollector(None)  # type: ignore[no-untyped-call]


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class Scrape:
    """What ``GET /metrics`` renders for one app: every worker's counters and
    histograms, and gauges read from the store and Redis at scrape time."""

    def __init__(
        self,
        store: Store,
        bus: EntryBus | None,
        clock: Callable[[], datetime],
        *,
        timeout: float = CHECK_TIMEOUT_S,
    ) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.timeout = timeout
        self._counted = _counted()

    def render(self) -> bytes:
        """The text exposition of every metric (blocks up to ``timeout`` seconds)."""
        return generate_latest(self)

    def collect(self) -> Iterator[Metric]:
        """Every metric, for prometheus_client's exposition."""
        yield from self._counted.collect()
        yield from self._live()

    def _live(self) -> Iterator[Metric]:
        database = _checks.submit(_read_log, self.store)
        redis = _checks.submit(self.bus.ping) if self.bus is not None else None
        checks: list[Future[Any]] = [database] if redis is None else [database, redis]
        wait(checks, timeout=self.timeout)
        state = _outcome(database, "database")
        yield _gauge(
            "retrace_database_up",
            f"1 if the database answered within {self.timeout:g} s at scrape time, else 0.",
            1 if state is not None else 0,
        )
        if redis is not None:
            yield _gauge(
                "retrace_redis_up",
                f"1 if Redis answered PING within {self.timeout:g} s at scrape time, else 0.",
                1 if _outcome(redis, "redis") else 0,
            )
        if state is None:
            return
        yield _gauge("retrace_log_entries", "Entries in the log (its size).", state.size)
        yield _gauge(
            "retrace_report_aggregates_entries",
            "Entries of the log the report aggregates cover (the rest is folded by the "
            "refresher, or by the next report request).",
            state.report_mark,
        )
        if state.checkpoint_size is None or state.checkpoint_at is None:
            return
        yield _gauge(
            "retrace_checkpoint_entries",
            "Entries the latest signed checkpoint covers.",
            state.checkpoint_size,
        )
        age = (self.clock() - state.checkpoint_at).total_seconds()
        yield _gauge(
            "retrace_checkpoint_age_seconds",
            "Seconds since the latest checkpoint was signed.",
            max(age, 0.0),
        )


def _outcome(future: Future[_T], check: str) -> _T | None:
    """The check's result, or None if it failed or has not answered yet."""
    if not future.done():
        log.warning("metrics.check_timed_out", check=check)
        return None
    error = future.exception()
    if error is None:
        return future.result()
    detail = error.detail if isinstance(error, LedgerError) else repr(error)
    log.warning("metrics.check_failed", check=check, error=detail)
    return None
