"""Printable PDF label sheets: many labels per page, or one per page on a roll.

This module owns the page geometry (``SheetLayout``: page size, grid, margins,
gaps, or a roll label's size) with its checks, and the PDF drawing. Each
symbol is drawn as vector rectangles straight from the module matrix, one
per run of dark modules in a single filled path, so a sheet of thousands of
labels stays small and quick to make and prints sharp at any resolution.
Label content and arrangement come from ``labels.layout``.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Final

from reportlab import rl_config
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from labels.fonts import FONT_FILES, FontRole, font_path
from labels.layout import MIN_LABEL_MM, module_size_mm, plan_label
from labels.model import LabelInfo
from labels.qr import QUIET_ZONE, encode_qr
from labels.urls import label_url, normalize_base_url

__all__ = ["A4_MM", "SheetLayout", "render_sheet_pdf"]

#: ISO 216 A4 portrait, in mm.
A4_MM: Final = (210.0, 297.0)
_PT_PER_MM: Final = 72 / 25.4
# Built-in PDF fonts used when DejaVu is not installed (no embedding needed).
_BUILTIN_FONTS: Final[dict[FontRole, str]] = {
    "code": "Courier-Bold",
    "kind": "Helvetica-Bold",
    "maker": "Helvetica",
}
# A label of typical content, used to check a layout before printing.
_SAMPLE = LabelInfo(
    item_id="itm_01JD8Z3K5V7W9XQRSTABCDEFGH",
    code="ABCP0E0000000A1B0000001X",
    kind="wind_blade",
    manufacturer="Example Manufacturing Co., Ltd.",
)


def _fmt(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class SheetLayout:
    """Where labels go on the page.

    A sheet is a grid of ``columns`` x ``rows`` labels on a page, filled left
    to right, top to bottom, starting at the top-left margin. Without an
    explicit ``label_width_mm``/``label_height_mm``, the space inside the
    margins is shared equally between the labels, less the gaps. A roll is a
    page the size of one label (see ``roll``).

    All lengths are in millimetres.

    Raises:
        ValueError: a count is not a whole number from 1 up, a length is not
            finite or negative, or the labels do not fit on the page or are
            too small to print.
    """

    page_width_mm: float = A4_MM[0]
    page_height_mm: float = A4_MM[1]
    columns: int = 3
    rows: int = 8
    margin_x_mm: float = 8.0
    margin_y_mm: float = 8.0
    gap_x_mm: float = 2.0
    gap_y_mm: float = 2.0
    label_width_mm: float | None = None
    label_height_mm: float | None = None

    @classmethod
    def a4(
        cls, columns: int = 3, rows: int = 8, *, margin_mm: float = 8.0, gap_mm: float = 2.0
    ) -> SheetLayout:
        """An A4 sheet of ``columns`` x ``rows`` equal labels."""
        return cls(
            page_width_mm=A4_MM[0],
            page_height_mm=A4_MM[1],
            columns=columns,
            rows=rows,
            margin_x_mm=margin_mm,
            margin_y_mm=margin_mm,
            gap_x_mm=gap_mm,
            gap_y_mm=gap_mm,
        )

    @classmethod
    def roll(cls, width_mm: float, height_mm: float) -> SheetLayout:
        """Roll labels for a label printer: one label per page, page = label."""
        return cls(
            page_width_mm=width_mm,
            page_height_mm=height_mm,
            columns=1,
            rows=1,
            margin_x_mm=0.0,
            margin_y_mm=0.0,
            gap_x_mm=0.0,
            gap_y_mm=0.0,
        )

    def __post_init__(self) -> None:
        for name in ("columns", "rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
        for name in ("page_width_mm", "page_height_mm", "label_width_mm", "label_height_mm"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value <= 0):
                raise ValueError(f"{name} must be a positive length, not {value!r}")
        for name in ("margin_x_mm", "margin_y_mm", "gap_x_mm", "gap_y_mm"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be zero or a positive length, not {value!r}")
        self._check_axis(
            "wide", self.page_width_mm, self.columns, "column", self.margin_x_mm, self.gap_x_mm,
            self.label_width_mm,
        )  # fmt: skip
        self._check_axis(
            "tall", self.page_height_mm, self.rows, "row", self.margin_y_mm, self.gap_y_mm,
            self.label_height_mm,
        )  # fmt: skip
        width, height = self.label_size
        try:
            plan_label(_SAMPLE, width, height)
        except ValueError as exc:
            raise ValueError(
                f"{_fmt(width)} x {_fmt(height)} mm labels are too small: {exc}"
            ) from exc

    @staticmethod
    def _check_axis(
        extent: str,
        page: float,
        count: int,
        unit: str,
        margin: float,
        gap: float,
        label: float | None,
    ) -> None:
        spacing = f"{_fmt(margin)} mm margins and {_fmt(gap)} mm gaps"
        units = f"{count} {unit}{'s' if count > 1 else ''}"
        if label is None:
            share = (page - 2 * margin - (count - 1) * gap) / count
            if share < MIN_LABEL_MM:
                needs = f"a label needs at least {_fmt(MIN_LABEL_MM)} mm"
                if count == 1 and margin == 0:
                    raise ValueError(f"a label {_fmt(share)} mm {extent} is too small; {needs}")
                leave = "leave" if count > 1 else "leaves"
                raise ValueError(
                    f"{units} with {spacing} {leave} {share:.1f} mm per label on a page "
                    f"{_fmt(page)} mm {extent}; {needs}"
                )
            return
        needed = 2 * margin + count * label + (count - 1) * gap
        if needed > page + 1e-6:
            raise ValueError(
                f"{units} of {_fmt(label)} mm labels with {spacing} need {needed:.1f} mm, "
                f"but the page is {_fmt(page)} mm {extent}"
            )

    @property
    def label_size(self) -> tuple[float, float]:
        """Width and height of one label, in mm."""
        width = self.label_width_mm
        if width is None:
            usable = self.page_width_mm - 2 * self.margin_x_mm
            width = (usable - (self.columns - 1) * self.gap_x_mm) / self.columns
        height = self.label_height_mm
        if height is None:
            usable = self.page_height_mm - 2 * self.margin_y_mm
            height = (usable - (self.rows - 1) * self.gap_y_mm) / self.rows
        return width, height

    @property
    def labels_per_page(self) -> int:
        """How many labels one page holds."""
        return self.columns * self.rows

    def label_origin(self, slot: int) -> tuple[float, float]:
        """Top-left corner of the label in ``slot`` (0-based, row by row), in mm
        from the page's top-left corner."""
        if not 0 <= slot < self.labels_per_page:
            raise ValueError(f"slot {slot} is not on a page of {self.labels_per_page} labels")
        row, column = divmod(slot, self.columns)
        width, height = self.label_size
        return (
            self.margin_x_mm + column * (width + self.gap_x_mm),
            self.margin_y_mm + row * (height + self.gap_y_mm),
        )


