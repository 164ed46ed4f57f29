"""SVG labels: the symbol as one vector path, the text lines as ``<text>``.

This module owns the SVG document of one label. Its user unit is the
millimetre (``viewBox`` in mm, ``width``/``height`` in mm), so it prints at
its true size from a browser or a vector editor. The symbol is a single
``<path>`` with one rectangle per horizontal run of dark modules; text stays
text (selectable, searchable), set in DejaVu with common fallbacks. The
arrangement comes from ``labels.layout``.
"""

from __future__ import annotations

from typing import Final
from xml.sax.saxutils import escape, quoteattr

from labels.fonts import FontRole
from labels.layout import LabelPlan, module_size_mm, plan_label
from labels.model import LabelInfo
from labels.qr import QUIET_ZONE, QrSymbol, encode_qr
from labels.urls import label_url

__all__ = ["render_svg"]

_FONT_FAMILY: Final[dict[FontRole, str]] = {
    "code": "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace",
    "kind": "'DejaVu Sans', Verdana, Arial, Helvetica, sans-serif",
    "maker": "'DejaVu Sans', Verdana, Arial, Helvetica, sans-serif",
}
_FONT_WEIGHT: Final[dict[FontRole, str]] = {"code": "bold", "kind": "bold", "maker": "normal"}


def _num(value: float) -> str:
    """Millimetres with 3 decimals (a micrometre), without trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _symbol_path(plan: LabelPlan, symbol: QrSymbol) -> str:
    module = module_size_mm(plan, symbol.size_with_quiet_zone)
    origin_x = plan.qr_x_mm + QUIET_ZONE * module
    origin_y = plan.qr_y_mm + QUIET_ZONE * module
    # Path coordinates are in modules; the transform scales them to mm.
    d = "".join(f"M{c} {r}h{n}v1h-{n}z" for r, c, n in symbol.dark_runs())
    return (
        f'<path transform="translate({_num(origin_x)} {_num(origin_y)}) scale({_num(module)})" '
        f'fill="#000" shape-rendering="crispEdges" d="{d}"/>'
    )


def _text_elements(plan: LabelPlan) -> list[str]:
    elements = []
    for line in plan.lines:
        anchor = "middle" if line.align == "center" else "start"
        elements.append(
            f'<text x="{_num(line.x_mm)}" y="{_num(line.baseline_mm)}" '
            f'font-family="{_FONT_FAMILY[line.role]}" font-size="{_num(line.size_mm)}" '
            f'font-weight="{_FONT_WEIGHT[line.role]}" text-anchor="{anchor}" '
            f'fill="#000">{escape(line.text)}</text>'
        )
    return elements


def render_svg(
    info: LabelInfo, base_url: str, *, size_mm: float = 50.0, height_mm: float | None = None
) -> str:
    """An SVG label whose QR symbol encodes ``label_url(base_url, info.item_id)``.

    The label is ``size_mm`` wide and ``height_mm`` (default: ``size_mm``) tall.

    Raises:
        ValueError: bad item id or base URL, or a label too small to carry a
            symbol and legible text.
    """
    height = size_mm if height_mm is None else height_mm
    url = label_url(base_url, info.item_id)
    plan = plan_label(info, size_mm, height)
    width_s, height_s = _num(size_mm), _num(height)
    title = f"{info.kind_name} {info.code} ({info.manufacturer})"
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
        f'width="{width_s}mm" height="{height_s}mm" viewBox="0 0 {width_s} {height_s}" '
        f'role="img" aria-label={quoteattr(title)}>',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(url)}</desc>",
        f'<rect width="{width_s}" height="{height_s}" fill="#fff"/>',
        _symbol_path(plan, encode_qr(url)),
        *_text_elements(plan),
        "</svg>",
    ]
    return "\n".join(parts) + "\n"
