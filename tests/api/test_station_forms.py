"""The scan station's event forms are the event registry's payload schemas, made for people."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from api.routes.station import FORMS, field_label
from ledger.registry import EVENTS, RECORDABLE


def _forms() -> dict[str, dict[str, Any]]:
    return {form["type"]: form for form in FORMS["events"]}


def test_every_recordable_event_has_a_form_in_the_registry_order() -> None:
    assert [form["type"] for form in FORMS["events"]] == list(RECORDABLE)
    for form in FORMS["events"]:
        spec = EVENTS[form["type"]]
        assert form["label"] == spec.label
        assert form["to"] == (spec.rule.to_state if spec.rule and spec.rule.to_state else None)
        # Self-contained: the page reads it without resolving references.
        assert "$ref" not in json.dumps(form["schema"])


@pytest.mark.parametrize("event_type", RECORDABLE)
def test_a_form_takes_its_events_example_and_refuses_what_the_ledger_refuses(
    event_type: str,
) -> None:
    schema = _forms()[event_type]["schema"]
    check = jsonschema.Draft202012Validator(schema)
    check.validate(dict(EVENTS[event_type].example))
    assert not check.is_valid({**EVENTS[event_type].example, "unknown": "x"})


def test_decimal_fields_say_so_and_carry_their_unit_and_example() -> None:
    forms = _forms()
    recycled = forms["recycled"]["schema"]["properties"]
    line = recycled["recovered"]["items"]["properties"]
    assert line["mass_kg"]["title"] == "Mass (kg)"
    assert line["mass_kg"]["format"] == "decimal"
    assert line["mass_kg"]["examples"] == ["18.4"]
    assert recycled["input_mass_kg"]["title"] == "Input mass (kg)"
    check = jsonschema.Draft202012Validator(line["mass_kg"])
    assert check.is_valid("31.0")
    assert not check.is_valid("31.0.5")
    assert not check.is_valid(31.5)  # a binary float is never a mass
    assessed = forms["assessed"]["schema"]["properties"]
    assert assessed["soh_pct"]["title"] == "State of health (%)"
    assert assessed["grade"]["enum"] == ["reuse", "repurpose", "recycle"]


def test_an_org_field_names_the_roles_that_may_hold_items() -> None:
    to_org = _forms()["transferred"]["schema"]["properties"]["to_org"]
    assert to_org["x-org-roles"] == ["oem", "operator", "recycler"]


@pytest.mark.parametrize(
    ("name", "label", "words"),
    [
        ("mass_kg", None, "Mass (kg)"),
        ("soh_pct", "State of health", "State of health (%)"),
        ("rated_capacity_kwh", None, "Rated capacity (kWh)"),
        ("new_code", None, "New code"),
        ("kg", None, "Kg"),
    ],
)
def test_field_labels(name: str, label: str | None, words: str) -> None:
    assert field_label(name, label) == words
