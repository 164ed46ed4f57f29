"""Labels rendered in-process, one thread: PNG and SVG labels per second and a PDF sheet.

Part of ``python bench/labels.py`` (see there); imported after that script has put
the ``labels`` package, not itself, first on the import path. The sample data
(``BASE_URL``, ``KINDS``) is shared with the scans (``_labels_scan``).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

from _harness import Row

from labels import LabelInfo, SheetLayout, render_png, render_sheet_pdf, render_svg

BASE_URL = "https://retrace.example.org"
KINDS = ["battery_pack", "battery_module", "battery_cell", "pv_module", "wind_blade"]
GOAL_PNG_PER_S = 200.0
GOAL_SHEET_S = 10.0


def sample_infos(count: int) -> list[LabelInfo]:
    """Distinct labels (unique ids and codes), kinds cycling, like a real batch."""
    return [
        LabelInfo(
            item_id=f"itm_01JD8Z3K5V7W9XQRST{n:08d}",
            code=f"CATPB01A1B2C3DB34{n % 9_999_999 + 1:07d}",
            kind=KINDS[n % len(KINDS)],
            manufacturer="Contemporary Amperex Technology Co., Ltd.",
        )
        for n in range(count)
    ]


def best_rate(work: Callable[[], int], repeats: int = 3) -> float:
    """Items per second of ``work`` (which returns how many it did), best of ``repeats``."""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        done = work()
        best = max(best, done / (time.perf_counter() - start))
    return best


def qrcode_png_rate(infos: list[LabelInfo]) -> float:
    """The plain library: ``qrcode`` (automatic mask) to a PIL PNG, same URLs."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_Q

    def work() -> int:
        for info in infos:
            code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, box_size=10, border=4)
            code.add_data(f"{BASE_URL}/p/{info.item_id}")
            image = code.make_image()
            image.save(io.BytesIO(), "PNG")
        return len(infos)

    return best_rate(work)


def qrcode_svg_rate(infos: list[LabelInfo]) -> float:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_Q
    from qrcode.image.svg import SvgPathImage

    def work() -> int:
        for info in infos:
            image = qrcode.make(
                f"{BASE_URL}/p/{info.item_id}",
                image_factory=SvgPathImage,
                error_correction=ERROR_CORRECT_Q,
            )
            image.to_string()
        return len(infos)

    return best_rate(work)


def bench_rendering(count: int, sheet_labels: int) -> list[Row]:
    infos = sample_infos(count)
    render_png(infos[0], BASE_URL)  # fonts, symbol templates
    png = best_rate(lambda: sum(1 for i in infos if render_png(i, BASE_URL)))
    png_limit = qrcode_png_rate(infos[: max(50, count // 3)])
    svg = best_rate(lambda: sum(1 for i in infos if render_svg(i, BASE_URL)))
    svg_limit = qrcode_svg_rate(infos[: max(50, count // 3)])
    rows = [
        Row(
            "PNG labels/s (50 mm, 300 dpi)",
            f"{png:,.0f}",
            f"{png_limit:,.0f}",
            f"{png / png_limit:.1f}x",
            f">= {GOAL_PNG_PER_S:.0f}",
            "ok" if png >= GOAL_PNG_PER_S else "MISS",
            "limit: qrcode -> PIL PNG, auto mask, symbol only",
        ),
        Row(
            "SVG labels/s (50 mm)",
            f"{svg:,.0f}",
            f"{svg_limit:,.0f}",
            f"{svg / svg_limit:.1f}x",
            notes="limit: qrcode SvgPathImage, auto mask, symbol only",
        ),
    ]
    sheet = sample_infos(sheet_labels)
    start = time.perf_counter()
    pdf = render_sheet_pdf(sheet, BASE_URL, SheetLayout.a4())
    seconds = time.perf_counter() - start
    rows.append(
        Row(
            f"{sheet_labels:,}-label A4 sheet, s",
            f"{seconds:.2f}",
            goal=f"< {GOAL_SHEET_S:.0f}",
            verdict="ok" if seconds < GOAL_SHEET_S else "MISS",
            notes=f"{-(-sheet_labels // 24)} pages, {len(pdf) / 1e6:.2f} MB, "
            f"{sheet_labels / seconds:,.0f} labels/s",
        )
    )
    return rows
