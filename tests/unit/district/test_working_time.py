"""Deadlines in working time: working hours on China's working days, statutory holidays and
make-up workdays (調休) from chinese-calendar."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from district.calendar import WorkingCalendar

BEIJING = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkingCalendar("Asia/Shanghai", [(time(9), time(12)), (time(14), time(18))])


def _at(*args) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


def test_working_hours_skip_the_lunch_break_and_the_night():
    assert CALENDAR.add(_at(2026, 11, 26, 11, 0), timedelta(hours=2)) == _at(2026, 11, 26, 15, 0)
    assert CALENDAR.add(_at(2026, 11, 26, 17, 30), timedelta(hours=1)) == _at(2026, 11, 27, 9, 30)
    assert CALENDAR.add(_at(2026, 11, 26, 22, 0), timedelta(minutes=1)) == _at(2026, 11, 27, 9, 1)


def test_a_weekend_is_not_working_time():
    friday_evening = _at(2026, 11, 27, 17, 0)

    assert CALENDAR.add(friday_evening, timedelta(hours=2)) == _at(2026, 11, 30, 10, 0)


def test_the_national_day_week_is_skipped_and_its_make_up_saturday_counts():
    before_the_holiday = _at(2026, 9, 30, 17, 0)  # Wednesday; 1–7 October are National Day

    assert CALENDAR.add(before_the_holiday, timedelta(days=1)) == _at(2026, 10, 8, 17, 0)
    assert CALENDAR.add(before_the_holiday, timedelta(days=3)) == _at(
        2026, 10, 10, 17, 0
    )  # Saturday, worked
    assert CALENDAR.add(before_the_holiday, timedelta(days=4)) == _at(
        2026, 10, 12, 17, 0
    )  # Sunday 11th is off


def test_a_make_up_sunday_before_a_holiday_is_a_working_day():
    saturday = _at(2026, 9, 19, 10, 0)  # 20 September 2026 (Sunday) is worked for Mid-Autumn

    assert CALENDAR.add(saturday, timedelta(hours=1)) == _at(2026, 9, 20, 10, 0)


def test_working_seconds_between_two_instants():
    assert CALENDAR.between(_at(2026, 11, 26, 11, 0), _at(2026, 11, 26, 15, 0)) == 2 * 3600
    assert CALENDAR.between(_at(2026, 9, 30, 17, 0), _at(2026, 10, 8, 10, 0)) == 2 * 3600


def test_a_year_not_yet_published_counts_monday_to_friday():
    friday = datetime(2027, 3, 5, 17, 0, tzinfo=BEIJING)

    assert CALENDAR.add(friday, timedelta(hours=2)) == datetime(2027, 3, 8, 10, 0, tzinfo=BEIJING)
    assert friday.astimezone(UTC).year == 2027
