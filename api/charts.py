"""SVG charts drawn on the server: bars, stacked columns, monthly lines, rates against targets.

Owns pure functions from figures to one ``<svg>`` element as text, inline in a page:
no script, no style attribute or element (the page policy forbids inline styles), no
font or image fetched; colours are presentation attributes, text is escaped, and
the drawing scales with its ``viewBox``. Each chart names itself for assistive
technology (``role="img"``, ``<title>`` and ``<desc>`` with the figures), each mark
carries a ``<title>`` with its exact figure and, when given, links (``<a href>``)
to the table row it comes from. Every mark also carries its figure in ``data-*``
attributes, so a test reads the drawing back. What the figures are is
``api.dashboard``'s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

__all__ = [
    "PALETTE",
    "Bar",
    "Mark",
    "Rate",
    "Series",
    "bar_chart",
    "line_chart",
    "rate_chart",
    "stacked_columns",
]

# Okabe and Ito's palette: told apart with the common colour-vision deficiencies.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#8c7a00", "#000")
_INK, _MUTED, _GRID = "#1d2b24", "#5b6b63", "#e5ebe8"
_MET, _MISSED = "#1f7a4d", "#a12a2a"
_WIDTH = 640
_FONT = 'font-family="system-ui, sans-serif"'


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its figure and the row it links to."""

    label: str
    value: int
    href: str | None = None


@dataclass(frozen=True)
class Series:
    """One named series of figures, one per category (or month), with their links."""

    name: str
    values: Sequence[int]
    hrefs: Sequence[str | None] = ()


@dataclass(frozen=True)
class Mark:
    """A target on a rate bar: ``pct`` set by ``label``; ``met`` None when unknown."""

    label: str
    pct: Decimal
    in_force: bool
    met: bool | None


@dataclass(frozen=True)
class Rate:
    """A rate in percent (None: nothing to compare with) and the targets it answers to."""

    label: str
    pct: Decimal | None
    marks: Sequence[Mark] = ()
    href: str | None = None


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _num(value: float) -> str:
    """A coordinate, short: at most one decimal."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(chart_id: str, title: str, desc: str, height: float, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{_e(chart_id)}" '
        f'viewBox="0 0 {_WIDTH} {_num(height)}" role="img" '
        f'aria-labelledby="{_e(chart_id)}-title {_e(chart_id)}-desc" {_FONT} font-size="12">'
        f'<title id="{_e(chart_id)}-title">{_e(title)}</title>'
        f'<desc id="{_e(chart_id)}-desc">{_e(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _linked(href: str | None, label: str, inner: str) -> str:
    """``inner`` inside a link to ``href`` (a tooltip ``<title>`` either way)."""
    tip = f"<title>{_e(label)}</title>"
    if href is None:
        return f"<g>{tip}{inner}</g>"
    return f'<a href="{_e(href)}" aria-label="{_e(label)}">{tip}{inner}</a>'


def _empty(chart_id: str, title: str) -> str:
    text = f'<text x="{_WIDTH // 2}" y="34" text-anchor="middle" fill="{_MUTED}">Nothing yet</text>'
    return _svg(chart_id, title, "No figures to draw yet.", 60, [text])


def _nice_top(peak: int) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at or above ``peak``."""
    if peak <= 1:
        return 1
    power: int = 10 ** math.floor(math.log10(peak))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= peak)


