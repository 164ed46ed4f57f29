"""Where things go on one label, in millimetres, for every output format.

This module owns the arrangement of a label: the QR symbol box (quiet zone
included), and the three text lines — the code, the kind in words and the
manufacturer — with their sizes and positions. Square and tall labels put the
text under the symbol; wide labels (sheet cells, most roll stock) put it to
the right. PNG, SVG and PDF renderers all draw the same ``LabelPlan``, each
measuring text with its own font metrics.

Nothing is printed inside the quiet zone, and text never runs off the label:
a line too long for the space is set smaller, down to a legible minimum; past
that the code breaks onto a second line. A long manufacturer name goes onto
two lines between words rather than shrink much, and is shortened with an
ellipsis only when two lines at the smallest size cannot hold it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from labels.fonts import FontRole, measure_mm
from labels.model import LabelInfo

__all__ = [
    "MIN_LABEL_MM",
    "MIN_MODULE_MM",
    "MIN_TEXT_MM",
    "LabelPlan",
    "Measure",
    "TextLine",
    "module_size_mm",
    "plan_label",
]

#: Width of ``text`` in mm when set in ``role``'s font at an em of ``size`` mm.
Measure = Callable[[str, FontRole, float], float]

#: Smallest label side that still carries a scannable symbol and legible text.
MIN_LABEL_MM: Final = 15.0
#: Smallest printed module: three dots of a 300 dpi printer, two of a 203 dpi one.
MIN_MODULE_MM: Final = 0.25
#: Smallest em size for printed text: about 4.5 pt, the floor for small print.
MIN_TEXT_MM: Final = 1.6

# Line box is 1.2 em; the baseline sits 0.93 em below the top of the box
# (DejaVu's ascender), leaving room for descenders below it.
_LINE_HEIGHT: Final = 1.2
_ASCENT: Final = 0.93
# Wide labels: width over height from which text goes beside the symbol.
_WIDE_RATIO: Final = 1.3
# Share of a wide label's width the symbol may take; the rest is text.
_WIDE_QR_SHARE: Final = 0.45
# A manufacturer that would shrink below this share of its size on one line
# goes onto two lines instead.
_WRAP_BELOW: Final = 0.7
# Smallest symbol box (quiet zone included) worth printing.
_MIN_QR_MM: Final = 10.0
_ELLIPSIS: Final = "\N{HORIZONTAL ELLIPSIS}"


@dataclass(frozen=True)
class TextLine:
    """One printed line. ``x_mm`` is its centre or left end, per ``align``."""

    text: str
    role: FontRole
    size_mm: float
    x_mm: float
    baseline_mm: float
    align: Literal["center", "left"]
    width_mm: float


@dataclass(frozen=True)
class LabelPlan:
    """Positions on a label, in mm from its top-left corner.

    ``qr_x_mm``/``qr_y_mm``/``qr_side_mm`` give the square the symbol and its
    quiet zone occupy; a renderer divides ``qr_side_mm`` by the symbol's
    module count (quiet zone included) to get the module size.
    """

    width_mm: float
    height_mm: float
    qr_x_mm: float
    qr_y_mm: float
    qr_side_mm: float
    lines: tuple[TextLine, ...]


@dataclass(frozen=True)
class _Line:
    text: str
    role: FontRole
    size_mm: float
    width_mm: float


def _fit(text: str, role: FontRole, size_mm: float, room_mm: float, measure: Measure) -> _Line:
    width = measure(text, role, size_mm)
    if width > room_mm:
        size_mm *= room_mm / width
        width = measure(text, role, size_mm)
    return _Line(text, role, size_mm, width)


def _ellipsize(text: str, role: FontRole, room_mm: float, measure: Measure) -> _Line:
    line = _fit(text, role, MIN_TEXT_MM, math.inf, measure)
    while line.width_mm > room_mm and len(line.text) > 1:
        shorter = line.text[:-1] if line.text.endswith(_ELLIPSIS) else line.text
        shorter = shorter[:-1].rstrip() + _ELLIPSIS
        line = _fit(shorter, role, MIN_TEXT_MM, math.inf, measure)
    return line


def _code_lines(code: str, size_mm: float, room_mm: float, measure: Measure) -> list[_Line]:
    line = _fit(code, "code", size_mm, room_mm, measure)
    if line.size_mm >= MIN_TEXT_MM:
        return [line]
    half = math.ceil(len(code) / 2)
    parts = [code[:half], code[half:]]
    size = min(_fit(part, "code", size_mm, room_mm, measure).size_mm for part in parts)
    if size < MIN_TEXT_MM:
        raise ValueError(
            f"a label {room_mm:.1f} mm wide for text cannot show the code {code!r} legibly; "
            "use a larger label"
        )
    return [_fit(part, "code", size, room_mm, measure) for part in parts]


def _wrap_two(text: str, size_mm: float, room_mm: float, measure: Measure) -> list[_Line] | None:
    """The manufacturer on two lines split between words, as large as fits."""
    words = text.split(" ")
    best: tuple[float, int] | None = None
    for k in range(1, len(words)):
        halves = (" ".join(words[:k]), " ".join(words[k:]))
        size = min(_fit(half, "maker", size_mm, room_mm, measure).size_mm for half in halves)
        if best is None or size > best[0]:
            best = (size, k)
    if best is None:
        return None
    size, k = best
    if size >= MIN_TEXT_MM:
        halves = (" ".join(words[:k]), " ".join(words[k:]))
        return [_fit(half, "maker", size, room_mm, measure) for half in halves]
    # Even the best split is too small: fill the first line at the smallest
    # size, then shorten the rest.
    k = 0
    while (
        k < len(words)
        and _fit(" ".join(words[: k + 1]), "maker", MIN_TEXT_MM, math.inf, measure).width_mm
        <= room_mm
    ):
        k += 1
    if k == 0:
        return None
    first = _fit(" ".join(words[:k]), "maker", MIN_TEXT_MM, math.inf, measure)
    return [first, _ellipsize(" ".join(words[k:]), "maker", room_mm, measure)]


def _text_lines(info: LabelInfo, em_mm: float, room_mm: float, measure: Measure) -> list[_Line]:
    lines = _code_lines(info.code, em_mm, room_mm, measure)
    kind = _fit(info.kind_name, "kind", em_mm * 0.85, room_mm, measure)
    if kind.size_mm < MIN_TEXT_MM:
        kind = _ellipsize(info.kind_name, "kind", room_mm, measure)
    lines.append(kind)
    maker = _fit(info.manufacturer, "maker", em_mm * 0.85, room_mm, measure)
    if maker.size_mm < _WRAP_BELOW * em_mm * 0.85:
        two = _wrap_two(info.manufacturer, em_mm * 0.85, room_mm, measure)
        if two is not None and two[0].size_mm > maker.size_mm:
            return lines + two
    if maker.size_mm < MIN_TEXT_MM:
        maker = _ellipsize(info.manufacturer, "maker", room_mm, measure)
    lines.append(maker)
    return lines


def _place(
    lines: list[_Line], top_mm: float, x_mm: float, align: Literal["center", "left"]
) -> tuple[TextLine, ...]:
    placed = []
    for line in lines:
        placed.append(
            TextLine(
                text=line.text,
                role=line.role,
                size_mm=line.size_mm,
                x_mm=x_mm,
                baseline_mm=top_mm + _ASCENT * line.size_mm,
                align=align,
                width_mm=line.width_mm,
            )
        )
        top_mm += _LINE_HEIGHT * line.size_mm
    return tuple(placed)


def _block_height(lines: list[_Line]) -> float:
    return sum(_LINE_HEIGHT * line.size_mm for line in lines)


def plan_label(
    info: LabelInfo, width_mm: float, height_mm: float, measure: Measure = measure_mm
) -> LabelPlan:
    """Lay out ``info`` on a label ``width_mm`` wide and ``height_mm`` tall.

    Raises:
        ValueError: the label is smaller than ``MIN_LABEL_MM`` on a side, or
            too small for a printable symbol and legible code.
    """
    for name, value in (("width", width_mm), ("height", height_mm)):
        if not math.isfinite(value) or value < MIN_LABEL_MM:
            raise ValueError(
                f"label {name} {value} mm is too small; a label needs at least "
                f"{MIN_LABEL_MM:g} mm on each side"
            )
    pad = min(max(0.04 * min(width_mm, height_mm), 1.0), 3.0)
    if width_mm >= _WIDE_RATIO * height_mm:
        qr_side = min(height_mm - 2 * pad, _WIDE_QR_SHARE * width_mm)
        qr_x, qr_y = pad, (height_mm - qr_side) / 2
        text_x = qr_x + qr_side  # the quiet zone already separates text from symbol
        em = max(0.085 * height_mm, MIN_TEXT_MM)
        lines = _text_lines(info, em, width_mm - text_x - pad, measure)
        top = (height_mm - _block_height(lines)) / 2
        placed = _place(lines, top, text_x, "left")
    else:
        em = max(0.062 * min(width_mm, height_mm), MIN_TEXT_MM)
        lines = _text_lines(info, em, width_mm - 2 * pad, measure)
        block = _block_height(lines)
        qr_side = min(width_mm - 2 * pad, height_mm - 2 * pad - block)
        qr_x = (width_mm - qr_side) / 2
        qr_y = (height_mm - qr_side - block) / 2
        placed = _place(lines, qr_y + qr_side, width_mm / 2, "center")
    if qr_side < _MIN_QR_MM:
        raise ValueError(
            f"a {width_mm:g} x {height_mm:g} mm label leaves {qr_side:.1f} mm for the QR "
            f"symbol; at least {_MIN_QR_MM:g} mm is needed"
        )
    return LabelPlan(
        width_mm=width_mm,
        height_mm=height_mm,
        qr_x_mm=qr_x,
        qr_y_mm=qr_y,
        qr_side_mm=qr_side,
        lines=placed,
    )


def module_size_mm(plan: LabelPlan, modules_with_quiet_zone: int) -> float:
    """Module size when a symbol of that many modules fills the plan's QR box.

    Raises:
        ValueError: modules would be smaller than ``MIN_MODULE_MM``.
    """
    module = plan.qr_side_mm / modules_with_quiet_zone
    if module < MIN_MODULE_MM:
        raise ValueError(
            f"a {plan.width_mm:g} x {plan.height_mm:g} mm label gives a QR symbol of "
            f"{modules_with_quiet_zone} modules only {module:.2f} mm per module; at least "
            f"{MIN_MODULE_MM} mm is needed: use a larger label or a shorter base URL"
        )
    return module
