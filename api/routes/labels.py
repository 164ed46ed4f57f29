"""QR labels: one item's label as PNG or SVG, many as a printable PDF sheet or roll.

Reads items and their manufacturers' names from the ledger
(``ledger.reads.label_subjects``), presents them as ``LabelInfo`` values
(``api.presenters.label_info``) and hands them to the ``labels`` package, which
draws them. Labels encode ``<public base url>/p/<item id>``; reading one back
from scanned text is ``api.scans``'s.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from api import presenters
from api.deps import CallerDep, LedgerDep, SettingsDep
from api.problems import responses as problems
from api.schemas import LabelSheetRequest, SheetLayoutIn
from labels import LabelInfo, SheetLayout, render_png, render_sheet_pdf, render_svg
from ledger import reads
from ledger.errors import ValidationError
from ledger.service import Ledger

router = APIRouter(prefix="/v1", tags=["labels"])

ItemId = Annotated[
    str, Path(min_length=1, max_length=40, examples=["itm_01JD8Z3K5V7W9XQRSTABCDEFGH"])
]
Dpi = Annotated[int, Query(ge=72, le=1200, description="print resolution of the PNG")]
SizeMm = Annotated[float, Query(ge=15, le=200, description="label width in mm")]
HeightMm = Annotated[
    float | None, Query(ge=15, le=200, description="label height in mm (default: the width)")
]

# A label never changes: id, code, kind and manufacturer are fixed at registration.
# It is private, since only API keys may fetch it.
CACHE_CONTROL = "private, max-age=86400"
PNG = "image/png"
SVG = "image/svg+xml"
PDF = "application/pdf"
_LABEL_PROBLEMS = problems(401, 404, 422, 503)


def _binary(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    }


def _one_label(ledger: Ledger, item_id: str) -> LabelInfo:
    return presenters.label_info(reads.label_subject(ledger.store, item_id))


def _render_error(exc: ValueError) -> ValidationError:
    where = "query:/dpi" if "dpi" in str(exc) else "query:/size_mm"
    return ValidationError(str(exc), pointer=where)


def _headers(info: LabelInfo, suffix: str) -> dict[str, str]:
    return {
        "Cache-Control": CACHE_CONTROL,
        "Content-Disposition": f'inline; filename="{info.item_id}.{suffix}"',
    }


@router.get(
    "/items/{item_id}/label.png",
    response_class=Response,
    responses={**_binary(PNG, "the label, greyscale PNG at `dpi`"), **_LABEL_PROBLEMS},
    summary="The item's QR label as PNG",
)
def label_png(
    item_id: ItemId,
    _caller: CallerDep,
    ledger: LedgerDep,
    settings: SettingsDep,
    dpi: Dpi = 300,
    size_mm: SizeMm = 50.0,
    height_mm: HeightMm = None,
) -> Response:
    info = _one_label(ledger, item_id)
    try:
        body = render_png(
            info, settings.public_base_url, dpi=dpi, size_mm=size_mm, height_mm=height_mm
        )
    except ValueError as exc:
        raise _render_error(exc) from None
    return Response(body, media_type=PNG, headers=_headers(info, "png"))


@router.get(
    "/items/{item_id}/label.svg",
    response_class=Response,
    responses={**_binary(SVG, "the label, SVG in millimetres"), **_LABEL_PROBLEMS},
    summary="The item's QR label as SVG",
)
def label_svg(
    item_id: ItemId,
    _caller: CallerDep,
    ledger: LedgerDep,
    settings: SettingsDep,
    size_mm: SizeMm = 50.0,
    height_mm: HeightMm = None,
) -> Response:
    info = _one_label(ledger, item_id)
    try:
        body = render_svg(info, settings.public_base_url, size_mm=size_mm, height_mm=height_mm)
    except ValueError as exc:
        raise _render_error(exc) from None
    return Response(body, media_type=SVG, headers=_headers(info, "svg"))


def sheet_layout(layout: SheetLayoutIn) -> SheetLayout:
    """The ``labels`` layout a request names.

    Raises:
        ValidationError: the labels do not fit the page or are too small.
    """
    try:
        if layout.roll is not None:
            return SheetLayout.roll(layout.roll.width_mm, layout.roll.height_mm)
        grid = layout.a4
        assert grid is not None  # noqa: S101 - the schema demands one of the two
        return SheetLayout.a4(grid.columns, grid.rows, margin_mm=grid.margin_mm, gap_mm=grid.gap_mm)
    except ValueError as exc:
        raise ValidationError(str(exc), pointer="/layout") from None


@router.post(
    "/labels/sheet",
    response_class=Response,
    responses={
        **_binary(PDF, "the labels, in order, on A4 sheets or roll pages"),
        **problems(400, 401, 404, 413, 422, 503),
    },
    summary="Many QR labels as a printable PDF (A4 sheet or label roll)",
)
async def label_sheet(
    body: LabelSheetRequest, _caller: CallerDep, ledger: LedgerDep, settings: SettingsDep
) -> Response:
    layout = sheet_layout(body.layout)

    def render() -> bytes:
        subjects = reads.label_subjects(ledger.store, body.item_ids)
        infos = [presenters.label_info(s) for s in subjects]
        return render_sheet_pdf(infos, settings.public_base_url, layout)

    pdf = await run_in_threadpool(render)
    return Response(
        pdf,
        media_type=PDF,
        headers={
            "Cache-Control": "private, no-store",
            "Content-Disposition": 'inline; filename="retrace-labels.pdf"',
        },
    )
