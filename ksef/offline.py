"""Offline modes of KSeF and their legal deadlines on the Polish business-day calendar.

| mode          | who decides                              | send to KSeF by                                          |
|---------------|------------------------------------------|----------------------------------------------------------|
| offline24     | the taxpayer, at any time                | the next business day after the issue date (art. 106nda) |
| unavailable   | the Ministry announces KSeF unavailable  | the next business day after the unavailability ends      |
| failure       | the Ministry announces a failure (awaria)| within 7 business days after it ends; a new announcement |
|               |                                          | restarts the count (art. 106nf)                          |
| total_failure | announced in the mass media              | no obligation to send (paper or any electronic form)     |

A failure announced while an offline24 or unavailability invoice waits gives it 7 business days from the end of
that failure, if that is later. Business days are Monday to Friday except public holidays (ustawa o dniach wolnych
od pracy), including Easter Monday, Pentecost and Corpus Christi, and 24 December from 2025. A deadline is the end of
that day in Poland.
"""
import datetime
import functools

ONLINE, OFFLINE24, UNAVAILABLE, FAILURE, TOTAL_FAILURE = 'online', 'offline24', 'unavailable', 'failure', 'total_failure'
MODES = (ONLINE, OFFLINE24, UNAVAILABLE, FAILURE, TOTAL_FAILURE)
FAILURE_BUSINESS_DAYS = 7
CHRISTMAS_EVE_FROM = 2025      # 24 December is a public holiday from 2025 (amendment of 2024)


def easter_sunday(year):
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own names
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return datetime.date(year, month, day + 1)


@functools.lru_cache(maxsize=64)
def public_holidays(year):
    """The public holidays of Poland in ``year`` (all of them, whatever day of the week they fall on)."""
    easter = easter_sunday(year)
    fixed = [(1, 1), (1, 6), (5, 1), (5, 3), (8, 15), (11, 1), (11, 11), (12, 25), (12, 26)]
    if year >= CHRISTMAS_EVE_FROM:
        fixed.append((12, 24))
    moving = [easter, easter + datetime.timedelta(days=1),          # Easter Sunday and Monday
              easter + datetime.timedelta(days=49),                 # Pentecost (Zielone Świątki)
              easter + datetime.timedelta(days=60)]                 # Corpus Christi (Boże Ciało)
    return frozenset([datetime.date(year, month, day) for month, day in fixed] + moving)


def is_business_day(day):
    return day.weekday() < 5 and day not in public_holidays(day.year)


def next_business_day(day):
    """The first business day after ``day``."""
    return add_business_days(day, 1)


def add_business_days(day, count):
    """The ``count``-th business day after ``day`` (``day`` itself does not count)."""
    while count > 0:
        day += datetime.timedelta(days=1)
        if is_business_day(day):
            count -= 1
    return day


def deadline(mode, issue_date, event_end=None):
    """The last day to send an invoice issued on ``issue_date`` in ``mode`` (None: no obligation to send).
    ``event_end``: the date the announced unavailability or failure ended (needed for those modes)."""
    if mode in (ONLINE, OFFLINE24):
        # online invoices are due the day they are issued; an offline24 one on the next business day
        return issue_date if mode == ONLINE else next_business_day(issue_date)
    if mode == TOTAL_FAILURE:
        return None
    if event_end is None:
        raise ValueError(f'the end of the announced {mode} is needed to compute the deadline')
    if mode == UNAVAILABLE:
        return next_business_day(event_end)
    if mode == FAILURE:
        return add_business_days(event_end, FAILURE_BUSINESS_DAYS)
    raise ValueError(f'unknown KSeF mode {mode!r}: one of {", ".join(MODES)}')


def extended_by_failure(current_deadline, failure_end):
    """A pending invoice's deadline once a failure was announced: 7 business days after the failure's end, when
    that is later (an announcement never shortens a deadline)."""
    extended = add_business_days(failure_end, FAILURE_BUSINESS_DAYS)
    return max(current_deadline, extended) if current_deadline else extended
