"""What the API derives from the event registry: the OpenAPI union and the passport's words.

Each event type is declared once, in ``ledger.registry``; the request body of
``POST /v1/items/{id}/events`` is documented as a union on ``type`` with one
example per event, and the passport names every event, its facts and every state.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from fastapi import FastAPI

from api.routes import items as item_routes
from api.routes.passport import _FACT_LABELS, EVENT_NAMES, STATE_NAMES
from api.schemas import EventCreate
from ledger import registry
from ledger.events import parse_model
from ledger.lifecycle import State
from ledger.registry import EVENTS, RECORDABLE


def _openapi() -> dict[str, Any]:
    app = FastAPI()
    app.include_router(item_routes.router)
    return app.openapi()


def test_the_openapi_body_is_a_union_on_type_of_every_event_with_its_example() -> None:
    doc = _openapi()
    body = doc["paths"]["/v1/items/{item_id}/events"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    union = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert union["discriminator"]["propertyName"] == "type"
    mapping = union["discriminator"]["mapping"]
    assert set(mapping) == set(RECORDABLE)
    assert [variant["$ref"] for variant in union["oneOf"]] == [mapping[n] for n in RECORDABLE]
    check = jsonschema.Draft202012Validator({"$ref": ref, "components": doc["components"]})
    for name, variant_ref in mapping.items():
        spec = EVENTS[name]
        variant = doc["components"]["schemas"][variant_ref.rsplit("/", 1)[1]]
        assert variant["properties"]["type"]["const"] == name
        assert variant["properties"]["data"]["$ref"].endswith(f"/{spec.payload.__name__}")
        (example,) = variant["examples"]
        assert example == {"type": name, "data": spec.example}
        check.validate(example)
        parse_model(spec.payload, example["data"], pointer="/data")
        # The runtime model stays lenient: the ledger checks data, with pointers.
        assert EventCreate.model_validate(example).type == name


def test_the_passport_has_words_for_every_event_and_state() -> None:
    assert {name: spec.label for name, spec in EVENTS.items()} == EVENT_NAMES
    assert EVENT_NAMES["transferred"] == "Custody transferred"
    assert {name: dict(spec.facts) for name, spec in EVENTS.items()} == _FACT_LABELS
    assert set(STATE_NAMES) == {s.value for s in State}
    assert {"vin"} == registry.PERSONAL_FIELDS
    assert {"to_org"} == registry.ORG_FIELDS
    assert registry.SUCCESSORS == {"repurposed": "new_item"}
