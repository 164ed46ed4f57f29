from __future__ import annotations

import string
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.codes import (
    BATTERY_KINDS,
    LAST_YEAR,
    BatteryCode,
    make_battery_code,
    normalize_code,
    parse_battery_code,
    validate_code,
    validate_serial,
)
from ledger.errors import InvalidCodeError

# 03H manufacturer, P pack, B LFP, spec A1, traceability 0000001, 2020-02-29, serial 42.
GOOD = "03HPBA10000001A2T0000042"
NCM = "ternary lithium (nickel cobalt manganese)"


def _with(code: str, position: int, text: str) -> str:
    """Replace characters starting at a 1-based position."""
    index = position - 1
    return code[:index] + text + code[index + len(text) :]


def _refusal(code: str, kind: str | None = "battery_pack") -> InvalidCodeError:
    with pytest.raises(InvalidCodeError) as info:
        parse_battery_code(code, kind)
    return info.value


def test_good_code_decodes_every_field() -> None:
    decoded = parse_battery_code(GOOD, "battery_pack")
    assert decoded == BatteryCode(
        code=GOOD,
        manufacturer="03H",
        product_type="P",
        product_type_name="pack",
        battery_type="B",
        battery_type_name="lithium iron phosphate",
        specification="A1",
        traceability="0000001",
        production_date=date(2020, 2, 29),
        serial="0000042",
    )
    assert decoded.describe()["production_date"] == "2020-02-29"
    assert all(isinstance(value, str) for value in decoded.describe().values())


@pytest.mark.parametrize(
    ("code", "kind", "field", "expected"),
    [
        (GOOD, "battery_pack", "product_type_name", "pack"),
        (_with(GOOD, 4, "M"), "battery_module", "product_type_name", "module"),
        (_with(GOOD, 4, "C"), "battery_cell", "product_type_name", "cell"),
        (_with(GOOD, 4, "C"), None, "product_type", "C"),
        (
            _with(GOOD, 5, "E"),
            None,
            "battery_type_name",
            "ternary lithium (nickel cobalt manganese)",
        ),
        (_with(GOOD, 5, "X"), None, "battery_type_name", "unknown"),
        (_with(GOOD, 15, "011"), None, "production_date", "2010-01-01"),
        (_with(GOOD, 15, "9CV"), None, "production_date", "2019-12-31"),
        (_with(GOOD, 15, "A11"), None, "production_date", "2020-01-01"),
        (_with(GOOD, 15, "B1A"), None, "production_date", "2021-01-10"),
        (_with(GOOD, 15, "EAA"), None, "production_date", "2024-10-10"),
        (_with(GOOD, 15, "F7V"), None, "production_date", "2025-07-31"),
        (_with(GOOD, 15, "C2S"), None, "production_date", "2022-02-28"),
        (_with(GOOD, 15, "62T"), None, "production_date", "2016-02-29"),
        (_with(GOOD, 15, "ZCV"), None, "production_date", f"{LAST_YEAR}-12-31"),
        (_with(GOOD, 18, "9999999"), None, "serial", "9999999"),
        (_with(GOOD, 18, "0000001"), None, "serial", "0000001"),
    ],
)
def test_valid_codes(code: str, kind: str | None, field: str, expected: str) -> None:
    assert parse_battery_code(code, kind).describe()[field] == expected


