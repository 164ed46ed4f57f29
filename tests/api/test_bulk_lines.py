"""How a bulk body's lines are read and answered.

JSON Lines are kept as text and parsed a chunk at a time by orjson where it reads
the same as ``json``: every line reads to the values ``json.loads`` gives, and a
line neither reads is refused with ``json``'s own words. The answer, written a chunk
at a time without a model per line, is the model's own bytes.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from api.bulk import JSON_LINES, _parsed, read_lines
from api.schemas import BulkResult
from ledger.errors import ValidationError
from tests.conftest import World
from tests.factories import registration

# Lines orjson reads, and lines only ``json`` reads (beyond 64 bits, NaN, a lone
# surrogate escape, an overflowing exponent, long digits), each to the value json.loads gives.
_READ = [
    '{"kind": "pv_module", "code": "PV-1", "attributes": {"note": "é ✓ \\u0001 \\u2028"}}',
    '  {"a": [1, -0, 2.5, 1e-7, true, null, "\\ud83d\\ude00"]}  ',
    '"just a string"',
    "18446744073709551616",
    '{"n": 1180591620717411303424}',
    "NaN",
    '{"x": -Infinity}',
    '["\\ud800"]',
    "[1e400, -1e400, 123456789012345678901234567890.5]",
    "-9223372036854775809",
    "9223372036854775807",
]
# Lines neither reads.
_REFUSED = ['{"kind": ]', "\ufeff{}", '{"a": 1} {"b": 2}', "tru", '"tab\there"']


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def test_every_line_reads_as_json_reads_it() -> None:
    text = "\n".join([_READ[0], "", *_READ[1:]])
    lines = read_lines(text.encode(), JSON_LINES, "items", 100)
    assert lines.texts
    assert lines.numbers == [1, *range(3, len(_READ) + 2)]
    values = _parsed(lines, 0, len(_READ))
    assert len(values) == len(_READ)
    for line, value in zip(_READ, values, strict=True):
        assert _same(value, json.loads(line)), line


@pytest.mark.parametrize("line", _REFUSED)
def test_a_line_neither_reads_is_refused_with_jsons_words(line: str) -> None:
    lines = read_lines(f"{{}}\n{line}\n".encode(), JSON_LINES, "items", 100)
    first, refused = _parsed(lines, 0, 2)
    assert first == {}
    assert isinstance(refused, ValidationError)
    with pytest.raises(json.JSONDecodeError) as raised:
        json.loads(line)
    assert str(refused) == f"line 2 is not JSON: {raised.value.msg}"
    assert refused.pointer == "/"


def test_a_json_array_is_read_whole() -> None:
    raw = json.dumps([registration(), registration("pv_module")]).encode()
    lines = read_lines(raw, "application/json", "items", 100)
    assert not lines.texts
    assert _parsed(lines, 0, 2) == json.loads(raw)
    assert lines.numbers == [1, 2]


def test_the_bulk_answer_is_the_models_bytes(world: World) -> None:
    good = registration("pv_module", attributes={"note": "é ✓ \u2028", "mass_kg": "22.5"})
    text = "\n".join([json.dumps(good), '{"kind": ]', "", json.dumps(registration("nope"))])
    answer = world.client.post(
        "/v1/items/bulk",
        content=text.encode(),
        headers={**world.oem.headers, "content-type": JSON_LINES},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["refused"]) == (1, 2)
    assert [r["line"] for r in body["results"]] == [1, 2, 4]
    model = BulkResult.model_validate(body).model_dump_json(by_alias=True, exclude_unset=True)
    assert answer.content == model.encode()
