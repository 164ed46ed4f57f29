"""PNG labels at print resolution.

This module owns the raster rendering of one label: the symbol scaled to a
whole number of pixels per module (no resampling blur at module edges), the
text lines drawn with Pillow, and the PNG encoding with its dpi metadata.
The arrangement comes from ``labels.layout``; the symbol from ``labels.qr``.

Images are 16-level greyscale (4-bit PNG): enough for anti-aliased text, a
quarter of the bytes of 8-bit grey, so encoding stays fast in bulk.
"""

from __future__ import annotations

import io
import math
import zlib
from functools import lru_cache
from typing import Final

from PIL import Image, ImageDraw

from labels.fonts import FontRole, pil_font
from labels.layout import LabelPlan, module_size_mm, plan_label
from labels.model import LabelInfo
from labels.qr import QUIET_ZONE, QrSymbol, encode_qr
from labels.urls import label_url

__all__ = ["MAX_DPI", "MIN_DPI", "MIN_MODULE_PX", "render_label_image", "render_png"]

MIN_DPI: Final = 72
MAX_DPI: Final = 2400
#: A module narrower than two printer dots smears into its neighbours.
MIN_MODULE_PX: Final = 2
_MAX_PIXELS: Final = 100_000_000
_MM_PER_INCH: Final = 25.4
# 8-bit grey to the 16 levels a 4-bit PNG holds (each level n stored as 17 * n).
_TO_16_LEVELS: Final = [(v * 15 + 127) // 255 * 17 for v in range(256)]


@lru_cache(maxsize=1024)
def _text_mask(text: str, role: FontRole, size_px: int) -> tuple[Image.Image, int, int, float]:
    """Coverage mask of ``text``, its offset from the baseline start, its advance."""
    font = pil_font(role, size_px)
    left, top, right, bottom = (int(v) for v in font.getbbox(text, anchor="ls"))
    mask = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, font=font, fill=255, anchor="ls")
    return mask, left, top, float(font.getlength(text))


def _draw_symbol(image: Image.Image, plan: LabelPlan, symbol: QrSymbol, px_per_mm: float) -> None:
    total = symbol.size_with_quiet_zone
    module_px = math.floor(module_size_mm(plan, total) * px_per_mm)
    if module_px < MIN_MODULE_PX:
        raise ValueError(
            f"at {px_per_mm * _MM_PER_INCH:g} dpi a {plan.qr_side_mm:.1f} mm symbol of "
            f"{total} modules gets {module_px} pixel(s) per module; at least "
            f"{MIN_MODULE_PX} are needed: raise the dpi or the label size"
        )
    box_px = total * module_px
    # Centre the whole-pixel box in the planned box; it is never larger.
    left = round((plan.qr_x_mm + plan.qr_side_mm / 2) * px_per_mm - box_px / 2)
    top = round((plan.qr_y_mm + plan.qr_side_mm / 2) * px_per_mm - box_px / 2)
    modules = Image.frombytes("L", (symbol.size, symbol.size), symbol.grey_bytes)
    side = symbol.size * module_px
    scaled = modules.resize((side, side), Image.Resampling.NEAREST)
    offset = QUIET_ZONE * module_px
    image.paste(scaled, (left + offset, top + offset))


def _draw_text(image: Image.Image, plan: LabelPlan, px_per_mm: float) -> None:
    for line in plan.lines:
        size_px = max(1, round(line.size_mm * px_per_mm))
        mask, dx, dy, advance = _text_mask(line.text, line.role, size_px)
        x = line.x_mm * px_per_mm
        if line.align == "center":
            x -= advance / 2
        baseline = line.baseline_mm * px_per_mm
        image.paste(0, (round(x) + dx, round(baseline) + dy), mask)


def render_label_image(
    info: LabelInfo,
    base_url: str,
    *,
    dpi: int = 300,
    size_mm: float = 50.0,
    height_mm: float | None = None,
) -> Image.Image:
    """The label as an 8-bit greyscale Pillow image (``render_png`` without encoding).

    The label is ``size_mm`` wide and ``height_mm`` (default: ``size_mm``) tall.

    Raises:
        ValueError: bad item id or base URL, a dpi outside 72..2400, or a
            label too small (or too large) to print at that resolution.
    """
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not MIN_DPI <= dpi <= MAX_DPI:
        raise ValueError(f"dpi must be a whole number from {MIN_DPI} to {MAX_DPI}, not {dpi!r}")
    height = size_mm if height_mm is None else height_mm
    url = label_url(base_url, info.item_id)
    plan = plan_label(info, size_mm, height)
    px_per_mm = dpi / _MM_PER_INCH
    width_px, height_px = round(size_mm * px_per_mm), round(height * px_per_mm)
    if width_px * height_px > _MAX_PIXELS:
        raise ValueError(
            f"a {size_mm:g} x {height:g} mm label at {dpi} dpi is {width_px} x {height_px} "
            "pixels, too large to render"
        )
    image = Image.new("L", (width_px, height_px), 255)
    _draw_symbol(image, plan, encode_qr(url), px_per_mm)
    _draw_text(image, plan, px_per_mm)
    return image


def render_png(
    info: LabelInfo,
    base_url: str,
    *,
    dpi: int = 300,
    size_mm: float = 50.0,
    height_mm: float | None = None,
) -> bytes:
    """A PNG label whose QR symbol encodes ``label_url(base_url, info.item_id)``.

    The label is ``size_mm`` wide and ``height_mm`` (default: ``size_mm``)
    tall, rendered at ``dpi`` with that resolution recorded in the file, so it
    prints at its true size.

    Raises:
        ValueError: see ``render_label_image``.
    """
    image = render_label_image(info, base_url, dpi=dpi, size_mm=size_mm, height_mm=height_mm)
    out = io.BytesIO()
    # Z_RLE suits the long runs of white and black in a label: several times
    # faster than the default strategy for files a few percent larger.
    image.point(_TO_16_LEVELS).save(out, "PNG", bits=4, dpi=(dpi, dpi), compress_type=zlib.Z_RLE)
    return out.getvalue()
