"""Organisations and their API keys (admin), and who the caller is."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from api.deps import AdminDep, CallerDep, IdempotencyKeyDep, LedgerDep, idempotency_for
from api.routes.common import READ_PROBLEMS, WRITE_PROBLEMS, run_write
from api.schemas import KeyIssued, KeyRevoked, OrgCreate, OrgCreated, OrgOut
from ledger.store.sql import OrgRecord

router = APIRouter(prefix="/v1", tags=["orgs"])


def org_out(org: OrgRecord) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "role": org.role.value, "region": org.region}


@router.post(
    "/orgs",
    status_code=201,
    response_model=OrgCreated,
    responses=WRITE_PROBLEMS,
    summary="Create an org and its first API key (shown once)",
)
async def create_org(
    body: OrgCreate, request: Request, caller: AdminDep, ledger: LedgerDep, key: IdempotencyKeyDep
) -> Response:
    def op(tx: Any) -> dict[str, Any]:
        created = ledger.create_org(tx, caller, body.name, body.role, body.region)
        return {"org": org_out(created.org), "api_key": created.api_key, "key_id": created.key_id}

    return await run_write(
        ledger, op, lambda out: (201, out), await idempotency_for(request, caller, key)
    )


@router.get(
    "/orgs",
    response_model=list[OrgOut],
    responses=READ_PROBLEMS,
    summary="List orgs (ids, names, roles)",
)
def list_orgs(_caller: CallerDep, ledger: LedgerDep) -> list[dict[str, Any]]:
    with ledger.store.reader() as r:
        return [org_out(o) for o in r.orgs()]


@router.get(
    "/orgs/me",
    response_model=OrgOut,
    responses=READ_PROBLEMS,
    summary="The org of the calling API key",
)
def whoami(caller: CallerDep) -> dict[str, Any]:
    return org_out(caller)


@router.post(
    "/orgs/{org_id}/keys",
    status_code=201,
    response_model=KeyIssued,
    responses=WRITE_PROBLEMS,
    summary="Issue another API key for an org",
)
async def issue_key(
    org_id: str, request: Request, caller: AdminDep, ledger: LedgerDep, key: IdempotencyKeyDep
) -> Response:
    def op(tx: Any) -> dict[str, Any]:
        key_id, secret, _ = ledger.issue_key(tx, caller, org_id)
        return {"key_id": key_id, "org": org_id, "api_key": secret}

    return await run_write(
        ledger, op, lambda out: (201, out), await idempotency_for(request, caller, key)
    )


@router.post(
    "/keys/{key_id}/revoke",
    response_model=KeyRevoked,
    responses=WRITE_PROBLEMS,
    summary="Revoke an API key (logged)",
)
async def revoke_key(
    key_id: str, request: Request, caller: AdminDep, ledger: LedgerDep, key: IdempotencyKeyDep
) -> Response:
    def op(tx: Any) -> dict[str, Any]:
        ledger.revoke_key(tx, caller, key_id)
        return {"key_id": key_id, "revoked": True}

    return await run_write(
        ledger, op, lambda out: (200, out), await idempotency_for(request, caller, key)
    )
