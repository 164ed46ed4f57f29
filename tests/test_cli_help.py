"""``retrace … --help`` of every command reads cleanly at any terminal width.

Flags show no ``<bool>`` type, and no role name is broken across lines (as Rich's
narrow type column did to ``recycle r``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from api.cli import app
from ledger.lifecycle import Role

WIDTHS = [40, 60, 80, 120]


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group of the tree under ``command``, as argument paths."""
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


PATHS = list(command_paths(typer.main.get_command(app)))


def help_text(path: tuple[str, ...], width: int) -> str:
    done = CliRunner().invoke(app, [*path, "--help"], terminal_width=width)
    assert done.exit_code == 0, done.output
    return done.output


def test_every_command_has_help() -> None:
    names = {" ".join(path) for path in PATHS}
    expected = {"init", "serve", "verify", "projection", "labels", "export", "audit"}
    expected |= {"orgs create", "orgs list", "keys issue", "keys list", "keys revoke"}
    expected |= {"witness init", "witness cosign"}
    assert expected <= names, sorted(names)


# What a role name broken inside a word leaves behind (recycle|r, operat|or, …).
FRAGMENTS = {role.value[:n] for role in Role for n in range(3, len(role.value))}


def broken_role_names(text: str) -> list[str]:
    """Role names a help text breaks: inside a column, or across a line end."""
    found = sorted(set(re.findall(r"[a-z]+", text)) & FRAGMENTS)
    # Read the lines back joined (without the layout's spaces and box lines): a name
    # that appears more often joined than in the text was broken at a line end.
    joined = re.sub(r"[\s│]*\n[\s│]*", "", text)
    found += [role.value for role in Role if joined.count(role.value) > text.count(role.value)]
    return found


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "retrace")
def test_help_shows_no_bool_type_and_breaks_no_role_name(path: tuple[str, ...], width: int) -> None:
    text = help_text(path, width)
    assert "<bool>" not in text
    assert broken_role_names(text) == [], text


def test_the_role_option_names_every_role_whole_even_when_narrow() -> None:
    for width in WIDTHS:
        text = help_text(("orgs", "create"), width)
        words = set(re.findall(r"[a-z]+", text))
        assert {role.value for role in Role} <= words, text