def _legend(series: Sequence[Series], y: float) -> list[str]:
    out, x = [], 0.0
    for index, one in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        out.append(
            f'<rect x="{_num(x)}" y="{_num(y - 10)}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{_num(x + 16)}" y="{_num(y)}" fill="{_INK}">{_e(one.name)}</text>'
        )
        x += 26 + 7 * len(one.name)
    return out


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar]) -> str:
    """Horizontal bars, one per label, each with its figure at its end."""
    if not bars:
        return _empty(chart_id, title)
    label_w, figure_w, row = 180, 70, 28
    scale = (_WIDTH - label_w - figure_w) / max(max(b.value for b in bars), 1)
    body = []
    for index, bar in enumerate(bars):
        y = 8 + index * row
        width = bar.value * scale
        inner = (
            f'<text x="{label_w - 8}" y="{_num(y + 13)}" text-anchor="end" fill="{_INK}">'
            f"{_e(_short(bar.label, 26))}</text>"
            f'<rect x="{label_w}" y="{y}" width="{_num(max(width, 1))}" height="18" '
            f'fill="{PALETTE[0]}" data-label="{_e(bar.label)}" data-value="{bar.value}"/>'
            f'<text x="{_num(label_w + width + 6)}" y="{_num(y + 13)}" fill="{_INK}">'
            f"{bar.value}</text>"
        )
        body.append(_linked(bar.href, f"{bar.label}: {bar.value}", inner))
    desc = "; ".join(f"{b.label}: {b.value}" for b in bars)
    return _svg(chart_id, title, desc, 16 + len(bars) * row, body)


def _value_axis(top: int, left: float, y0: float, height: float) -> list[str]:
    out = []
    # Counts: a middle line only where it falls on a whole number.
    for step in (0, 0.5, 1) if top % 2 == 0 else (0, 1):
        y = y0 + height - height * step
        figure = top * step
        text = _num(figure) if figure != int(figure) else str(int(figure))
        out.append(
            f'<line x1="{_num(left)}" x2="{_WIDTH}" y1="{_num(y)}" y2="{_num(y)}" '
            f'stroke="{_GRID}"/><text x="{_num(left - 6)}" y="{_num(y + 4)}" '
            f'text-anchor="end" fill="{_MUTED}">{text}</text>'
        )
    return out


def stacked_columns(
    chart_id: str, title: str, categories: Sequence[str], series: Sequence[Series]
) -> str:
    """One column per category, stacked from each series' figure for it."""
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    if not categories or not any(totals):
        return _empty(chart_id, title)
    left, top_y, plot_h = 44, 34, 200
    top = _nice_top(max(totals))
    step = (_WIDTH - left) / len(categories)
    body = [*_legend(series, 14), *_value_axis(top, left, top_y, plot_h)]
    for index, category in enumerate(categories):
        x = left + index * step + step * 0.2
        base = float(top_y + plot_h)
        for number, one in enumerate(series):
            value = one.values[index]
            if not value:
                continue
            height = plot_h * value / top
            base -= height
            href = one.hrefs[index] if index < len(one.hrefs) else None
            rect = (
                f'<rect x="{_num(x)}" y="{_num(base)}" width="{_num(step * 0.6)}" '
                f'height="{_num(height)}" fill="{PALETTE[number % len(PALETTE)]}" '
                f'data-category="{_e(category)}" data-series="{_e(one.name)}" '
                f'data-value="{value}"/>'
            )
            body.append(_linked(href, f"{category}, {one.name}: {value}", rect))
        centre = x + step * 0.3
        body.append(
            f'<text x="{_num(centre)}" y="{_num(base - 4)}" text-anchor="middle" '
            f'fill="{_INK}" data-total="{totals[index]}">{totals[index]}</text>'
            f'<text x="{_num(centre)}" y="{top_y + plot_h + 16}" text-anchor="middle" '
            f'fill="{_INK}" font-size="11">{_e(_short(category, 13))}</text>'
        )
    desc = "; ".join(f"{c}: {t}" for c, t in zip(categories, totals, strict=True))
    return _svg(chart_id, title, desc, top_y + plot_h + 26, body)


