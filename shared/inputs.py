"""Guards for what comes in from outside: moments and dates inside a sane range of years, so
that no offset at the edge of the calendar overflows later (OverflowError is a 500)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from marshmallow import ValidationError, fields

MIN_YEAR, MAX_YEAR = 2000, 2100
OUT_OF_RANGE = f"must be between the years {MIN_YEAR} and {MAX_YEAR}"


def sane_moment(value: datetime) -> datetime:
    """`value` if it falls in MIN_YEAR..MAX_YEAR (as it is and in UTC); ValueError otherwise."""
    try:
        in_utc = value.astimezone(UTC) if value.tzinfo is not None else value
    except (OverflowError, ValueError):
        raise ValueError(OUT_OF_RANGE) from None
    if not all(MIN_YEAR <= v.year <= MAX_YEAR for v in (value, in_utc)):
        raise ValueError(OUT_OF_RANGE)
    return value


class SaneDateTime(fields.AwareDateTime):
    """An aware ISO 8601 moment in MIN_YEAR..MAX_YEAR."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return sane_moment(moment)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class SaneDate(fields.Date):
    """An ISO 8601 date in MIN_YEAR..MAX_YEAR."""

    def _deserialize(self, value, attr, data, **kwargs):
        day: date = super()._deserialize(value, attr, data, **kwargs)
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise ValidationError(OUT_OF_RANGE)
        return day
