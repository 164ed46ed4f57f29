"""JSON Lines split at LF only: line separators JSON allows inside strings stay put."""

from __future__ import annotations

import json

import pytest

from hashing import json_lines


# JSON carries these raw inside a string (control characters below U+0020 it escapes).
@pytest.mark.parametrize("inside", ["\u2028", "\u2029", "\x85"])
def test_a_character_str_splitlines_breaks_at_stays_inside_its_line(inside: str) -> None:
    first = json.dumps({"note": f"a{inside}b"}, ensure_ascii=False)
    text = f"{first}\n{json.dumps({'n': 2})}\n"
    assert len(text.splitlines()) > 2  # what the old splitting did
    lines = json_lines(text)
    assert lines == [first, '{"n": 2}']
    assert json.loads(lines[0])["note"] == f"a{inside}b"


def test_crlf_and_blank_lines_and_no_final_newline() -> None:
    assert json_lines('{"a": 1}\r\n\r\n{"b": 2}') == ['{"a": 1}', "", '{"b": 2}']
    assert json_lines("") == []
    assert json_lines("\n") == [""]
