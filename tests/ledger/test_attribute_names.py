"""Attribute names are kept exactly as sent: no two names merge into one."""

from __future__ import annotations

from ledger.events import Registration, parse_model


def test_names_differing_only_in_surrounding_whitespace_stay_apart() -> None:
    attributes = {" a": 1, "a": 2, "a ": 3, "\u2028": 4, "\u3000x": 5}
    reg = parse_model(
        Registration, {"kind": "pv_module", "code": "PV-NAMES-1", "attributes": attributes}
    )
    assert reg.attributes == attributes
