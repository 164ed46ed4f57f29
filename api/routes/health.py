"""Liveness and readiness probes, and the Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api import metrics
from api.deps import LedgerDep
from api.problems import problem, problem_response
from api.problems import responses as problems
from api.schemas import Health
from ledger.errors import LedgerError

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> dict[str, Any]:
    # On the event loop, not a worker thread: the process answers, whatever its threads do.
    return {"status": "ok", "checks": {}}


@router.get(
    "/readyz",
    response_model=Health,
    responses=problems(503),
    summary="The database answers (503 if not); Redis, when configured, is reported "
    "(`degraded` without it, still 200)",
)
def readyz(request: Request, ledger: LedgerDep) -> Any:
    checks: dict[str, str] = {}
    failed = []
    try:
        ledger.store.ping()
        checks["database"] = "ok"
    except LedgerError as exc:
        checks["database"] = exc.detail
        failed.append("database")
    bus = request.app.state.bus
    degraded = False
    if bus is not None:
        # Redis only speeds things up: without it the service serves, slower, and
        # the stream catches up later. It is reported, not failed.
        if bus.ping():
            checks["redis"] = "ok"
        else:
            checks["redis"] = f"unreachable ({bus.backlog()} entries wait to be published)"
            degraded = True
    if failed:
        return problem_response(
            503,
            problem(
                503,
                "not-ready",
                "Not ready",
                f"{', '.join(failed)} not answering",
                "/readyz",
                checks=checks,
            ),
        )
    return JSONResponse({"status": "degraded" if degraded else "ok", "checks": checks})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    summary="Prometheus metrics: requests, appends, log size, checkpoint age, health",
)
def get_metrics(request: Request) -> Response:
    scrape: metrics.Scrape = request.app.state.metrics
    return Response(scrape.render(), media_type=metrics.CONTENT_TYPE)
