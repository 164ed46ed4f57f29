"""Item codes: the GB/T 34014-2017 battery code and the manufacturer serials.

This module owns the rules a natural item code must follow before an item can be
registered, and the decoding of a battery code into the fields shown with the
item (product type, battery type, production date, serial). It is pure: values
in, a value or an ``InvalidCodeError`` out. Uniqueness of a code, and whether a
production date lies in the future, need the store and the clock, so they are
checked by the caller.

Battery code (GB/T 34014-2017 "Coding regulation for automotive traction
battery", clause 4.3, code structure), 24 characters, positions 1-based:

==========  ====================================================================
1-3         manufacturer code (assigned through the national coding filing system)
4           product type: ``P`` pack, ``M`` module, ``C`` cell
5           battery type (chemistry)
6-7         specification code (filed by the manufacturer)
8-14        traceability information code (filed by the manufacturer)
15-17       production date: year, month, day, one character each
18-24       serial number of that day's production, 7 digits
==========  ====================================================================

Character set: clause 3.1 defines the code as "a set of numbers and English
letters". Whether the standard excludes look-alike letters (I, O, Q) from the
free fields could not be confirmed from the text available to us, so every
position accepts digits and uppercase Latin letters A-Z unless a narrower table
applies (product type, month, day, serial). Lowercase is refused, not folded:
``normalize_code`` is the explicit step for hand-typed input.
"""

from __future__ import annotations

import calendar
import string
from dataclasses import dataclass
from datetime import date

from ledger.errors import InvalidCodeError

BATTERY_CODE_LENGTH = 24

BATTERY_KINDS: dict[str, str] = {
    "battery_pack": "P",
    "battery_module": "M",
    "battery_cell": "C",
}

SERIAL_KINDS: frozenset[str] = frozenset({"pv_module", "wind_blade"})

SERIAL_MAX_LENGTH = 64

_PRODUCT_TYPE_NAMES: dict[str, str] = {"P": "pack", "M": "module", "C": "cell"}

# Battery type code (position 5). Only the letters below were confirmed from
# published descriptions of the standard's battery-type table (B = lithium iron
# phosphate, E = ternary nickel-cobalt-manganese). Other letters are accepted,
# since the table has further entries, and are shown as "unknown" rather than
# guessed.
_BATTERY_TYPE_NAMES: dict[str, str] = {
    "B": "lithium iron phosphate",
    "E": "ternary lithium (nickel cobalt manganese)",
}

_ALLOWED = frozenset(string.digits + string.ascii_uppercase)

# Production date (positions 15-17). Year: 0-9 are 2010-2019, then letters from
# A = 2020 in alphabetical order. No skipped letters (such as I, O, Q) could be
# confirmed for the standard's year table, so the letters run consecutively to
# Z = 2045; under either reading the codes up to H = 2027 are the same.
_BASE_YEAR = 2010
_YEAR_SYMBOLS = string.digits + string.ascii_uppercase
_MONTH_SYMBOLS = "123456789ABC"  # January .. December
_DAY_SYMBOLS = "123456789ABCDEFGHIJKLMNOPQRSTUV"  # 1 .. 31
FIRST_YEAR = _BASE_YEAR
LAST_YEAR = _BASE_YEAR + len(_YEAR_SYMBOLS) - 1

# Manufacturer serials for PV modules and blades: printable, unambiguous in a
# URL path segment and a label, and free of whitespace a scanner may add.
_SERIAL_ALLOWED = frozenset(string.ascii_letters + string.digits + "-_./")

_FIELDS: tuple[tuple[int, int, str], ...] = (
    (1, 3, "manufacturer code"),
    (4, 4, "product type"),
    (5, 5, "battery type"),
    (6, 7, "specification code"),
    (8, 14, "traceability code"),
    (15, 17, "production date"),
    (18, 24, "serial number"),
)


@dataclass(frozen=True)
class BatteryCode:
    """A GB/T 34014-2017 battery code, checked and decoded."""

    code: str
    manufacturer: str
    product_type: str
    product_type_name: str
    battery_type: str
    battery_type_name: str
    specification: str
    traceability: str
    production_date: date
    serial: str

    def describe(self) -> dict[str, str]:
        """The decoded fields as JSON-ready strings (date in ISO 8601)."""
        return {
            "code": self.code,
            "manufacturer": self.manufacturer,
            "product_type": self.product_type,
            "product_type_name": self.product_type_name,
            "battery_type": self.battery_type,
            "battery_type_name": self.battery_type_name,
            "specification": self.specification,
            "traceability": self.traceability,
            "production_date": self.production_date.isoformat(),
            "serial": self.serial,
        }


def normalize_code(text: str) -> str:
    """Tidy hand-typed or scanned input: strip surrounding whitespace, uppercase.

    Call this explicitly where a person types a code; ``parse_battery_code``
    itself refuses lowercase so that stored codes are always canonical.
    """
    return text.strip().upper()


def _field_name(position: int) -> str:
    for first, last, name in _FIELDS:
        if first <= position <= last:
            return name
    return "field"


