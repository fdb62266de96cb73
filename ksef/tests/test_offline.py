"""The Polish business-day calendar and the offline deadlines."""
import datetime

import pytest

from ksef import offline

D = datetime.date


@pytest.mark.parametrize('year, easter', [(2024, D(2024, 3, 31)), (2025, D(2025, 4, 20)), (2026, D(2026, 4, 5)),
                                          (2027, D(2027, 3, 28)), (2038, D(2038, 4, 25)), (2285, D(2285, 3, 22))])
def test_easter(year, easter):
    assert offline.easter_sunday(year) == easter


def test_public_holidays_of_2026_with_the_moving_feasts_and_christmas_eve():
    holidays = offline.public_holidays(2026)
    for day in (D(2026, 1, 1), D(2026, 1, 6), D(2026, 4, 5), D(2026, 4, 6), D(2026, 5, 1), D(2026, 5, 3),
                D(2026, 5, 24), D(2026, 6, 4), D(2026, 8, 15), D(2026, 11, 1), D(2026, 11, 11), D(2026, 12, 24),
                D(2026, 12, 25), D(2026, 12, 26)):
        assert day in holidays, day
    assert len(holidays) == 14
    assert D(2024, 12, 24) not in offline.public_holidays(2024), "a holiday only from 2025"
    assert D(2025, 12, 24) in offline.public_holidays(2025)


@pytest.mark.parametrize('issued, due', [
    (D(2026, 11, 6), D(2026, 11, 9)),      # Friday -> Monday
    (D(2026, 11, 10), D(2026, 11, 12)),    # 11 November (Wednesday) is a holiday
    (D(2026, 12, 23), D(2026, 12, 28)),    # 24, 25, 26 December and the weekend
    (D(2026, 4, 3), D(2026, 4, 7)),        # Good Friday is a business day; Easter Monday is not
    (D(2026, 6, 3), D(2026, 6, 5)),        # Corpus Christi
])
def test_offline24_is_due_the_next_business_day(issued, due):
    assert offline.deadline(offline.OFFLINE24, issued) == due


def test_unavailability_and_failure_count_from_the_announced_end():
    assert offline.deadline(offline.UNAVAILABLE, D(2026, 11, 2), event_end=D(2026, 11, 13)) == D(2026, 11, 16)
    # 7 business days after Friday 18 December 2026: 21, 22, 23, 28, 29, 30, 31
    assert offline.deadline(offline.FAILURE, D(2026, 12, 15), event_end=D(2026, 12, 18)) == D(2026, 12, 31)
    assert offline.deadline(offline.TOTAL_FAILURE, D(2026, 12, 15)) is None
    assert offline.deadline(offline.ONLINE, D(2026, 12, 15)) == D(2026, 12, 15)
    with pytest.raises(ValueError, match='end of the announced'):
        offline.deadline(offline.FAILURE, D(2026, 12, 15))
    with pytest.raises(ValueError, match='unknown KSeF mode'):
        offline.deadline('paper', D(2026, 12, 15), event_end=D(2026, 12, 18))


def test_a_failure_announced_later_extends_but_never_shortens():
    due = offline.deadline(offline.OFFLINE24, D(2026, 11, 6))                 # 9 November
    assert offline.extended_by_failure(due, D(2026, 11, 9)) == D(2026, 11, 19)   # 10, 12, 13, 16, 17, 18, 19
    late = D(2026, 12, 31)
    assert offline.extended_by_failure(late, D(2026, 11, 9)) == late


def test_business_days_walk_the_calendar():
    assert offline.is_business_day(D(2026, 11, 23))
    assert not offline.is_business_day(D(2026, 11, 22))                          # Sunday
    assert offline.add_business_days(D(2026, 11, 20), 0) == D(2026, 11, 20)
    days = [offline.add_business_days(D(2026, 1, 1), n) for n in range(1, 260)]
    assert all(offline.is_business_day(day) for day in days)
    assert len(set(days)) == len(days)
