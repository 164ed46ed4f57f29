"""The deadlines report through the HTTP API, on both databases, over the 2025 Spring Festival.

The report's clock is pinned to Monday 10 February 2025 (China); the rules' working
days come from ``RETRACE_*_DEADLINE_DAYS``. Counted on China's calendar, the days
after Friday 24 January up to 10 February are 26 and 27 January (a Sunday worked),
5, 6, 7, 8 (a Saturday worked) and 10 February: 7, where Monday to Friday would
give 11.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from api.settings import Settings
from tests.api.report_model import china_day, working_days
from tests.conftest import World
from tests.factories import event, register

PINNED = datetime(2025, 2, 10, 2, 0, tzinfo=UTC)  # 10:00 in China


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"collect_deadline_days": 2, "process_deadline_days": 1, "report_deadline_days": 15}
    )


def _deadlines(world: World, reader: Any) -> list[dict[str, Any]]:
    answer = world.client.get("/v1/reports/deadlines", headers=reader.headers)
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["rows"]
    return rows


def test_deadlines_count_chinas_working_days(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    oem, recycler = world.oem, world.recycler
    waiting = register(world.client, oem)["id"]
    retired = event(world.client, oem, waiting, "retired", {"reason": "x", "date": "2025-01-20"})
    moved = event(
        world.client, oem, waiting, "transferred", {"to_org": recycler.id, "date": "2025-01-24"}
    )
    held = register(world.client, oem)["id"]
    on_time = [
        event(world.client, oem, held, "retired", {"reason": "x"}),
        event(world.client, oem, held, "transferred", {"to_org": recycler.id}),
    ]
    collected = event(
        world.client,
        recycler,
        held,
        "collected",
        {"site": "Dock 1", "mass_kg": "410", "date": "2025-02-05"},
    )
    monkeypatch.setattr(world.app.state.ledger, "clock", lambda: PINNED)

    def late(written: dict[str, Any], item: str, org: str, day: str) -> dict[str, Any]:
        entry = written["entry"]
        recorded = china_day(entry["ts"])
        over = working_days(date.fromisoformat(day), recorded) - 15
        return {
            "item": item,
            "rule": "late_report",
            "org": org,
            "since": day,
            "working_days_overdue": over,
            "entries": [entry["seq"]],
        }

    expected = [
        {
            "item": waiting,
            "rule": "collect",
            "org": recycler.id,
            "since": "2025-01-24",
            "working_days_overdue": 7 - 2,
            "entries": [retired["entry"]["seq"], moved["entry"]["seq"]],
        },
        {
            # 6, 7, 8 and 10 February after the 5th, one allowed.
            "item": held,
            "rule": "process",
            "org": recycler.id,
            "since": "2025-02-05",
            "working_days_overdue": 4 - 1,
            "entries": [collected["entry"]["seq"]],
        },
        late(retired, waiting, oem.id, "2025-01-20"),
        late(moved, waiting, oem.id, "2025-01-24"),
        late(collected, held, recycler.id, "2025-02-05"),
    ]
    key = lambda row: (row["rule"], row["item"], row["entries"])  # noqa: E731 - a sort key
    assert sorted(_deadlines(world, world.regulator), key=key) == sorted(expected, key=key)
    assert all(row["working_days_overdue"] > 0 for row in expected)
    assert not any(row["entries"] == [w["entry"]["seq"]] for w in on_time for row in expected)
    # Each org sees the rows of its own items only.
    assert sorted(_deadlines(world, oem), key=key) == sorted(expected, key=key)
    assert _deadlines(world, world.recycler2) == []
    assert _deadlines(world, world.oem2) == []