@pytest.mark.parametrize(
    ("code", "kind", "position", "phrase"),
    [
        # length
        (GOOD[:-1], None, 24, "code is 23 characters; a GB/T 34014 code has 24"),
        (GOOD + "1", None, 25, "code is 25 characters"),
        ("", None, 1, "code is empty"),
        (f" {GOOD}", None, 25, "remove the spaces around it"),
        # character set, one per field
        (_with(GOOD, 1, "0-"), None, 2, "position 2 (manufacturer code) is '-'"),
        (_with(GOOD, 3, "h"), None, 3, "lowercase 'h'"),
        (_with(GOOD, 5, "b"), None, 5, "position 5 (battery type) is lowercase 'b'"),
        (_with(GOOD, 6, " "), None, 6, "position 6 (specification code) is a space"),
        (_with(GOOD, 10, "\u00c9"), None, 10, "position 10 (traceability code) is 'É'"),
        (_with(GOOD, 14, "\t"), None, 14, "invisible character U+0009"),
        (_with(GOOD, 15, "a"), None, 15, "position 15 (production date) is lowercase 'a'"),
        # product type
        (_with(GOOD, 4, "X"), None, 4, "position 4 (product type) is 'X'; expected P (pack)"),
        (_with(GOOD, 4, "p"), None, 4, "lowercase 'p'"),
        # kind mismatch
        (_with(GOOD, 4, "M"), "battery_pack", 4, "position 4 says module (M) but the item is a"),
        (GOOD, "battery_cell", 4, "position 4 says pack (P) but the item is a battery_cell (C)"),
        # production date
        (
            _with(GOOD, 15, "9D1"),
            None,
            16,
            "positions 15-17 (production date) '9D1' encode 2019-13-01, which is not a date:"
            " month 'D' is not 1-9 or A-C",
        ),
        (_with(GOOD, 15, "A01"), None, 16, "encode 2020-00-01"),
        (_with(GOOD, 15, "A1W"), None, 17, "day 'W' is not 1-9 or A-V"),
        (_with(GOOD, 15, "A10"), None, 17, "encode 2020-01-00"),
        (_with(GOOD, 15, "A2U"), None, 17, "February 2020 has 29 days"),
        (_with(GOOD, 15, "B2T"), None, 17, "encode 2021-02-29, which is not a date"),
        (_with(GOOD, 15, "44V"), None, 17, "April 2014 has 30 days"),
        # serial
        (_with(GOOD, 18, "12A4567"), None, 20, "position 20 (serial number) is 'A'"),
        (_with(GOOD, 18, "0000000"), None, 18, "starts at 0000001"),
    ],
)
def test_invalid_codes(code: str, kind: str | None, position: int, phrase: str) -> None:
    refusal = _refusal(code, kind)
    assert refusal.position == position
    assert phrase in refusal.detail
    assert refusal.describe()["position"] == position


def test_first_bad_position_is_reported() -> None:
    code = _with(_with(GOOD, 4, "M"), 20, "X")
    assert _refusal(code, "battery_pack").position == 4


def test_kind_that_has_no_battery_code_is_refused() -> None:
    assert "does not carry a GB/T 34014 code" in _refusal(GOOD, "pv_module").detail


def test_lowercase_is_refused_but_normalize_code_fixes_hand_typed_input() -> None:
    typed = f"  {GOOD.lower()}\n"
    assert _refusal(typed.strip(), None).position == 3
    assert normalize_code(typed) == GOOD
    assert parse_battery_code(normalize_code(typed)).code == GOOD


def test_make_battery_code_builds_the_sample() -> None:
    code = make_battery_code("03H", "P", "B", "A1", "0000001", date(2020, 2, 29), 42)
    assert code == GOOD
    assert make_battery_code("03H", "P", "B", "A1", "0000001", date(2020, 2, 29), "0000042") == GOOD


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"manufacturer": "03"}, ValueError),
        ({"traceability": "123"}, ValueError),
        ({"production_date": date(2009, 12, 31)}, ValueError),
        ({"production_date": date(LAST_YEAR + 1, 1, 1)}, ValueError),
        ({"serial": 0}, ValueError),
        ({"serial": 10_000_000}, ValueError),
        ({"serial": True}, ValueError),
        ({"serial": "42"}, ValueError),
        ({"serial": "00000A1"}, InvalidCodeError),
        ({"product_type": "X"}, InvalidCodeError),
        ({"manufacturer": "03h"}, InvalidCodeError),
    ],
)
def test_make_battery_code_refuses_bad_fields(
    overrides: dict[str, object], error: type[Exception]
) -> None:
    fields: dict[str, object] = {
        "manufacturer": "03H",
        "product_type": "P",
        "battery_type": "B",
        "specification": "A1",
        "traceability": "0000001",
        "production_date": date(2020, 2, 29),
        "serial": 42,
    }
    fields.update(overrides)
    with pytest.raises(error):
        make_battery_code(**fields)  # type: ignore[arg-type]


