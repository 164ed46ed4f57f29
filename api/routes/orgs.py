"""Organisations and their API keys (admin), and who the caller is."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from api import presenters
from api.deps import (
    AdminDep,
    CallerDep,
    IdempotencyKeyDep,
    LedgerDep,
    idempotency_for,
    run_write,
)
from api.problems import READ_PROBLEMS, WRITE_PROBLEMS
from api.schemas import KeyIssued, KeyRevoked, OrgCreate, OrgCreated, OrgOut
from ledger import orgs, reads

router = APIRouter(prefix="/v1", tags=["orgs"])


@router.post(
    "/orgs",
    status_code=201,
    response_model=OrgCreated,
    responses=WRITE_PROBLEMS,
    summary="Create an org and its first API key (shown once)",
)
async def create_org(
    body: OrgCreate,
    request: Request,
    response: Response,
    caller: AdminDep,
    ledger: LedgerDep,
    key: IdempotencyKeyDep,
) -> dict[str, Any]:
    done = await run_write(
        ledger,
        lambda tx: orgs.create_org(tx, caller, body.name, body.role, body.region),
        orgs.Created,
        await idempotency_for(request, caller, key),
        response,
    )
    return presenters.created(done)


@router.get(
    "/orgs",
    response_model=list[OrgOut],
    responses=READ_PROBLEMS,
    summary="List orgs (ids, names, roles)",
)
def list_orgs(_caller: CallerDep, ledger: LedgerDep) -> list[dict[str, Any]]:
    return [presenters.org(o) for o in reads.list_orgs(ledger.store)]


@router.get(
    "/orgs/me",
    response_model=OrgOut,
    responses=READ_PROBLEMS,
    summary="The org of the calling API key",
)
def whoami(caller: CallerDep) -> dict[str, Any]:
    return presenters.org(caller)


@router.post(
    "/orgs/{org_id}/keys",
    status_code=201,
    response_model=KeyIssued,
    responses=WRITE_PROBLEMS,
    summary="Issue another API key for an org",
)
async def issue_key(
    org_id: str,
    request: Request,
    response: Response,
    caller: AdminDep,
    ledger: LedgerDep,
    key: IdempotencyKeyDep,
) -> dict[str, Any]:
    done = await run_write(
        ledger,
        lambda tx: orgs.issue_key(tx, caller, org_id),
        orgs.KeyIssued,
        await idempotency_for(request, caller, key),
        response,
    )
    return presenters.key_issued(done)


@router.post(
    "/keys/{key_id}/revoke",
    response_model=KeyRevoked,
    responses=WRITE_PROBLEMS,
    summary="Revoke an API key (logged)",
)
async def revoke_key(
    key_id: str,
    request: Request,
    response: Response,
    caller: AdminDep,
    ledger: LedgerDep,
    key: IdempotencyKeyDep,
) -> dict[str, Any]:
    done = await run_write(
        ledger,
        lambda tx: orgs.revoke_key(tx, caller, key_id),
        orgs.KeyRevoked,
        await idempotency_for(request, caller, key),
        response,
    )
    return presenters.key_revoked(done)
