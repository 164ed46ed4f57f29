"""``retrace labels``: QR labels of many items, as a PDF sheet and/or PNG files.

Owns the command; which items are the ledger's (``ledger.reads``), what a label
shows is ``api.presenters.label_info``'s, drawing is the ``labels`` package's.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from api.cli.console import console, open_ledger, out, progress_bar
from api.settings import get_settings
from ledger import reads

__all__ = ["LabelStock", "labels"]


class LabelStock(StrEnum):
    A4 = "a4"
    ROLL = "roll"


def labels(
    out_pdf: Annotated[
        Path | None,
        typer.Argument(
            help="the PDF to write (optional with --png-dir)", dir_okay=False, metavar="OUT.pdf"
        ),
    ] = None,
    item: Annotated[
        list[str] | None, typer.Option("--item", metavar="ID", help="an item id; repeat for more")
    ] = None,
    all_registered_by: Annotated[
        str | None,
        typer.Option(metavar="ORG", help="every item this org registered (org id or name)"),
    ] = None,
    layout: Annotated[
        LabelStock, typer.Option(metavar="a4|roll", help="A4 sheets or roll labels")
    ] = LabelStock.A4,
    columns: Annotated[int, typer.Option(min=1, max=12, metavar="N", help="A4: labels across")] = 3,
    rows: Annotated[int, typer.Option(min=1, max=20, metavar="N", help="A4: labels down")] = 8,
    width_mm: Annotated[
        float, typer.Option(min=15, max=300, metavar="MM", help="roll: label width")
    ] = 50.0,
    height_mm: Annotated[
        float, typer.Option(min=15, max=300, metavar="MM", help="roll: label height")
    ] = 30.0,
    png_dir: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="also write one PNG per item here", file_okay=False),
    ] = None,
    dpi: Annotated[int, typer.Option(min=72, max=1200, metavar="DPI", help="PNG resolution")] = 300,
) -> None:
    """Print QR labels: a PDF sheet and/or PNG files.

    The sheet is an A4 grid or a roll of labels; --png-dir writes one PNG per item.
    """
    from api.presenters import label_info
    from labels import SheetLayout, render_png, render_sheet_pdf

    if out_pdf is None and png_dir is None:
        console.print("error: name the PDF to write, or --png-dir, or both")
        raise typer.Exit(2)
    settings = get_settings()
    ledger = open_ledger()
    maker = None
    if all_registered_by is not None:
        maker = reads.find_org(ledger.store, all_registered_by)
        if maker is None:
            console.print(f"error: no org {all_registered_by!r} (give its id or name)")
            raise typer.Exit(2)
    subjects = reads.label_subjects(ledger.store, item or [])
    if maker is not None:
        subjects += reads.label_subjects(ledger.store, registered_by=maker.id)
    if not subjects:
        console.print("error: no items: give --item ID or --all-registered-by ORG")
        raise typer.Exit(2)
    infos = [label_info(subject) for subject in subjects]
    try:
        sheet = (
            SheetLayout.roll(width_mm, height_mm)
            if layout == LabelStock.ROLL
            else SheetLayout.a4(columns, rows)
        )
    except ValueError as exc:
        console.print(f"error: {exc}")
        raise typer.Exit(2) from None
    base = settings.public_base_url
    with progress_bar() as bar:
        if png_dir is not None:
            png_dir.mkdir(parents=True, exist_ok=True)
            task = bar.add_task("PNG labels", total=len(infos))
            width, height = sheet.label_size
            for done, info in enumerate(infos, 1):
                png = render_png(info, base, dpi=dpi, size_mm=width, height_mm=height)
                (png_dir / f"{info.item_id}.png").write_bytes(png)
                bar.update(task, completed=done)
        if out_pdf is not None:
            task = bar.add_task("PDF labels", total=len(infos))
            pdf = render_sheet_pdf(
                infos, base, sheet, progress=lambda done: bar.update(task, completed=done)
            )
            out_pdf.write_bytes(pdf)
    if out_pdf is not None:
        pages = -(-len(infos) // sheet.labels_per_page)
        out.print(f"{out_pdf}: {len(infos)} labels on {pages} page(s)", highlight=False)
    if png_dir is not None:
        out.print(f"{png_dir}: {len(infos)} PNG labels at {dpi} dpi", highlight=False)
