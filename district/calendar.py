"""Working time in Asia/Shanghai: working hours on working days, where China's statutory
holidays and make-up workdays (調休) come from the maintained chinese-calendar package, or,
for a year it does not know (or one marked `override: true`), from the operator's calendar
file (LOUDONG_CALENDAR, deploy/calendar.yaml) holding the State Council's notice."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml
from chinese_calendar.constants import holidays as _library_holidays

from shared import config
from shared.config import ConfigError

log = logging.getLogger(__name__)
_warned_years: set[int] = set()
LIBRARY_YEARS = (min(_library_holidays).year, max(_library_holidays).year)
DEFAULT_CALENDAR = config.REPO_ROOT / "deploy" / "calendar.yaml"
WARN_DAYS = 45  # fewer days of known calendar than this left: warn (log, /v1/policies)


def is_workday(day: date) -> bool:
    """The State Council's calendar; for a year it has not published yet, Monday to Friday."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning(
                "no holiday calendar for %s yet: counting Monday–Friday as working days; "
                "load the State Council's notice into deploy/calendar.yaml (LOUDONG_CALENDAR) "
                "or upgrade chinese-calendar, and restart dispatch and escalation",
                day.year,
            )
        return day.weekday() < 5


class WorkingCalendar:
    """Adds and measures durations of working time. A working "day" is one day's working hours,
    so P1D is one working day and PT1H one working hour."""

    def __init__(self, timezone: str, hours: list[tuple[time, time]], workday=is_workday):
        self.zone = ZoneInfo(timezone)
        self.hours = sorted(hours)
        self._workday = workday
        self.day_length = sum((_secs(end) - _secs(start) for start, end in self.hours), 0.0)

    def with_workdays(self, workday) -> WorkingCalendar:
        """The same hours and zone, working days decided by `workday` (e.g. a Schedule)."""
        return WorkingCalendar(self.zone.key, self.hours, workday)

    def working_seconds(self, duration: timedelta) -> float:
        return duration.days * self.day_length + duration.seconds + duration.microseconds / 1e6

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant `duration` of working time after `start`."""
        remaining = self.working_seconds(duration)
        for opens, closes in self._intervals_from(start):
            span = (closes - opens).total_seconds()
            if remaining <= span:
                return opens + timedelta(seconds=remaining)
            remaining -= span
        raise ValueError("no working time within ten years")

    def between(self, start: datetime, end: datetime) -> float:
        """Working seconds from `start` to `end` (0 if end is not later)."""
        total = 0.0
        for opens, closes in self._intervals_from(start):
            if opens >= end:
                break
            total += (min(closes, end) - opens).total_seconds()
        return total

    def _intervals_from(self, start: datetime):
        """Working intervals (aware, local), the first clipped to begin at `start`."""
        local = start.astimezone(self.zone)
        day = local.date()
        for _ in range(3660):
            if self._workday(day):
                for begin, finish in self.hours:
                    opens = datetime.combine(day, begin, self.zone)
                    closes = datetime.combine(day, finish, self.zone)
                    if closes <= local:
                        continue
                    yield max(opens, local), closes
            day += timedelta(days=1)


def _secs(t: time) -> float:
    return t.hour * 3600 + t.minute * 60 + t.second


# --- the operator's calendar file ------------------------------------------------------------


@dataclass(frozen=True)
class YearSchedule:
    """One year as the State Council's notice gives it."""

    year: int
    source: str
    override: bool
    holidays: dict[date, str]  # each day off, with the holiday's name
    workdays: frozenset[date]  # make-up working days (調休) on a weekend


