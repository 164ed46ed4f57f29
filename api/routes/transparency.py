"""Public verification endpoints: checkpoints, the log key, proofs, cosigning."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import Answer, RegulatorDep, TransparencyDep, require
from api.handoff import handoff
from api.problems import READ_PROBLEMS, WRITE_PROBLEMS, in_query
from api.problems import responses as problems
from ledger.errors import ValidationError
from ledger.lifecycle import Role
from ledger.records import OrgRecord

router = APIRouter(prefix="/v1/log", tags=["verification"])
_TEXT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {}}, "description": "a signed note"}
}
_MAX_NOTE = 16 * 1024


class InclusionOut(BaseModel):
    index: int
    size: int
    leaf_hash: str
    proof: list[str] = Field(description="hex hashes, bottom-up (RFC 9162 §2.1.3)")


class ConsistencyOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from")
    to: int
    proof: list[str] = Field(description="hex hashes (RFC 9162 §2.1.4)")


class WitnessIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vkey: str = Field(
        min_length=3, max_length=400, description="witness verifier key name+hash+base64(0x04‖pub)"
    )


class WitnessOut(BaseModel):
    name: str
    vkey: str


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses={**_TEXT, **problems(404, 422, 503)},
    summary="The latest signed checkpoint (C2SP tlog-checkpoint)",
)
async def get_checkpoint(
    tlog: TransparencyDep, size: Annotated[int | None, Query(ge=0, le=2**53)] = None
) -> PlainTextResponse:
    with in_query():
        record = await run_in_threadpool(tlog.checkpoint, size)
    return PlainTextResponse(record.note, headers={"Cache-Control": "no-cache"})


@router.post(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses={**_TEXT, **problems(401, 403, 503)},
    summary="Publish a checkpoint over the whole log now",
)
async def publish_checkpoint(
    tlog: TransparencyDep,
    _caller: Annotated[OrgRecord, Depends(require(Role.ADMIN, Role.REGULATOR))],
) -> PlainTextResponse:
    await run_in_threadpool(tlog.publish)
    record = await run_in_threadpool(tlog.checkpoint, None)
    return PlainTextResponse(record.note)


@router.get(
    "/key",
    response_class=PlainTextResponse,
    responses=_TEXT,
    summary="The log's verifier key (<name>+<key hash>+<base64 key>)",
)
def get_key(tlog: TransparencyDep) -> PlainTextResponse:
    return PlainTextResponse(tlog.vkey + "\n")


@router.get(
    "/proof/inclusion",
    response_model=InclusionOut,
    responses=problems(422, 503),
    summary="Inclusion proof of the entry at index in the tree of size",
)
async def get_inclusion(
    tlog: TransparencyDep,
    index: Annotated[int, Query(ge=0, le=2**53)],
    size: Annotated[int, Query(ge=1, le=2**53)],
) -> Response:
    # A warm proof reads nothing (``ledger.transparency.TreeCache``): answered here,
    # on the event loop; a cold one reads a few tiles, on a thread of ``api.handoff``.
    with in_query():
        found = tlog.cached_inclusion(index, size)
        proof = found if found is not None else await handoff.run(tlog.inclusion, index, size)
    return Answer(
        {
            "index": proof.index,
            "size": proof.size,
            "leaf_hash": proof.leaf_hash,
            "proof": proof.proof,
        }
    )


@router.get(
    "/proof/consistency",
    response_model=ConsistencyOut,
    response_model_by_alias=True,
    responses=problems(422, 503),
    summary="Consistency proof between two tree sizes",
)
async def get_consistency(
    tlog: TransparencyDep,
    first: Annotated[int, Query(alias="from", ge=0, le=2**53)],
    to: Annotated[int, Query(ge=0, le=2**53)],
) -> Response:
    with in_query():
        known = tlog.cached_consistency(first, to)
        proof = known if known is not None else await handoff.run(tlog.consistency, first, to)
    return Answer({"from": proof.first, "to": proof.second, "proof": proof.proof})


@router.post(
    "/witnesses",
    status_code=201,
    response_model=WitnessOut,
    responses=WRITE_PROBLEMS,
    summary="Register your witness key (regulators)",
)
def register_witness(
    body: WitnessIn, tlog: TransparencyDep, caller: RegulatorDep
) -> dict[str, Any]:
    verifier = tlog.register_witness(caller.id, body.vkey)
    return {"name": verifier.name, "vkey": body.vkey}


@router.post(
    "/cosign",
    response_class=PlainTextResponse,
    responses={**_TEXT, **READ_PROBLEMS, **problems(409, 413)},
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}
    },
    summary="Add your witness cosignature to a checkpoint",
)
async def cosign(
    request: Request, tlog: TransparencyDep, caller: RegulatorDep
) -> PlainTextResponse:
    raw = await request.body()
    if len(raw) > _MAX_NOTE:
        raise ValidationError("a cosigned checkpoint is at most 16 KiB", pointer="/")
    try:
        note = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("the note is not UTF-8 text", pointer="/") from None
    record = await run_in_threadpool(tlog.cosign, caller.id, note)
    return PlainTextResponse(record.note)
