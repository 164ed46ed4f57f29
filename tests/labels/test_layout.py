from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labels import MIN_LABEL_MM, LabelInfo
from labels.layout import MIN_TEXT_MM, LabelPlan, module_size_mm, plan_label
from labels.model import KIND_NAMES, MAX_CODE_LENGTH
from tests.labels.conftest import make_info

# DejaVu's ascender and descender, in em.
ASCENT, DESCENT = 0.93, 0.24
EPS = 1e-6


def text_boxes(plan: LabelPlan) -> list[tuple[float, float, float, float]]:
    boxes = []
    for line in plan.lines:
        left = line.x_mm - line.width_mm / 2 if line.align == "center" else line.x_mm
        boxes.append(
            (
                left,
                line.baseline_mm - ASCENT * line.size_mm,
                left + line.width_mm,
                line.baseline_mm + DESCENT * line.size_mm,
            )
        )
    return boxes


def assert_sound(plan: LabelPlan) -> None:
    """Everything on the label, nothing in the QR box, text legible."""
    w, h = plan.width_mm, plan.height_mm
    qr = (
        plan.qr_x_mm,
        plan.qr_y_mm,
        plan.qr_x_mm + plan.qr_side_mm,
        plan.qr_y_mm + plan.qr_side_mm,
    )
    assert min(qr) >= -EPS
    assert qr[2] <= w + EPS
    assert qr[3] <= h + EPS
    for line, (x0, y0, x1, y1) in zip(plan.lines, text_boxes(plan), strict=True):
        assert line.size_mm >= MIN_TEXT_MM - EPS, line
        assert min(x0, y0) >= -EPS, line
        assert x1 <= w + EPS, line
        assert y1 <= h + EPS, line
        overlaps = x0 < qr[2] - EPS and x1 > qr[0] + EPS and y0 < qr[3] - EPS and y1 > qr[1] + EPS
        assert not overlaps, f"{line} runs into the QR box {qr}"


def test_square_label_puts_text_under_the_symbol() -> None:
    plan = plan_label(make_info(0), 50, 50)
    assert_sound(plan)
    assert [line.text for line in plan.lines] == [
        "03HPE1H0000010ZB1V000000",
        "Battery pack",
        "CATL",
    ]
    assert all(line.align == "center" for line in plan.lines)
    assert plan.lines[0].baseline_mm > plan.qr_y_mm + plan.qr_side_mm
    assert plan.qr_side_mm > 30


def test_wide_label_puts_text_beside_the_symbol() -> None:
    plan = plan_label(make_info(1), 63.3, 33.4)
    assert_sound(plan)
    assert all(line.align == "left" for line in plan.lines)
    assert all(line.x_mm >= plan.qr_x_mm + plan.qr_side_mm for line in plan.lines)


def test_code_is_set_largest() -> None:
    plan = plan_label(make_info(0), 50, 50)
    code, kind, _ = plan.lines
    assert code.size_mm > kind.size_mm
    assert code.size_mm > 2.5  # about 7 pt on a 50 mm label


def test_long_manufacturer_goes_onto_two_lines() -> None:
    info = make_info(0, manufacturer="LONGi Green Energy Technology Co., Ltd.")
    plan = plan_label(info, 63.3, 33.4)
    assert_sound(plan)
    texts = [line.text for line in plan.lines]
    assert texts[2:] == ["LONGi Green Energy", "Technology Co., Ltd."]


def test_manufacturer_too_long_even_for_two_lines_is_shortened() -> None:
    info = make_info(0, manufacturer="Manufacturer " * 15 + "End")
    plan = plan_label(info, 50, 50)
    assert_sound(plan)
    assert plan.lines[-1].text.endswith("\N{HORIZONTAL ELLIPSIS}")
    assert "End" not in plan.lines[-1].text


def test_manufacturer_without_spaces_is_shortened_on_one_line() -> None:
    info = make_info(0, manufacturer="X" * 120)
    plan = plan_label(info, 50, 50)
    assert_sound(plan)
    assert len(plan.lines) == 3
    assert plan.lines[-1].text.endswith("\N{HORIZONTAL ELLIPSIS}")


def test_longest_code_breaks_onto_two_lines_on_a_small_label() -> None:
    code = "ABCDEFGHJK" * 4 + "LMNPQRST"
    assert len(code) == MAX_CODE_LENGTH
    plan = plan_label(make_info(0, code=code), 40, 40)
    assert_sound(plan)
    assert plan.lines[0].text + plan.lines[1].text == code
    assert plan.lines[0].role == plan.lines[1].role == "code"


@pytest.mark.parametrize(("width", "height"), [(MIN_LABEL_MM - 0.1, 50), (50, 10), (0, 50)])
def test_labels_below_the_minimum_side_are_refused(width: float, height: float) -> None:
    with pytest.raises(ValueError, match="too small"):
        plan_label(make_info(), width, height)


def test_square_label_too_small_for_symbol_and_text() -> None:
    with pytest.raises(ValueError, match="QR symbol"):
        plan_label(make_info(), 16, 16)


def test_module_size_floor() -> None:
    plan = plan_label(make_info(), 30, 30)
    assert module_size_mm(plan, 45) > 0.25
    with pytest.raises(ValueError, match="per module"):
        module_size_mm(plan, 177 + 8)  # a version 40 symbol


codes = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E),
    min_size=1,
    max_size=MAX_CODE_LENGTH,
)
makers = st.text(
    alphabet=st.characters(codec="latin-1", categories=["L", "N", "P", "Zs"]),
    min_size=1,
    max_size=120,
).map(lambda s: " ".join(s.split()) or "M")


@settings(max_examples=150, deadline=None)
@given(
    code=codes,
    kind=st.sampled_from(sorted(KIND_NAMES)),
    maker=makers,
    width=st.floats(min_value=40, max_value=150),
    height=st.floats(min_value=40, max_value=150),
)
def test_any_label_from_40_mm_is_laid_out_soundly(
    code: str, kind: str, maker: str, width: float, height: float
) -> None:
    info = LabelInfo(item_id="itm_X", code=code, kind=kind, manufacturer=maker)
    assert_sound(plan_label(info, width, height))
