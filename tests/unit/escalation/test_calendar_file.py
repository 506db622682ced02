"""The operator's calendar file (LOUDONG_CALENDAR): a year chinese-calendar does not know
(2027 here) counted with its holidays and make-up workdays, a bad file stopping the service
naming the file and the line, and the gap made loud. The 2027 schedule below is written for
these tests only; it is NOT the State Council's notice."""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from district.calendar import WorkingCalendar, load_schedule
from services.escalation.settings import EscalationSettings
from shared.config import ConfigError
from tests.helpers import FakeClock, build, event

BEIJING = ZoneInfo("Asia/Shanghai")
HOURS = [(time(9), time(12)), (time(14), time(18))]
TEST_2027 = """\
2027:
  source: "TEST ONLY — made up for tests/unit/escalation, not the State Council's notice"
  holidays:
    - {name: 元旦, from: 2027-01-01, to: 2027-01-03}
    - {name: 春节, from: 2027-02-05, to: 2027-02-12}
  workdays:
    - 2027-01-31  # Sunday
    - 2027-02-20  # Saturday
"""
WORKING_POLICIES = "tiers:\n" + "".join(
    f"  {tier}: {{claim_within: PT4H, resolve_within: P3D, time: working}}\n"
    for tier in ("private", "small", "big", "hard")
)
DISPATCHED = {
    "assignment": 1,
    "unit_id": "baian-xincun-property",
    "tier": "small",
    "street": "baianba",
}


def _at(*args) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


def _write(tmp_path, text: str, name: str = "calendar.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _service(tmp_path, clock, calendar=None):
    policies = _write(tmp_path, WORKING_POLICIES, "policies.yaml")
    extra = {"LOUDONG_POLICIES": policies}
    if calendar is not None:
        extra["LOUDONG_CALENDAR"] = calendar
    return build("escalation", tmp_path, clock, **extra)


def _claim_due(service, issue_id: str) -> datetime:
    found = service.app.test_client().get(f"/v1/issues/{issue_id}/clocks").json["clocks"]
    [claim] = [c for c in found if c["clock"] == "claim"]
    due = datetime.fromisoformat(claim["due_at"])
    return (due if due.tzinfo else due.replace(tzinfo=UTC)).astimezone(BEIJING)


def test_a_claim_deadline_skips_the_2027_spring_festival_from_the_file(tmp_path):
    clock = FakeClock(_at(2027, 2, 4, 17, 0).astimezone(UTC))  # Thursday before the holiday
    service = _service(tmp_path, clock, _write(tmp_path, TEST_2027))
    try:
        service.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

        # one hour on Thursday; 5–12 February off, the weekend off; three hours on Monday 15th
        assert _claim_due(service, "i1") == _at(2027, 2, 15, 12, 0)
    finally:
        service.store.dispose()


def test_without_the_file_2027_counts_monday_to_friday(tmp_path):
    clock = FakeClock(_at(2027, 2, 4, 17, 0).astimezone(UTC))
    service = _service(tmp_path, clock)
    try:
        service.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())

        assert _claim_due(service, "i1") == _at(2027, 2, 5, 12, 0)  # the eve of the festival
    finally:
        service.store.dispose()


def test_a_make_up_saturday_and_sunday_count_as_working_time(tmp_path):
    calendar = WorkingCalendar("Asia/Shanghai", HOURS, load_schedule(_write(tmp_path, TEST_2027)))

    friday_evening = _at(2027, 2, 19, 17, 0)
    assert calendar.add(friday_evening, timedelta(hours=2)) == _at(2027, 2, 20, 10, 0)
    saturday = _at(2027, 1, 30, 10, 0)
    assert calendar.add(saturday, timedelta(hours=1)) == _at(2027, 1, 31, 10, 0)
    new_year = _at(2026, 12, 31, 17, 0)  # 2026 still from chinese-calendar, 1–3 January off
    assert calendar.add(new_year, timedelta(hours=2)) == _at(2027, 1, 4, 10, 0)