def line_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    hrefs: Sequence[str | None] = (),
) -> str:
    """One line per series over ``labels`` (months, in order), a dot per figure."""
    if not labels:
        return _empty(chart_id, title)
    left, top_y, plot_h, right = 44, 34, 180, 16
    top = _nice_top(max((v for s in series for v in s.values), default=0))
    step = (_WIDTH - left - right) / max(len(labels) - 1, 1)
    every = math.ceil(len(labels) / 12)

    def x_of(index: int) -> float:
        return left + index * step if len(labels) > 1 else left + (_WIDTH - left - right) / 2

    body = [*_legend(series, 14), *_value_axis(top, left, top_y, plot_h)]
    for index, label in enumerate(labels):
        if index % every == 0:
            body.append(
                f'<text x="{_num(x_of(index))}" y="{top_y + plot_h + 16}" '
                f'text-anchor="middle" fill="{_INK}" font-size="11">{_e(label)}</text>'
            )
    for number, one in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        points = [(x_of(i), top_y + plot_h - plot_h * v / top) for i, v in enumerate(one.values)]
        if len(points) > 1:
            path = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
            body.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for index, (x, y) in enumerate(points):
            value = one.values[index]
            dot = (
                f'<circle cx="{_num(x)}" cy="{_num(y)}" r="4" fill="{colour}" '
                f'data-series="{_e(one.name)}" data-category="{_e(labels[index])}" '
                f'data-value="{value}"/>'
            )
            href = hrefs[index] if index < len(hrefs) else None
            body.append(_linked(href, f"{labels[index]}, {one.name}: {value}", dot))
    desc = "; ".join(
        f"{one.name}: " + ", ".join(f"{m} {v}" for m, v in zip(labels, one.values, strict=True))
        for one in series
    )
    return _svg(chart_id, title, desc, top_y + plot_h + 26, body)


def _mark(mark: Mark, x: float, y: float) -> str:
    colour = _MUTED if mark.met is None else _MET if mark.met else _MISSED
    verdict = "unknown" if mark.met is None else "met" if mark.met else "not met"
    force = "" if mark.in_force else ", not yet in force"
    dash = "" if mark.in_force else ' stroke-dasharray="3 2"'
    tip = f"{mark.label} target {mark.pct}%: {verdict}{force}"
    return (
        f"<g><title>{_e(tip)}</title>"
        f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{_num(y - 3)}" y2="{_num(y + 21)}" '
        f'stroke="{colour}" stroke-width="3"{dash} data-target="{mark.pct}" '
        f'data-regime="{_e(mark.label)}" data-met="{_e(verdict)}"/></g>'
    )


def rate_chart(chart_id: str, title: str, rates: Sequence[Rate]) -> str:
    """Horizontal bars of rates in percent, each crossed by the marks of its targets."""
    if not rates:
        return _empty(chart_id, title)
    label_w, figure_w, row, top_y = 230, 70, 32, 22
    highest = max([Decimal(100), *(r.pct for r in rates if r.pct is not None)])
    scale = (_WIDTH - label_w - figure_w) / float(highest)
    body = [
        f'<text x="{label_w}" y="12" fill="{_MUTED}" font-size="11">0%</text>'
        f'<text x="{_num(label_w + 100 * scale)}" y="12" text-anchor="middle" '
        f'fill="{_MUTED}" font-size="11">100%</text>'
        f'<line x1="{_num(label_w + 100 * scale)}" x2="{_num(label_w + 100 * scale)}" '
        f'y1="16" y2="{top_y + len(rates) * row}" stroke="{_GRID}"/>'
    ]
    for index, rate in enumerate(rates):
        y = top_y + index * row
        label = (
            f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end" fill="{_INK}">'
            f"{_e(_short(rate.label, 30))}</text>"
        )
        if rate.pct is None:
            inner = (
                f'{label}<text x="{label_w}" y="{y + 13}" fill="{_MUTED}" data-rate="">'
                "no declared content</text>"
            )
            tip = f"{rate.label}: no declared content to compare with"
        else:
            width = float(rate.pct) * scale
            inner = (
                f'{label}<rect x="{label_w}" y="{y}" width="{_num(max(width, 1))}" '
                f'height="18" fill="{PALETTE[4]}" data-label="{_e(rate.label)}" '
                f'data-rate="{rate.pct}"/><text x="{_num(label_w + max(width, 100 * scale) + 6)}"'
                f' y="{y + 13}" fill="{_INK}">{rate.pct}%</text>'
            )
            tip = f"{rate.label}: {rate.pct}%"
        body.append(_linked(rate.href, tip, inner))
        body.extend(_mark(mark, label_w + float(mark.pct) * scale, y) for mark in rate.marks)
    desc = "; ".join(
        f"{r.label}: " + ("no declared content" if r.pct is None else f"{r.pct}%") for r in rates
    )
    return _svg(chart_id, title, desc, top_y + len(rates) * row + 4, body)