@dataclass
class Schedule:
    """Is a day a working day: the file's year where the library does not know it (or the file
    overrides it), else chinese-calendar, else Monday–Friday with a warning."""

    years: dict[int, YearSchedule] = field(default_factory=dict)
    path: Path | None = None
    library_years: tuple[int, int] = LIBRARY_YEARS

    def __call__(self, day: date) -> bool:
        entry = self.years.get(day.year)
        if entry is not None and (entry.override or not self._library_knows(day.year)):
            if day in entry.workdays:
                return True
            return day not in entry.holidays and day.weekday() < 5
        if self._library_knows(day.year):
            return chinese_calendar.is_workday(day)
        return is_workday(day)  # Monday–Friday, logged once per year

    def _library_knows(self, year: int) -> bool:
        return self.library_years[0] <= year <= self.library_years[1]

    def known_until(self) -> date:
        """The last day from which on, without a gap, the calendar (library or file) is known."""
        year = self.library_years[1]
        while year + 1 in self.years:
            year += 1
        return date(year, 12, 31)

    def source_of(self, year: int) -> str:
        entry = self.years.get(year)
        if entry is not None and (entry.override or not self._library_knows(year)):
            return f"{self.path}: {entry.source}"
        if self._library_knows(year):
            return f"chinese-calendar {chinese_calendar.__version__}"
        return "none: Monday–Friday"

    def warning(self, today: date) -> str | None:
        """A sentence for the operator when fewer than WARN_DAYS days of calendar are left."""
        until = self.known_until()
        left = (until - today).days
        if left >= WARN_DAYS:
            return None
        return (
            f"the holiday calendar is known only until {until.isoformat()} ({max(left, 0)} days "
            f"left): from {(until + timedelta(days=1)).isoformat()} working time counts "
            "Monday–Friday, ignoring holidays and make-up workdays; load the State Council's "
            "notice for the next year into deploy/calendar.yaml (LOUDONG_CALENDAR) and restart "
            "dispatch and escalation"
        )

    def describe(self, today: date) -> dict:
        """What GET /v1/policies shows about the calendar."""
        return {
            "known_until": self.known_until().isoformat(),
            "file": str(self.path) if self.path else None,
            "file_years": {
                str(y): {"source": e.source, "override": e.override}
                for y, e in sorted(self.years.items())
            },
            "warning": self.warning(today),
        }


_FIELDS = {"source", "override", "holidays", "workdays"}


def calendar_path(env: dict) -> Path | None:
    """LOUDONG_CALENDAR if set (it must exist), else deploy/calendar.yaml if there is one."""
    chosen = config.path(env, "LOUDONG_CALENDAR", DEFAULT_CALENDAR)
    if chosen == DEFAULT_CALENDAR and config.text(env, "LOUDONG_CALENDAR") is None:
        return chosen if chosen.is_file() else None
    if not chosen.is_file():
        raise ConfigError(f"LOUDONG_CALENDAR={str(chosen)!r}: no such file")
    return chosen


def load_schedule(path: Path | None) -> Schedule:
    """The calendar file at `path` (None: the library alone), validated: any mistake stops the
    service with a ConfigError naming the file and the line."""
    if path is None:
        return Schedule()
    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the calendar: {exc}") from None
    years: dict[int, YearSchedule] = {}
    if root is None:
        return Schedule(years, Path(path))
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{_at(path, root)}: expected years as keys, e.g. 2027:")
    for key, node in root.value:
        try:
            year = int(key.value)
        except (TypeError, ValueError):
            raise ConfigError(f"{_at(path, key)}: {key.value!r} is not a year") from None
        if year in years:
            raise ConfigError(f"{_at(path, key)}: {year} is listed twice")
        years[year] = _year(path, year, node)
    return Schedule(years, Path(path))


