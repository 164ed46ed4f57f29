"""Property-based checks of the app against its own OpenAPI document.

Schemathesis generates requests for every documented operation (in process,
over ASGI) and checks each answer: never a 5xx, only documented status codes
and content types, and bodies that match the documented schemas. It runs
authenticated as an admin and as an OEM, with valid and with invalid data, on
both databases; the examples per operation are bounded so the module stays
quick.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err

from tests.conftest import World
from tests.factories import register

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples per operation and generation mode.
EXAMPLES = {"sqlite": 12, "postgresql": 5}

# JSON Lines bodies (POST /v1/items/bulk) are text on the wire.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")


def _send(client: TestClient, case: Any, headers: dict[str, str]) -> Any:
    """Send a generated case through the test's own client (its app is already started)."""
    kwargs = case.as_transport_kwargs(headers=headers)
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    if kwargs.get("data") is not None:
        body["content"] = kwargs["data"]
    response = client.request(
        kwargs["method"],
        kwargs["url"],
        headers=kwargs["headers"],
        params=kwargs.get("params"),
        **body,
    )
    case.validate_response(response, checks=CHECKS, headers=headers, transport_kwargs=kwargs)
    return response


def _run(
    client: TestClient, operation: Any, mode: GenerationMode, headers: dict[str, str], examples: int
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        _send(client, case, headers)

    check()


@pytest.mark.parametrize("caller", ["admin", "oem"])
def test_every_operation_conforms_to_the_openapi_document(
    world: World, caller: str, backend: str
) -> None:
    c = world.client
    # An item and a checkpoint exist, so reads and proofs have something to find.
    register(c, world.oem)
    assert c.post("/v1/log/checkpoint", headers=world.admin.headers).status_code == 200
    schema = schemathesis.openapi.from_dict(c.get("/openapi.json").json())
    headers = {"Authorization": f"Bearer {getattr(world, caller).key}"}
    failures: dict[str, BaseException] = {}
    operations = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the document describes an operation schemathesis can't read
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _run(c, operation, mode, headers, EXAMPLES[backend])
            except Unsatisfiable:
                # No parameters or body to make invalid: negative mode has nothing to send.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # report every operation at once
                failures[f"{operation.label} ({mode.value})"] = exc
    assert operations >= 15
    assert not failures, "\n\n".join(f"{label}:\n{exc}" for label, exc in failures.items())
