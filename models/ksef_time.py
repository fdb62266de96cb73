"""KSeF date-times as Odoo stores them (one conversion for every answer KSeF gives)."""
import datetime

import pytz

WARSAW = pytz.timezone('Europe/Warsaw')


def odoo_datetime(value):
    """A KSeF date-time as Odoo stores it: naive UTC, whole seconds; False when empty. Text is ISO 8601 with 'Z' or
    an offset, or without one, which the API defines as Warsaw time; a naive datetime is already ours (UTC)."""
    if not value:
        return False
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace('Z', '+00:00'))
        if value.tzinfo is None:
            value = WARSAW.localize(value)
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value.replace(microsecond=0)