def _year(path, year: int, node) -> YearSchedule:
    where = f"{year}"
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{_at(path, node)}: {where}: expected source, holidays and workdays")
    fields = {}
    for key, value in node.value:
        if key.value not in _FIELDS:
            raise ConfigError(
                f"{_at(path, key)}: {where}.{key.value}: unknown key "
                f"(expected {', '.join(sorted(_FIELDS))})"
            )
        fields[key.value] = (key, value)
    if "source" not in fields or not str(fields["source"][1].value or "").strip():
        raise ConfigError(
            f"{_at(path, node)}: {where}.source: missing: name the State Council notice "
            "the schedule was taken from"
        )
    source = str(fields["source"][1].value).strip()
    override = False
    if "override" in fields:
        raw = fields["override"][1]
        if not isinstance(raw, yaml.ScalarNode) or raw.value not in ("true", "false"):
            raise ConfigError(f"{_at(path, raw)}: {where}.override: expected true or false")
        override = raw.value == "true"

    holidays: dict[date, str] = {}
    ranges: list[tuple[date, date, str, yaml.Node]] = []
    for i, entry in enumerate(_sequence(path, fields, "holidays", where)):
        here = f"{where}.holidays[{i}]"
        if not isinstance(entry, yaml.MappingNode):
            raise ConfigError(f"{_at(path, entry)}: {here}: expected name, from and to")
        parts = {k.value: v for k, v in entry.value}
        unknown = set(parts) - {"name", "from", "to"}
        if unknown:
            raise ConfigError(f"{_at(path, entry)}: {here}: unknown key {sorted(unknown)[0]}")
        if "name" not in parts or not str(parts["name"].value or "").strip():
            raise ConfigError(f"{_at(path, entry)}: {here}.name: missing")
        if "from" not in parts:
            raise ConfigError(f"{_at(path, entry)}: {here}.from: missing")
        name = str(parts["name"].value).strip()
        first = _date(path, parts["from"], f"{here}.from", year)
        last = _date(path, parts.get("to", parts["from"]), f"{here}.to", year)
        if last < first:
            raise ConfigError(f"{_at(path, entry)}: {here}: {name} ends before it starts")
        for other_first, other_last, other_name, _ in ranges:
            if first <= other_last and other_first <= last:
                raise ConfigError(
                    f"{_at(path, entry)}: {here}: {name} ({first}–{last}) overlaps "
                    f"{other_name} ({other_first}–{other_last})"
                )
        ranges.append((first, last, name, entry))
        day = first
        while day <= last:
            holidays[day] = name
            day += timedelta(days=1)

    workdays: set[date] = set()
    for i, entry in enumerate(_sequence(path, fields, "workdays", where)):
        here = f"{where}.workdays[{i}]"
        day = _date(path, entry, here, year)
        if day in holidays:
            raise ConfigError(
                f"{_at(path, entry)}: {here}: {day} is both a make-up workday and a holiday "
                f"({holidays[day]})"
            )
        if day.weekday() < 5:
            raise ConfigError(
                f"{_at(path, entry)}: {here}: {day} is a {day:%A}, not a weekend day: "
                "a make-up workday (調休) is a Saturday or Sunday worked"
            )
        if day in workdays:
            raise ConfigError(f"{_at(path, entry)}: {here}: {day} is listed twice")
        workdays.add(day)
    return YearSchedule(year, source, override, holidays, frozenset(workdays))


def _sequence(path, fields: dict, name: str, where: str) -> list:
    if name not in fields:
        return []
    node = fields[name][1]
    if isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~"):
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise ConfigError(f"{_at(path, node)}: {where}.{name}: expected a list")
    return node.value


def _date(path, node, where: str, year: int) -> date:
    if not isinstance(node, yaml.ScalarNode):
        raise ConfigError(f"{_at(path, node)}: {where}: expected a date, YYYY-MM-DD")
    try:
        day = date.fromisoformat(str(node.value))
    except ValueError:
        raise ConfigError(
            f"{_at(path, node)}: {where}: {node.value!r} is not a date (YYYY-MM-DD)"
        ) from None
    if day.year != year:
        raise ConfigError(
            f"{_at(path, node)}: {where}: {day} is not in {year}, the year it is listed under"
        )
    return day


def _at(path, node) -> str:
    """`file:line` of a YAML node (lines counted from 1, as editors do)."""
    return f"{path}:{node.start_mark.line + 1}"
