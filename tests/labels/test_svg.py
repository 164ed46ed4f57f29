"""SVG labels: well-formed, text as text, and they decode once rasterised."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from labels import render_svg
from tests.labels.conftest import BASE_URL, make_info, url_of

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input


def test_svg_is_well_formed_and_print_sized() -> None:
    root = parse(render_svg(make_info(0), BASE_URL))
    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == (
        "50mm",
        "50mm",
        "0 0 50 50",
    )
    assert len(root.findall(f"{SVG}path")) == 1  # the whole symbol in one path


def test_text_lines_are_svg_text() -> None:
    info = make_info(1)
    root = parse(render_svg(info, BASE_URL))
    assert [t.text for t in root.findall(f"{SVG}text")] == [
        info.code,
        "Battery module",
        "Vestas Wind Systems A/S",
    ]


def test_markup_in_text_is_escaped() -> None:
    info = make_info(0, manufacturer='A&B <Batteries> "GmbH"')
    svg = render_svg(info, BASE_URL)
    root = parse(svg)
    assert root.findall(f"{SVG}text")[-1].text == 'A&B <Batteries> "GmbH"'
    assert "<Batteries>" not in svg


def test_url_is_in_the_description() -> None:
    info = make_info(2)
    root = parse(render_svg(info, BASE_URL))
    assert root.findtext(f"{SVG}desc") == url_of(info)


@pytest.mark.parametrize(
    ("n", "width", "height"), [(0, 50.0, None), (1, 30.0, None), (3, 70.0, 35.0)]
)
def test_rasterised_svg_decodes_to_exactly_the_url(
    n: int,
    width: float,
    height: float | None,
    tmp_path: Path,
    artifacts: Path,
    rsvg_convert: Callable[..., Path],
    zbarimg: Callable[[Path], list[str]],
    decode: Callable[[Image.Image], list[str]],
) -> None:
    info = make_info(n)
    svg = tmp_path / f"label-{n}.svg"
    svg.write_text(render_svg(info, BASE_URL, size_mm=width, height_mm=height), encoding="utf-8")
    png = rsvg_convert(svg, dpi=300)
    with Image.open(png) as image:
        expected_width = round(width / 25.4 * 300)
        assert abs(image.width - expected_width) <= 1
        assert decode(image.convert("L")) == [url_of(info)]
    assert zbarimg(png) == [url_of(info)]
    if n == 3:
        (artifacts / "wide-70x35mm-svg.png").write_bytes(png.read_bytes())
        (artifacts / "wide-70x35mm.svg").write_bytes(svg.read_bytes())


def test_too_small_svg_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        render_svg(make_info(), BASE_URL, size_mm=10)
