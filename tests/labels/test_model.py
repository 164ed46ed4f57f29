from __future__ import annotations

import dataclasses

import pytest

from labels import KIND_NAMES, LabelInfo, kind_name
from labels.model import MAX_CODE_LENGTH, MAX_MANUFACTURER_LENGTH
from tests.labels.conftest import make_info


def test_the_five_kinds_have_printed_names() -> None:
    assert KIND_NAMES == {
        "battery_pack": "Battery pack",
        "battery_module": "Battery module",
        "battery_cell": "Battery cell",
        "pv_module": "PV module",
        "wind_blade": "Wind-turbine blade",
    }
    assert make_info(kind="pv_module").kind_name == "PV module"
    assert kind_name("wind_blade") == "Wind-turbine blade"


def test_label_info_is_frozen() -> None:
    info = make_info()
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.code = "X"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kind", "battery", "unknown item kind 'battery'"),
        ("kind", "Battery pack", "unknown item kind"),
        ("item_id", "itm-1", "item id"),
        ("item_id", "", "item id is empty"),
        ("code", "", "code is empty"),
        ("code", "   ", "code is empty"),
        ("code", " 03HPE1H", "leading or trailing spaces"),
        ("code", "03HPE1H\t", "control characters"),
        ("code", "X" * (MAX_CODE_LENGTH + 1), "at most"),
        ("manufacturer", "", "manufacturer is empty"),
        ("manufacturer", "CATL\nLtd", "control characters"),
        ("manufacturer", "M" * (MAX_MANUFACTURER_LENGTH + 1), "at most"),
    ],
)
def test_label_info_refuses_unprintable_values(field: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_info(**{field: value})


def test_label_info_accepts_non_latin_manufacturers() -> None:
    info = LabelInfo(
        item_id="itm_01JD8Z3K5V7W9XQRSTABCDEFGH",
        code="SN2024-000123",
        kind="pv_module",
        manufacturer="Société Générale d'Énergie Solaire",
    )
    assert info.manufacturer.startswith("Société")
