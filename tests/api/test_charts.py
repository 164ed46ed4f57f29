"""The SVG charts of ``api.charts``: well-formed XML whatever the labels, figures drawn exactly."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

from api.charts import (
    Bar,
    Mark,
    Rate,
    Series,
    bar_chart,
    line_chart,
    rate_chart,
    stacked_columns,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "</svg><script>alert(1)</script> & \"quoted\" 'x'"


def _parse(text: str) -> ET.Element:
    svg = ET.fromstring(text)  # noqa: S314 -- drawn by us, parsed to prove it well-formed
    assert svg.tag == f"{SVG}svg"
    assert "<script" not in text
    assert "style" not in text  # the page policy refuses inline styles
    return svg


def test_labels_are_escaped_and_read_back_whole() -> None:
    svg = _parse(bar_chart("c", HOSTILE, [Bar(HOSTILE, 3, "#row-1")]))
    assert svg.findtext(f"{SVG}title") == HOSTILE
    rect = next(svg.iter(f"{SVG}rect"))
    assert (rect.get("data-label"), rect.get("data-value")) == (HOSTILE, "3")
    link = next(svg.iter(f"{SVG}a"))
    assert link.get("href") == "#row-1"
    assert link.findtext(f"{SVG}title") == f"{HOSTILE}: 3"


def test_stacked_columns_stack_each_series() -> None:
    series = [Series("pack", [2, 0], ["#a", "#b"]), Series("cell", [3, 4])]
    svg = _parse(stacked_columns("c", "t", ["retired", "recycled"], series))
    rects = [r for r in svg.iter(f"{SVG}rect") if r.get("data-value")]
    drawn = {(r.get("data-category"), r.get("data-series")): r.get("data-value") for r in rects}
    assert drawn == {("retired", "pack"): "2", ("retired", "cell"): "3", ("recycled", "cell"): "4"}
    totals = [t.get("data-total") for t in svg.iter(f"{SVG}text") if t.get("data-total")]
    assert totals == ["5", "4"]
    # Heights are proportional: 2 and 3 of the same column add up to that column's 5.
    heights = {r.get("data-series"): float(str(r.get("height"))) for r in rects[:2]}
    assert abs(heights["pack"] * 3 - heights["cell"] * 2) < 0.2


def test_a_line_of_one_month_is_a_dot() -> None:
    svg = _parse(line_chart("c", "t", ["2026-03"], [Series("registered", [7])], ["#m"]))
    dots = list(svg.iter(f"{SVG}circle"))
    assert [d.get("data-value") for d in dots] == ["7"]
    assert list(svg.iter(f"{SVG}polyline")) == []


def test_rates_carry_their_targets() -> None:
    rates = [
        Rate("R li", Decimal("92.5"), [Mark("CN", Decimal(90), True, True)], "#r"),
        Rate("R ni", None, [Mark("EU", Decimal(95), False, None)]),
    ]
    svg = _parse(rate_chart("c", "t", rates))
    assert [r.get("data-rate") for r in svg.iter(f"{SVG}rect") if r.get("data-rate")] == ["92.5"]
    marks = [(m.get("data-target"), m.get("data-met")) for m in svg.iter(f"{SVG}line")]
    assert ("90", "met") in marks
    assert ("95", "unknown") in marks


def test_nothing_to_draw_says_so() -> None:
    for text in (
        bar_chart("c", "t", []),
        stacked_columns("c", "t", ["a"], [Series("s", [0])]),
        line_chart("c", "t", [], []),
        rate_chart("c", "t", []),
    ):
        assert _parse(text).findtext(f"{SVG}desc") == "No figures to draw yet."
