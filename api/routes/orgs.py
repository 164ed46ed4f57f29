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
from api.schemas import KeyIssued, KeyRevoked, OrgCreate, OrgCreated, OrgListed, OrgOut
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
    response_model=list[OrgListed],
    response_model_exclude_unset=True,
    responses=READ_PROBLEMS,
    summary="List orgs: counterparties, or every org and its keys for admins and regulators",
    description="Makers, operators and recyclers list the orgs an item may pass between "
    "(id, name, role, region). Admins and regulators list every org with its API keys "
    "(ids and the entries that issued and revoked them, never a secret).",
)
def list_orgs(caller: CallerDep, ledger: LedgerDep) -> list[dict[str, Any]]:
    return [presenters.org_listing(o) for o in reads.org_directory(ledger.store, caller)]


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