def test_the_library_keeps_a_year_it_knows_unless_the_file_overrides_it(tmp_path):
    text = """\
2026:
  source: TEST ONLY
  {override}
  holidays:
    - {{name: test day off, from: 2026-11-26}}
"""
    thursday = _at(2026, 11, 26, 10, 0)
    kept = load_schedule(_write(tmp_path, text.format(override="")))
    overridden = load_schedule(_write(tmp_path, text.format(override="override: true"), "o.yaml"))

    assert kept(thursday.date()) is True
    assert overridden(thursday.date()) is False
    assert overridden(date(2026, 10, 10)) is False  # the file replaces the whole year


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            "2027:\n  source: t\n  holidays:\n    - {name: 春节, from: 2027-02-30}\n",
            4,
            "'2027-02-30' is not a date",
        ),
        (
            "2027:\n  source: t\n  holidays:\n"
            "    - {name: 春节, from: 2027-02-05, to: 2027-02-12}\n"
            "    - {name: 元宵, from: 2027-02-12, to: 2027-02-13}\n",
            5,
            "元宵 (2027-02-12–2027-02-13) overlaps 春节 (2027-02-05–2027-02-12)",
        ),
        (
            "2027:\n  source: t\n  holidays:\n"
            "    - {name: 春节, from: 2027-02-05, to: 2027-02-12}\n"
            "  workdays:\n    - 2027-02-06\n",
            6,
            "2027-02-06 is both a make-up workday and a holiday (春节)",
        ),
        (
            "2027:\n  source: t\n  workdays:\n    - 2028-01-08\n",
            4,
            "2028-01-08 is not in 2027, the year it is listed under",
        ),
        (
            "2027:\n  source: t\n  holidays:\n    - {name: 元旦, from: 2026-12-31}\n",
            4,
            "2026-12-31 is not in 2027",
        ),
        (
            "2027:\n  source: t\n  workdays:\n    - 2027-02-15\n",
            4,
            "2027-02-15 is a Monday, not a weekend day",
        ),
        ("2027:\n  holidays: []\n", 2, "2027.source: missing"),
        ("twenty:\n  source: t\n", 1, "'twenty' is not a year"),
        (
            "2027:\n  source: t\n  holidays:\n    - {name: x, from: 2027-02-12, to: 2027-02-05}\n",
            4,
            "x ends before it starts",
        ),
    ],
    ids=[
        "impossible-date",
        "overlapping-holidays",
        "holiday-and-workday",
        "workday-in-another-year",
        "holiday-in-another-year",
        "workday-not-a-weekend",
        "no-source",
        "not-a-year",
        "backwards-range",
    ],
)
def test_a_bad_calendar_file_stops_the_service_naming_the_file_line_and_problem(
    tmp_path, text, line, problem
):
    path = _write(tmp_path, text)

    with pytest.raises(ConfigError) as raised:
        _service(tmp_path, FakeClock(), path)

    message = str(raised.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert problem in message


def test_loudong_calendar_naming_a_missing_file_stops_the_service(tmp_path):
    missing = tmp_path / "nowhere.yaml"

    with pytest.raises(ConfigError, match="LOUDONG_CALENDAR=.*nowhere.yaml.*no such file"):
        EscalationSettings.from_env({"LOUDONG_CALENDAR": str(missing)})


def test_the_shipped_example_file_is_valid_and_fictional():
    from shared.config import REPO_ROOT

    schedule = load_schedule(REPO_ROOT / "deploy" / "calendar.example.yaml")

    assert list(schedule.years) == [2099]
    assert "FICTIONAL" in schedule.years[2099].source
    assert not (REPO_ROOT / "deploy" / "calendar.yaml").exists()  # no unchecked 2027 shipped


def _gauge(service) -> float:
    body = service.app.test_client().get("/metrics").get_data(as_text=True)
    [value] = re.findall(
        r"^loudong_escalation_calendar_known_until_timestamp_seconds (\S+)$", body, re.M
    )
    return float(value)


def test_the_gauge_and_policies_warn_when_the_calendar_runs_out(tmp_path):
    clock = FakeClock(_at(2026, 12, 1, 10, 0).astimezone(UTC))
    service = _service(tmp_path, clock)
    try:
        assert _gauge(service) == _at(2027, 1, 1, 0, 0).timestamp()
        calendar = service.app.test_client().get("/v1/policies").json["calendar"]
        assert calendar["known_until"] == "2026-12-31"
        assert "known only until 2026-12-31 (30 days left)" in calendar["warning"]
        assert "deploy/calendar.yaml" in calendar["warning"]
        service.bus.poll_once()  # the embedded bus is ready once it has read its sources
        ready = service.app.test_client().get("/readyz")
        assert ready.status_code == 200  # a warning, not unreadiness
        assert ready.json["warnings"]["calendar"] == calendar["warning"]
    finally:
        service.store.dispose()


def test_a_loaded_file_extends_the_gauge_and_silences_the_warning(tmp_path):
    clock = FakeClock(_at(2026, 12, 1, 10, 0).astimezone(UTC))
    service = _service(tmp_path, clock, _write(tmp_path, TEST_2027))
    try:
        assert _gauge(service) == _at(2028, 1, 1, 0, 0).timestamp()
        calendar = service.app.test_client().get("/v1/policies").json["calendar"]
        assert calendar["known_until"] == "2027-12-31"
        assert calendar["warning"] is None
        assert "warnings" not in service.app.test_client().get("/readyz").json
        assert calendar["file_years"]["2027"]["source"].startswith("TEST ONLY")
    finally:
        service.store.dispose()


def test_the_start_logs_the_warning(tmp_path, caplog):
    clock = FakeClock(_at(2026, 12, 1, 10, 0).astimezone(UTC))

    with caplog.at_level("WARNING", logger="services.escalation.main"):
        service = _service(tmp_path, clock)
    service.store.dispose()

    assert any("known only until 2026-12-31" in r.getMessage() for r in caplog.records)


def test_loading_the_file_later_does_not_move_an_armed_deadline(tmp_path):
    clock = FakeClock(_at(2027, 2, 4, 17, 0).astimezone(UTC))
    before = _service(tmp_path, clock)  # 2027 unknown: Monday–Friday
    before.subscriber.apply(event("issue.dispatched", "i1", DISPATCHED).to_json())
    armed = _claim_due(before, "i1")
    before.store.dispose()
    assert armed == _at(2027, 2, 5, 12, 0)

    after = _service(tmp_path, clock, _write(tmp_path, TEST_2027))  # same store, file loaded
    try:
        after.subscriber.apply(event("issue.dispatched", "i2", DISPATCHED).to_json())

        assert _claim_due(after, "i1") == armed  # kept: deadlines are not recomputed
        assert _claim_due(after, "i2") == _at(2027, 2, 15, 12, 0)  # new clocks use the file
    finally:
        after.store.dispose()