def _show(char: str) -> str:
    if char == " ":
        return "a space"
    if not char.isprintable():
        return f"the invisible character U+{ord(char):04X}"
    return f"'{char}'"


def _check_length(code: str) -> None:
    length = len(code)
    if length == BATTERY_CODE_LENGTH:
        return
    if length == 0:
        raise InvalidCodeError(
            f"code is empty; a GB/T 34014 code has {BATTERY_CODE_LENGTH} characters",
            position=1,
        )
    detail = f"code is {length} characters; a GB/T 34014 code has {BATTERY_CODE_LENGTH}"
    if len(code.strip()) == BATTERY_CODE_LENGTH:
        detail += " (remove the spaces around it)"
    first_bad = BATTERY_CODE_LENGTH + 1 if length > BATTERY_CODE_LENGTH else length + 1
    raise InvalidCodeError(detail, position=first_bad, length=length)


def _check_characters(code: str) -> None:
    for index, char in enumerate(code):
        if char in _ALLOWED:
            continue
        position = index + 1
        where = f"position {position} ({_field_name(position)})"
        if char in string.ascii_lowercase:
            raise InvalidCodeError(
                f"{where} is lowercase '{char}'; codes use capital letters only"
                f" (it should read '{char.upper()}')",
                position=position,
            )
        raise InvalidCodeError(
            f"{where} is {_show(char)}; only digits 0-9 and capital letters A-Z are allowed",
            position=position,
        )


def _symbol_value(char: str) -> int:
    """A digit or letter read as 0-9, A=10 .. Z=35 (used only to explain errors)."""
    return int(char, 36)


def _decode_date(text: str) -> date:
    year_char, month_char, day_char = text[0], text[1], text[2]
    year = _BASE_YEAR + _YEAR_SYMBOLS.index(year_char)
    month_value = _MONTH_SYMBOLS.find(month_char) + 1 or _symbol_value(month_char)
    day_value = _DAY_SYMBOLS.find(day_char) + 1 or _symbol_value(day_char)
    encoded = f"{year:04d}-{month_value:02d}-{day_value:02d}"
    lead = f"positions 15-17 (production date) '{text}' encode {encoded}, which is not a date:"
    if month_char not in _MONTH_SYMBOLS:
        raise InvalidCodeError(
            f"{lead} month '{month_char}' is not 1-9 or A-C (A-C are October-December)",
            position=16,
        )
    if day_char not in _DAY_SYMBOLS:
        raise InvalidCodeError(
            f"{lead} day '{day_char}' is not 1-9 or A-V (A-V are days 10-31)",
            position=17,
        )
    days_in_month = calendar.monthrange(year, month_value)[1]
    if day_value > days_in_month:
        raise InvalidCodeError(
            f"{lead} {calendar.month_name[month_value]} {year} has {days_in_month} days",
            position=17,
        )
    return date(year, month_value, day_value)


def parse_battery_code(code: str, kind: str | None = None) -> BatteryCode:
    """Check a GB/T 34014-2017 battery code and decode its fields.

    Args:
        code: the 24-character code exactly as it will be stored (uppercase,
            no surrounding whitespace; see ``normalize_code``).
        kind: the item kind (``battery_pack``, ``battery_module`` or
            ``battery_cell``); when given, position 4 must agree with it.

    Returns:
        The decoded ``BatteryCode``.

    Raises:
        InvalidCodeError: the code breaks a rule. ``detail`` names the
            position(s) and the rule in plain words; ``position`` is the first
            bad position (1-based).
    """
    if kind is not None and kind not in BATTERY_KINDS:
        raise InvalidCodeError(
            f"item kind '{kind}' does not carry a GB/T 34014 code; expected one of "
            + ", ".join(BATTERY_KINDS),
            kind=kind,
        )
    _check_length(code)
    _check_characters(code)

    product_type = code[3]
    if product_type not in _PRODUCT_TYPE_NAMES:
        raise InvalidCodeError(
            f"position 4 (product type) is '{product_type}'; expected P (pack), M (module)"
            " or C (cell)",
            position=4,
        )
    if kind is not None and BATTERY_KINDS[kind] != product_type:
        expected = BATTERY_KINDS[kind]
        raise InvalidCodeError(
            f"position 4 says {_PRODUCT_TYPE_NAMES[product_type]} ({product_type}) but the"
            f" item is a {kind} ({expected})",
            position=4,
            kind=kind,
        )
    production_date = _decode_date(code[14:17])
    serial = code[17:24]
    for offset, char in enumerate(serial):
        if not char.isdigit():
            position = 18 + offset
            raise InvalidCodeError(
                f"position {position} (serial number) is '{char}'; positions 18-24 are"
                " the day's serial number and must be digits 0-9",
                position=position,
            )
    if serial == "0000000":
        raise InvalidCodeError(
            "positions 18-24 (serial number) are 0000000; the serial number of the day"
            " starts at 0000001",
            position=18,
        )
    battery_type = code[4]
    return BatteryCode(
        code=code,
        manufacturer=code[0:3],
        product_type=product_type,
        product_type_name=_PRODUCT_TYPE_NAMES[product_type],
        battery_type=battery_type,
        battery_type_name=_BATTERY_TYPE_NAMES.get(battery_type, "unknown"),
        specification=code[5:7],
        traceability=code[7:14],
        production_date=production_date,
        serial=serial,
    )


