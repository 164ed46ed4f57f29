"""The FastAPI application: routers, problem handlers, middleware, state.

``create_app(settings)`` assembles everything; ``app_from_env()`` is the
factory uvicorn workers call. The schema is prepared before workers start
(``api.bootstrap.prepare``), never by each worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import structlog
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from api import docs, logs, metrics, problems, ratelimit, refresher
from api.bootstrap import utc_now
from api.bus import EntryBus
from api.cache import KeyCache, RedisCache, invalidator
from api.edge import Edge
from api.ratelimit import RateLimits, parse_limits
from api.reads import Reads
from api.routes import (
    audit,
    events,
    health,
    intake,
    item_queries,
    items,
    labels,
    log,
    makers,
    orgs,
    pages,
    passport,
    reports,
    station,
    transparency,
)
from api.settings import Settings, get_settings
from hashing import load_private_key
from ledger.chain import Entry, StoredEntry
from ledger.errors import LedgerError
from ledger.service import Ledger
from ledger.store.sql import SqlStore
from ledger.transparency import Transparency

DESCRIPTION = """\
Retrace is a traceability ledger for end-of-life traction batteries, PV modules and
wind-turbine blades. OEMs register items, recyclers scan labels and record what they do,
regulators audit an append-only, hash-chained log.

Every refusal is RFC 9457 `application/problem+json` with a `code` and, for bad values,
a JSON `pointer`. Every POST accepts an `Idempotency-Key`.

Each event type's `data` is shown, with an example, under `POST /v1/items/{item_id}/events`.
`POST /v1/items/bulk` and `POST /v1/events/bulk` take a JSON array or JSON Lines
(`Content-Type: application/x-ndjson`) and answer line by line, lines counted from 1.
"""

log_ = structlog.get_logger("retrace.api")


class _Publisher:
    """Publishes checkpoints and logs only what happened: a checkpoint this process
    signed and stored, a failure (once, until it changes), and the recovery. Every
    worker calls it every few seconds, mostly to find the log already covered."""

    def __init__(self, log: Transparency) -> None:
        self.log = log
        self.failing: str | None = None

    def __call__(self) -> None:
        try:
            record = self.log.publish_new()
        except LedgerError as exc:
            if exc.detail != self.failing:
                log_.error("checkpoint.failed", code=exc.code, detail=exc.detail)
            self.failing = exc.detail
            return
        if self.failing is not None:
            log_.info("checkpoint.recovered")
            self.failing = None
        if record is not None:
            log_.info("checkpoint.published", size=record.size, root=record.root)


def _on_commit(
    bus: EntryBus | None,
    publish: Callable[[], None],
    every: int,
    invalidate: Callable[[list[Entry]], None],
) -> Callable[[list[Entry]], None]:
    covered = -1

    def committed(entries: list[Entry]) -> None:
        nonlocal covered
        # First, and before any writer of these entries is answered: read-your-writes.
        invalidate(entries)
        log_.info(
            "entries.appended",
            first_seq=entries[0].seq,
            count=len(entries),
            entry_hash=entries[-1].hash,
        )
        metrics.record_commit(len(entries))
        if bus is not None:
            bus.publish(entries)
        size = entries[-1].seq + 1
        if covered < 0:
            covered = entries[0].seq
        if size - covered >= every:
            publish()
            covered = size

    return committed


async def _publish_periodically(publish: Callable[[], None], interval: float) -> None:
    """Keep a checkpoint within ``interval`` seconds of every append."""
    while True:
        await asyncio.sleep(interval)
        await run_in_threadpool(publish)


async def _refresh_reports_periodically(store: SqlStore, interval: float) -> None:
    """Keep the report aggregates close behind the log, so a report request finds
    little left to fold (``ledger.reports.aggregate``), a slice at a time with a
    rest after each (``api.refresher.fold_slice``), so the writes that made a
    backlog go first."""
    while True:
        await asyncio.sleep(interval)
        while (rest := await run_in_threadpool(refresher.fold_slice, store)) is not None:
            await asyncio.sleep(rest)


def _stored_entries(store: SqlStore, start: int, limit: int) -> list[StoredEntry]:
    """Entries read back for the Redis stream's catch-up (``api.bus``)."""
    with store.lookup() as r:
        return r.entries(start, limit)


def create_app(settings: Settings, *, fold_reports: bool = True) -> FastAPI:
    """The app over the database and Redis that ``settings`` name.

    ``fold_reports``: keep the report aggregates behind the log in this app's own
    loop; false when ``api.refresher`` does it beside the workers.
    """
    store = SqlStore(settings.database(), pool_size=settings.db_pool_size)
    redis_url = settings.redis()
    bus = EntryBus(redis_url, partial(_stored_entries, store)) if redis_url else None
    log_key = load_private_key(settings.log_key_file)
    tlog = Transparency(store, log_key, settings.log_name, utc_now)
    cache = RedisCache(redis_url, tlog.vkey) if redis_url else None
    keys = KeyCache()
    # The log key file is the service's one secret; idempotent answers are
    # sealed with a key derived from it (HKDF, its own context string).
    seed = log_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    publish = _Publisher(tlog)
    ledger = Ledger(
        store,
        clock=utc_now,
        on_commit=_on_commit(bus, publish, settings.checkpoint_every, invalidator(cache, keys)),
        answer_secret=seed,
        tolerances=settings.tolerances(),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_publish_periodically(publish, settings.checkpoint_interval))]
        if fold_reports:
            tasks.append(
                asyncio.create_task(
                    _refresh_reports_periodically(store, settings.report_refresh_interval)
                )
            )
        # Everything made so far (modules, models, the app) lives as long as the
        # process: out of the collector's sight, it is not traversed again on every
        # full collection, a quarter of a bulk upload's CPU time otherwise.
        gc.freeze()
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        store.dispose()
        if bus is not None:
            bus.close()
        if cache is not None:
            await cache.close()

    # /docs and /redoc load their scripts from this service, not a CDN (``api.docs``).
    app = docs.create_app(
        title="Retrace", version="0.1.0", description=DESCRIPTION, lifespan=lifespan
    )
    app.state.settings = settings
    app.state.ledger = ledger
    app.state.transparency = tlog
    limits = RateLimits(
        parse_limits(settings.rate_limit),
        {role: parse_limits(text) for role, text in settings.role_rate_limits().items()},
        redis_url,
    )
    app.state.reads = Reads(ledger, tlog, cache, keys, limits)
    app.state.bus = bus
    app.state.metrics = metrics.Scrape(store, bus, utc_now)
    app.state.templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
    problems.install(app)
    ratelimit.install(app)
    for router in (
        health.router,
        orgs.router,
        makers.router,
        items.router,
        item_queries.router,
        events.router,
        labels.router,
        intake.router,
        log.router,
        transparency.router,
        pages.router,
        passport.router,
        reports.router,
        audit.router,
        station.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    # Around everything: metrics, request id, security headers, the address's rate
    # limit, body size and time limits, hostile JSON, and unexpected errors, in one
    # middleware with one ``send`` wrapper (``api.edge``). The docs' policy names
    # their inline scripts.
    app.add_middleware(
        Edge,
        limits=limits,
        max_body=settings.max_body_bytes,
        body_seconds=settings.body_timeout,
        hashed=("/docs", "/redoc"),
    )
    return app


def app_from_env() -> Any:
    """Factory for ``uvicorn --factory api.app:app_from_env``: each worker logs
    through ``api.logs`` before it builds the app."""
    settings = get_settings()
    logs.configure_from(settings)
    return create_app(settings, fold_reports=refresher.APART not in os.environ)
