"""What the API derives from the event registry: the OpenAPI union and the passport's words.

Each event type is declared once, in ``ledger.registry``; the request body of
``POST /v1/items/{id}/events`` is documented as a union on ``type`` with one
example per event (and one to pick per event in the docs), the lines of
``POST /v1/events/bulk`` likewise, registration as ``POST /v1/items``; every
example is accepted by its payload model. The passport names every event, its
facts and every state.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from api import docs
from api.routes import events as event_routes
from api.routes import items as item_routes
from api.routes.passport import _FACT_LABELS, EVENT_NAMES, STATE_NAMES
from api.schemas import EventCreate
from ledger import registry
from ledger.events import EventLine, Registration, parse_model
from ledger.lifecycle import State
from ledger.registry import EVENTS, RECORDABLE


def _openapi() -> dict[str, Any]:
    app = docs.create_app()
    app.include_router(item_routes.router)
    app.include_router(event_routes.router)
    return app.openapi()


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Validator:
    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]})


def _component(doc: dict[str, Any], ref: str) -> dict[str, Any]:
    schema: dict[str, Any] = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


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


def test_every_event_type_has_an_example_to_pick_in_the_docs() -> None:
    doc = _openapi()
    body = doc["paths"]["/v1/items/{item_id}/events"]["post"]["requestBody"]
    media = body["content"]["application/json"]
    check = _validator(doc, media["schema"])
    assert list(media["examples"]) == list(RECORDABLE)
    for name, example in media["examples"].items():
        assert example["summary"] == EVENTS[name].label
        value = example["value"]
        assert value == {"type": name, "data": dict(EVENTS[name].example)}
        check.validate(value)
        parse_model(EVENTS[name].payload, value["data"], pointer="/data")


def test_every_bulk_event_line_has_a_schema_and_an_example() -> None:
    doc = _openapi()
    operation = doc["paths"]["/v1/events/bulk"]["post"]
    content = operation["requestBody"]["content"]
    assert set(content) == {"application/json", "application/x-ndjson"}
    schema = content["application/json"]["schema"]
    assert schema["type"] == "array"
    mapping = schema["items"]["discriminator"]["mapping"]
    assert set(mapping) == set(RECORDABLE)
    assert [v["$ref"] for v in schema["items"]["oneOf"]] == [mapping[n] for n in RECORDABLE]
    check = _validator(doc, schema)
    for name, ref in mapping.items():
        line = _component(doc, ref)
        assert line["required"] == ["item", "type", "data"]
        assert line["properties"]["data"]["$ref"].endswith(f"/{EVENTS[name].payload.__name__}")
        (example,) = line["examples"]
        check.validate([example])
        parse_model(EventLine, example)
        parse_model(EVENTS[name].payload, example["data"], pointer="/data")
        assert content["application/json"]["examples"][name]["value"] == [example]
    # A line of another type's data is not a line.
    bad: dict[str, Any] = {
        "item": docs.EXAMPLE_ITEM,
        "type": "retired",
        "data": dict(EVENTS["recycled"].example),
    }
    assert not check.is_valid([bad])
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    result = _component(doc, ok["$ref"])
    line_result = _component(doc, result["properties"]["results"]["items"]["$ref"])
    assert {"line", "ok", "item", "seq", "hash", "error", "created"} <= set(
        line_result["properties"]
    )


def test_registration_the_first_event_is_documented_by_its_own_route() -> None:
    doc = _openapi()
    (opener,) = [name for name, spec in EVENTS.items() if spec.opens_item]
    body = doc["paths"]["/v1/items"]["post"]["requestBody"]["content"]["application/json"]
    schema = _component(doc, body["schema"]["$ref"])
    check = _validator(doc, body["schema"])
    check.validate(dict(EVENTS[opener].example))
    for example in schema["examples"]:
        check.validate(example)
        assert isinstance(parse_model(Registration, example), EVENTS[opener].payload)
    bulk = doc["paths"]["/v1/items/bulk"]["post"]["requestBody"]["content"]["application/json"]
    _validator(doc, bulk["schema"]).validate([dict(EVENTS[opener].example)])


def test_the_items_an_event_creates_are_documented_in_its_answer() -> None:
    doc = _openapi()
    answer = doc["paths"]["/v1/items/{item_id}/events"]["post"]["responses"]["201"]
    written = _component(doc, answer["content"]["application/json"]["schema"]["$ref"])
    created = written["properties"]["created"]
    assert created["items"]["$ref"].endswith("/ItemOut")
    assert "repurposed" in created["description"]
    assert "dismantled" in created["description"]