def _require_field(value: object, length: int, name: str) -> str:
    if not isinstance(value, str) or len(value) != length:
        raise ValueError(f"{name} must be {length} character(s), got {value!r}")
    return value


def make_battery_code(
    manufacturer: str,
    product_type: str,
    battery_type: str,
    specification: str,
    traceability: str,
    production_date: date,
    serial: int | str,
) -> str:
    """Build a GB/T 34014-2017 code from its fields (the inverse of parsing).

    Args:
        manufacturer: 3 characters. product_type: ``P``, ``M`` or ``C``.
        battery_type: 1 character. specification: 2. traceability: 7.
        production_date: a date from 2010-01-01 to the last encodable year.
        serial: 1-9999999, or a string of 7 digits.

    Returns:
        The 24-character code, already checked by ``parse_battery_code``.

    Raises:
        ValueError: a field has the wrong length or type, or the date or
            serial is out of range.
        InvalidCodeError: a field has the right length but breaks the code's
            character rules (for example lowercase or a product type other
            than P, M or C).
    """
    fields = (
        _require_field(manufacturer, 3, "manufacturer"),
        _require_field(product_type, 1, "product_type"),
        _require_field(battery_type, 1, "battery_type"),
        _require_field(specification, 2, "specification"),
        _require_field(traceability, 7, "traceability"),
    )
    if not FIRST_YEAR <= production_date.year <= LAST_YEAR:
        raise ValueError(
            f"production_date {production_date.isoformat()} cannot be encoded;"
            f" years {FIRST_YEAR}-{LAST_YEAR} can"
        )
    if isinstance(serial, bool):
        raise ValueError("serial must be an int or a 7-digit string, not a bool")
    if isinstance(serial, int):
        if not 1 <= serial <= 9_999_999:
            raise ValueError(f"serial must be 1-9999999, got {serial}")
        serial_text = f"{serial:07d}"
    else:
        serial_text = _require_field(serial, 7, "serial")
    date_text = (
        _YEAR_SYMBOLS[production_date.year - _BASE_YEAR]
        + _MONTH_SYMBOLS[production_date.month - 1]
        + _DAY_SYMBOLS[production_date.day - 1]
    )
    code = "".join(fields) + date_text + serial_text
    parse_battery_code(code)
    return code


def validate_serial(code: str, kind: str) -> str:
    """Check a manufacturer serial used as the code of a PV module or blade.

    Args:
        code: the serial as stored: 1-64 characters of letters, digits and
            ``-``, ``_``, ``.``, ``/``, with no whitespace.
        kind: ``pv_module`` or ``wind_blade``.

    Returns:
        The serial, unchanged.

    Raises:
        InvalidCodeError: the kind does not use serials, or the serial breaks
            a rule; ``position`` is the first bad position (1-based).
    """
    if kind not in SERIAL_KINDS:
        raise InvalidCodeError(
            f"item kind '{kind}' does not use a manufacturer serial; expected one of "
            + ", ".join(sorted(SERIAL_KINDS)),
            kind=kind,
        )
    if not code:
        raise InvalidCodeError("serial is empty; enter the manufacturer's serial", position=1)
    if len(code) > SERIAL_MAX_LENGTH:
        raise InvalidCodeError(
            f"serial is {len(code)} characters; at most {SERIAL_MAX_LENGTH} are allowed",
            position=SERIAL_MAX_LENGTH + 1,
            length=len(code),
        )
    for index, char in enumerate(code):
        if char not in _SERIAL_ALLOWED:
            position = index + 1
            raise InvalidCodeError(
                f"position {position} of the serial is {_show(char)}; a serial may only"
                " contain letters, digits and - _ . /",
                position=position,
            )
    return code


def validate_code(kind: str, code: str) -> dict[str, str] | None:
    """Check an item's natural code against the scheme of its kind.

    Returns:
        For battery kinds, the decoded fields (``BatteryCode.describe``); for
        PV modules and blades, ``None``.

    Raises:
        InvalidCodeError: the code breaks its scheme, or the kind is unknown.
    """
    if kind in BATTERY_KINDS:
        return parse_battery_code(code, kind).describe()
    if kind in SERIAL_KINDS:
        validate_serial(code, kind)
        return None
    known = ", ".join([*BATTERY_KINDS, *sorted(SERIAL_KINDS)])
    raise InvalidCodeError(f"unknown item kind '{kind}'; expected one of {known}", kind=kind)


def code_scope(kind: str, manufacturer: str) -> str:
    """Where a code must be unique: GB/T 34014 codes carry their maker and are
    unique per kind; PV and blade serials only per manufacturer (DESIGN.md)."""
    return "" if kind in BATTERY_KINDS else manufacturer
