"""Working days on China's official calendar, as the deadlines report counts them.

The 2025 Spring Festival: 28 January to 4 February 2025 were public holidays, and
Sunday 26 January and Saturday 8 February 2025 were working days (State Council
notice on the 2025 holidays, Guobanfamingdian [2024] No. 12).
"""

from __future__ import annotations

from datetime import date

import pytest

from ledger.reports.history import china_day, is_workday, working_days_between


def test_the_spring_festival_week_of_2025() -> None:
    assert is_workday(date(2025, 1, 26))  # a Sunday worked
    assert not is_workday(date(2025, 1, 25))  # the Saturday before it is not
    for day in range(28, 32):
        assert not is_workday(date(2025, 1, day))
    for day in range(1, 5):
        assert not is_workday(date(2025, 2, day))
    assert is_workday(date(2025, 2, 5))
    assert is_workday(date(2025, 2, 8))  # a Saturday worked


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # After Friday 24 January: Sunday 26 and Monday 27 January, then Wednesday 5
        # February; Monday to Friday alone would count 8.
        (date(2025, 1, 24), date(2025, 2, 5), 3),
        # Through the holiday alone: nothing.
        (date(2025, 1, 27), date(2025, 2, 4), 0),
        # The day itself is not counted, nor anything before it.
        (date(2025, 2, 5), date(2025, 2, 5), 0),
        (date(2025, 2, 6), date(2025, 2, 5), 0),
        # Wednesday 5 to Monday 10 February: 6, 7, Saturday 8 and 10.
        (date(2025, 2, 5), date(2025, 2, 10), 4),
    ],
)
def test_working_days_between(start: date, end: date, expected: int) -> None:
    assert working_days_between(start, end) == expected


def test_a_year_the_calendar_does_not_know_counts_monday_to_friday() -> None:
    # Friday 1 January 2100 to Monday 4 January 2100: Monday alone.
    assert working_days_between(date(2100, 1, 1), date(2100, 1, 4)) == 1


def test_the_day_recorded_is_chinas_day() -> None:
    assert china_day("2025-01-27T15:59:59.000000Z") == date(2025, 1, 27)
    assert china_day("2025-01-27T16:00:00.000000Z") == date(2025, 1, 28)
