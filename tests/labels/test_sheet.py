"""PDF sheets and rolls: geometry checks, and every label on every page decodes."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from labels import SheetLayout, render_sheet_pdf
from tests.labels.conftest import BASE_URL, make_info, unavailable, url_of

Decode = Callable[[Image.Image], list[str]]
Rasterise = Callable[..., list[Path]]


def poppler(tool: str, *args: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        unavailable(f"{tool} is not installed (Debian package poppler-utils)")
    done = subprocess.run([exe, *args], capture_output=True, text=True, check=True, timeout=120)
    return done.stdout


def page_count(pdf: Path) -> int:
    match = re.search(r"^Pages:\s+(\d+)$", poppler("pdfinfo", str(pdf)), re.MULTILINE)
    assert match is not None
    return int(match.group(1))


def cells(page: Path, layout: SheetLayout, dpi: int) -> Iterator[Image.Image]:
    """Each label slot of a rasterised page, cropped, in slot order."""
    width, height = layout.label_size
    px = dpi / 25.4
    with Image.open(page) as image:
        grey = image.convert("L")
    for slot in range(layout.labels_per_page):
        left, top = layout.label_origin(slot)
        yield grey.crop(
            (
                round(left * px),
                round(top * px),
                round((left + width) * px),
                round((top + height) * px),
            )
        )


# -- layout ----------------------------------------------------------------------


def test_a4_preset_geometry() -> None:
    layout = SheetLayout.a4()
    assert (layout.page_width_mm, layout.page_height_mm) == (210.0, 297.0)
    assert layout.labels_per_page == 24
    width, height = layout.label_size
    assert width == pytest.approx((210 - 2 * 8 - 2 * 2) / 3)
    assert height == pytest.approx((297 - 2 * 8 - 7 * 2) / 8)
    assert layout.label_origin(0) == (8.0, 8.0)
    x, y = layout.label_origin(23)
    assert x + width == pytest.approx(210 - 8)
    assert y + height == pytest.approx(297 - 8)


def test_roll_preset_is_one_label_per_page() -> None:
    layout = SheetLayout.roll(50, 30)
    assert layout.labels_per_page == 1
    assert layout.label_size == (50.0, 30.0)
    assert (layout.page_width_mm, layout.page_height_mm) == (50.0, 30.0)
    assert layout.label_origin(0) == (0.0, 0.0)


def test_explicit_label_size_of_a_commercial_sheet() -> None:
    # 21 labels of 63.5 x 38.1 mm, 2.5 mm between columns, none between rows.
    layout = SheetLayout(
        columns=3,
        rows=7,
        label_width_mm=63.5,
        label_height_mm=38.1,
        margin_x_mm=7.25,
        margin_y_mm=15.15,
        gap_x_mm=2.5,
        gap_y_mm=0.0,
    )
    assert layout.label_size == (63.5, 38.1)
    assert layout.label_origin(20) == pytest.approx((7.25 + 2 * 66.0, 15.15 + 6 * 38.1))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SheetLayout(columns=0), "columns must be a whole number"),
        (lambda: SheetLayout(rows=-2), "rows must be a whole number"),
        (lambda: SheetLayout(columns=True), "columns must be a whole number"),
        (lambda: SheetLayout(columns=2.5), "columns must be a whole number"),  # type: ignore[arg-type]  # a float, on purpose
        (lambda: SheetLayout(page_width_mm=0), "page_width_mm must be a positive length"),
        (lambda: SheetLayout(page_height_mm=math.nan), "page_height_mm must be a positive"),
        (lambda: SheetLayout(margin_x_mm=-1), "margin_x_mm must be zero or a positive"),
        (lambda: SheetLayout(gap_y_mm=math.inf), "gap_y_mm must be zero or a positive"),
        (lambda: SheetLayout(label_width_mm=-5), "label_width_mm must be a positive"),
        (
            lambda: SheetLayout.a4(columns=20),
            r"20 columns with 8 mm margins and 2 mm gaps leave 7\.8 mm per label on a page "
            r"210 mm wide; a label needs at least 15 mm",
        ),
        (lambda: SheetLayout.a4(rows=40), "40 rows .* 297 mm tall"),
        (
            lambda: SheetLayout(columns=3, label_width_mm=70.0),
            r"3 columns of 70 mm labels with 8 mm margins and 2 mm gaps need 230\.0 mm, "
            r"but the page is 210 mm wide",
        ),
        (
            lambda: SheetLayout(rows=8, label_height_mm=40.0),
            "need 350.0 mm, but the page is 297 mm tall",
        ),
        (
            lambda: SheetLayout.roll(12, 40),
            "a label 12 mm wide is too small; a label needs at least 15 mm",
        ),
        (lambda: SheetLayout.roll(40, 14), "a label 14 mm tall is too small"),
        (
            lambda: SheetLayout(columns=1, page_width_mm=30, margin_x_mm=8),
            r"1 column with 8 mm margins and 2 mm gaps leaves 14\.0 mm per label",
        ),
        (lambda: SheetLayout.roll(16, 16), "16 x 16 mm labels are too small: .*QR symbol"),
        (lambda: SheetLayout.a4(columns=8, rows=16), "labels are too small"),
    ],
)
def test_layouts_that_do_not_fit_are_refused(make: Callable[[], SheetLayout], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_slot_outside_the_page() -> None:
    with pytest.raises(ValueError, match="slot 24"):
        SheetLayout.a4().label_origin(24)


# -- PDF ---------------------------------------------------------------------------


def test_thirty_label_a4_sheet_decodes_every_label_exactly_once(
    tmp_path: Path,
    artifacts: Path,
    pdftoppm: Rasterise,
    zbarimg: Callable[[Path], list[str]],
    decode: Decode,
) -> None:
    infos = [make_info(n) for n in range(30)]
    layout = SheetLayout.a4()
    pdf = tmp_path / "sheet.pdf"
    pdf.write_bytes(render_sheet_pdf(infos, BASE_URL, layout))
    (artifacts / "a4-sheet.pdf").write_bytes(pdf.read_bytes())
    assert page_count(pdf) == 2

    pages = pdftoppm(pdf, dpi=200)
    assert len(pages) == 2
    (artifacts / "a4-sheet-page-1.png").write_bytes(pages[0].read_bytes())
    found: list[str | None] = []
    for page in pages:
        for cell in cells(page, layout, 200):
            texts = decode(cell)
            assert len(texts) <= 1
            found.append(texts[0] if texts else None)
    # Slots are filled in order; the last 18 slots of page 2 stay blank.
    assert found == [url_of(info) for info in infos] + [None] * 18

    # Whole pages through the zbarimg command: nothing misread, nothing twice.
    # (zbar can miss a symbol in a dense grid, so this is not the count check.)
    whole = [text for page in pages for text in zbarimg(page)]
    assert len(whole) == len(set(whole))
    assert set(whole) <= {url_of(info) for info in infos}
    assert len(whole) >= 20


def test_sheet_text_is_real_text() -> None:
    infos = [make_info(n) for n in range(5)]
    with_text = render_sheet_pdf(infos, BASE_URL, SheetLayout.a4())
    exe = shutil.which("pdftotext")
    if exe is None:
        unavailable("pdftotext is not installed (Debian package poppler-utils)")
    text = subprocess.run(
        [exe, "-", "-"], input=with_text, capture_output=True, check=True, timeout=60
    ).stdout.decode("utf-8")
    for info in infos:
        assert info.code in text
        assert info.kind_name in text


def test_roll_prints_one_label_per_page(
    tmp_path: Path, artifacts: Path, pdftoppm: Rasterise, zbarimg: Callable[[Path], list[str]]
) -> None:
    infos = [make_info(n) for n in range(5)]
    pdf = tmp_path / "roll.pdf"
    pdf.write_bytes(render_sheet_pdf(infos, BASE_URL, SheetLayout.roll(50, 30)))
    pages = pdftoppm(pdf, dpi=300)
    assert len(pages) == 5
    (artifacts / "roll-50x30mm.png").write_bytes(pages[0].read_bytes())
    for info, page in zip(infos, pages, strict=True):
        with Image.open(page) as image:
            # 50 x 30 mm at 300 dpi is 590.6 x 354.3 pixels; pdftoppm rounds up.
            assert image.size in {(591, 354), (591, 355)}
        assert zbarimg(page) == [url_of(info)]


def test_tall_roll_label(
    tmp_path: Path, pdftoppm: Rasterise, zbarimg: Callable[[Path], list[str]]
) -> None:
    info = make_info(7, manufacturer="LONGi Green Energy Technology Co., Ltd.")
    pdf = tmp_path / "tall.pdf"
    pdf.write_bytes(render_sheet_pdf([info], BASE_URL, SheetLayout.roll(40, 60)))
    (page,) = pdftoppm(pdf, dpi=200)
    assert zbarimg(page) == [url_of(info)]


def test_progress_counts_labels_and_input_is_read_once() -> None:
    calls: list[int] = []
    produced = 0

    def labels() -> Iterator[object]:
        nonlocal produced
        for n in range(50):
            produced += 1
            yield make_info(n)

    render_sheet_pdf(labels(), BASE_URL, SheetLayout.a4(), progress=calls.append)  # type: ignore[arg-type]
    assert calls == list(range(1, 51))
    assert produced == 50


def test_same_labels_give_the_same_bytes() -> None:
    infos = [make_info(n) for n in range(3)]
    first = render_sheet_pdf(infos, BASE_URL, SheetLayout.a4())
    assert first.startswith(b"%PDF-")
    assert render_sheet_pdf(infos, BASE_URL, SheetLayout.a4()) == first


def test_no_labels_is_an_error() -> None:
    with pytest.raises(ValueError, match="no labels"):
        render_sheet_pdf([], BASE_URL, SheetLayout.a4())


def test_bad_base_url_is_refused() -> None:
    with pytest.raises(ValueError, match="base URL"):
        render_sheet_pdf([make_info()], "ftp://example.org", SheetLayout.a4())


def test_url_too_long_for_small_labels_is_refused() -> None:
    base = "https://retrace.example.org/" + "x" * 300
    with pytest.raises(ValueError, match="per module"):
        render_sheet_pdf([make_info()], base, SheetLayout.a4(columns=4, rows=10))


def test_thousand_label_sheet_is_whole(tmp_path: Path, pdftoppm: Rasterise, decode: Decode) -> None:
    # Its speed is measured in bench/labels.py, not asserted here.
    layout = SheetLayout.a4()
    infos = (make_info(n) for n in range(1000))
    data = render_sheet_pdf(infos, BASE_URL, layout)
    pdf = tmp_path / "thousand.pdf"
    pdf.write_bytes(data)
    assert page_count(pdf) == math.ceil(1000 / 24)
    # The last page holds labels 984..999 in its first 16 slots.
    (page,) = pdftoppm(pdf, dpi=200, pages=(42, 42))
    found = [decode(cell) for cell in cells(page, layout, 200)]
    assert found == [[url_of(make_info(n))] for n in range(984, 1000)] + [[]] * 8


def test_sheet_without_dejavu_uses_builtin_pdf_fonts(
    tmp_path: Path, pdftoppm: Rasterise, decode: Decode
) -> None:
    pdf = tmp_path / "builtin.pdf"
    script = (
        "import sys, labels.fonts as f\n"
        "f.FONT_DIRS = ()\n"
        "from labels import SheetLayout, render_sheet_pdf\n"
        "from tests.labels.conftest import make_info, BASE_URL\n"
        "infos = [make_info(n) for n in range(3)]\n"
        "open(sys.argv[1], 'wb').write(render_sheet_pdf(infos, BASE_URL, SheetLayout.a4()))\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", script, str(pdf)], check=True, cwd=root, timeout=120)
    assert b"Courier-Bold" in pdf.read_bytes()
    (page,) = pdftoppm(pdf, dpi=200)
    found = [decode(cell) for cell in cells(page, SheetLayout.a4(), 200)][:3]
    assert found == [[url_of(make_info(n))] for n in range(3)]