_RL_CONFIG_LOCK = threading.Lock()


@contextmanager
def _binary_streams() -> Iterator[None]:
    """Write compressed streams without the ASCII85 wrapping reportlab adds.

    ASCII85 only keeps a PDF 7-bit clean; it makes streams a quarter larger
    and, without reportlab's optional C accelerator, costs about a second per
    thousand labels. reportlab reads the switch from its global config while
    saving, so it is flipped under a lock and restored.
    """
    with _RL_CONFIG_LOCK:
        saved = rl_config.useA85
        rl_config.useA85 = 0
        try:
            yield
        finally:
            rl_config.useA85 = saved


@cache
def _pdf_font(role: FontRole) -> str:
    """Name of a reportlab font for ``role``: DejaVu (embedded) when installed."""
    path = font_path(role)
    if path is None:
        return _BUILTIN_FONTS[role]
    name = "Retrace-" + FONT_FILES[role].removesuffix(".ttf")
    try:
        pdfmetrics.registerFont(TTFont(name, str(path)))
    except Exception:  # reportlab raises its own TTFError and others for unusable files
        return _BUILTIN_FONTS[role]
    return name


def _measure(text: str, role: FontRole, size_mm: float) -> float:
    # String width is linear in size, so sizes in mm give widths in mm.
    return float(pdfmetrics.stringWidth(text, _pdf_font(role), size_mm))


def _draw_label(
    canvas: Canvas, info: LabelInfo, url: str, origin: tuple[float, float], layout: SheetLayout
) -> None:
    """Draw one label whose top-left corner is ``origin`` (mm from the page's)."""
    width, height = layout.label_size
    plan = plan_label(info, width, height, measure=_measure)
    symbol = encode_qr(url)
    module = module_size_mm(plan, symbol.size_with_quiet_zone)
    k = _PT_PER_MM
    left = origin[0]
    # PDF measures y upwards from the bottom edge; the layout downwards from the top.
    top = layout.page_height_mm - origin[1]
    x0 = (left + plan.qr_x_mm + QUIET_ZONE * module) * k
    y0 = (top - plan.qr_y_mm - QUIET_ZONE * module) * k
    # In module units with y pointing down, as in the matrix, a run (row r,
    # column c, length n) is the rectangle "c r n 1 re"; all runs are filled
    # as one path so no seams show between neighbouring rows.
    runs = "".join(f"{c} {r} {n} 1 re\n" for r, c, n in symbol.dark_runs())
    scale = module * k
    canvas.addLiteral(f"q\n{scale:.5f} 0 0 {-scale:.5f} {x0:.3f} {y0:.3f} cm\n{runs}f\nQ")
    for line in plan.lines:
        canvas.setFont(_pdf_font(line.role), line.size_mm * k)
        x = (left + line.x_mm) * k
        y = (top - line.baseline_mm) * k
        if line.align == "center":
            canvas.drawCentredString(x, y, line.text)
        else:
            canvas.drawString(x, y, line.text)


def render_sheet_pdf(
    labels: Iterable[LabelInfo],
    base_url: str,
    layout: SheetLayout,
    *,
    progress: Callable[[int], None] | None = None,
) -> bytes:
    """A PDF of ``labels`` placed by ``layout``, in the order given.

    Each label's QR symbol encodes ``label_url(base_url, info.item_id)``.
    ``labels`` is read once, so a generator of thousands of items works;
    ``progress`` is called with the number of labels drawn so far after each
    one.

    Raises:
        ValueError: no labels, a bad base URL, or a URL too long for a
            printable symbol on labels of this size.
    """
    base = normalize_base_url(base_url)
    page_w, page_h = layout.page_width_mm, layout.page_height_mm
    out = io.BytesIO()
    # invariant: no creation date or random document id, so the same labels
    # always give the same bytes.
    canvas = Canvas(
        out,
        pagesize=(page_w * _PT_PER_MM, page_h * _PT_PER_MM),
        pageCompression=1,
        invariant=1,
    )
    canvas.setTitle("Retrace labels")
    canvas.setCreator("Retrace")
    per_page = layout.labels_per_page
    count = 0
    for info in labels:
        slot = count % per_page
        if count and slot == 0:
            canvas.showPage()
        _draw_label(canvas, info, label_url(base, info.item_id), layout.label_origin(slot), layout)
        count += 1
        if progress is not None:
            progress(count)
    if count == 0:
        raise ValueError("no labels to print")
    canvas.showPage()
    with _binary_streams():
        canvas.save()
    return out.getvalue()