_CODE_CHARS = string.digits + string.ascii_uppercase


def _text(length: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=_CODE_CHARS, min_size=length, max_size=length)


@given(
    manufacturer=_text(3),
    product_type=st.sampled_from("PMC"),
    battery_type=_text(1),
    specification=_text(2),
    traceability=_text(7),
    production_date=st.dates(min_value=date(2010, 1, 1), max_value=date(LAST_YEAR, 12, 31)),
    serial=st.integers(min_value=1, max_value=9_999_999),
)
def test_make_then_parse_round_trips(
    manufacturer: str,
    product_type: str,
    battery_type: str,
    specification: str,
    traceability: str,
    production_date: date,
    serial: int,
) -> None:
    code = make_battery_code(
        manufacturer,
        product_type,
        battery_type,
        specification,
        traceability,
        production_date,
        serial,
    )
    kind = next(k for k, letter in BATTERY_KINDS.items() if letter == product_type)
    decoded = parse_battery_code(code, kind)
    assert len(code) == 24
    assert (
        decoded.manufacturer,
        decoded.product_type,
        decoded.battery_type,
        decoded.specification,
        decoded.traceability,
        decoded.production_date,
        int(decoded.serial),
    ) == (
        manufacturer,
        product_type,
        battery_type,
        specification,
        traceability,
        production_date,
        serial,
    )


@given(
    kind=st.sampled_from(sorted(BATTERY_KINDS)),
    letter=st.characters(min_codepoint=0x21, max_codepoint=0x7E),
)
def test_changing_position_4_is_refused_or_changes_product_type(kind: str, letter: str) -> None:
    original = _with(GOOD, 4, BATTERY_KINDS[kind])
    mutated = _with(original, 4, letter)
    if mutated == original:
        return
    with pytest.raises(InvalidCodeError) as info:
        parse_battery_code(mutated, kind)
    assert info.value.position == 4
    if letter in "PMC":
        assert parse_battery_code(mutated).product_type == letter != BATTERY_KINDS[kind]
    else:
        assert _refusal(mutated, None).position == 4


@pytest.mark.parametrize("serial", ["A", "JA4BC-2023.11/07_x", "x" * 64, "SN-000123"])
@pytest.mark.parametrize("kind", ["pv_module", "wind_blade"])
def test_valid_serials(kind: str, serial: str) -> None:
    assert validate_serial(serial, kind) == serial
    assert validate_code(kind, serial) is None


@pytest.mark.parametrize(
    ("serial", "position", "phrase"),
    [
        ("", 1, "serial is empty"),
        ("x" * 65, 65, "serial is 65 characters; at most 64"),
        ("SN 123", 3, "position 3 of the serial is a space"),
        (" SN123", 1, "position 1 of the serial is a space"),
        ("SN123\n", 6, "invisible character U+000A"),
        ("SN#123", 3, "position 3 of the serial is '#'"),
        ("SN\u00e9", 3, "letters, digits and - _ . /"),
    ],
)
def test_invalid_serials(serial: str, position: int, phrase: str) -> None:
    with pytest.raises(InvalidCodeError) as info:
        validate_serial(serial, "pv_module")
    assert info.value.position == position
    assert phrase in info.value.detail


def test_validate_serial_refuses_battery_kinds() -> None:
    with pytest.raises(InvalidCodeError, match="does not use a manufacturer serial"):
        validate_serial("SN123", "battery_pack")


def test_validate_code_dispatches_by_kind() -> None:
    described = validate_code("battery_pack", GOOD)
    assert described is not None
    assert described["product_type_name"] == "pack"
    with pytest.raises(InvalidCodeError) as info:
        validate_code("battery_module", GOOD)
    assert info.value.position == 4
    with pytest.raises(InvalidCodeError, match="unknown item kind 'tyre'"):
        validate_code("tyre", GOOD)
