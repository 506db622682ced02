"""Dispatch's unit tests: the service in this process on SQLite with an injected clock; issues
arrive as issue.submitted events, units act over HTTP with their own tokens."""

import uuid

import pytest

from services.dispatch import units
from tests.helpers import FakeClock, build, emitted, event

SEWER = {
    "channel": "hotline",
    "description": "楼道里的杂物堆了一个月",
    "category": "property_management",
    "location": {
        "street": "baianba",
        "community": "baian",
        "compound": "baian-xincun",
        "building": "3",
    },
    "attributes": {},
    "meeting_id": None,
    "promised_by": None,
    "submitted_at": "2026-11-26T02:00:00+00:00",
}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def dispatch(tmp_path, clock):
    service = build("dispatch", tmp_path, clock)
    yield service
    service.store.dispose()


@pytest.fixture
def phone(dispatch):
    """A unit's phone: a test client keeping its cookies, reading Chinese."""
    client = dispatch.app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN,zh;q=0.9"
    return client


@pytest.fixture
def as_unit(dispatch):
    """as_unit(unit_id) -> Authorization headers carrying a fresh token of that unit."""

    def headers(unit_id: str) -> dict:
        with dispatch.store.unit_of_work() as uow:
            return {"Authorization": f"Bearer {units.issue_token(uow, unit_id)}"}

    return headers


@pytest.fixture
def submit(dispatch):
    """submit(**changes) -> the id of a new issue that dispatch has taken in."""

    def send(**changes) -> str:
        issue_id = str(uuid.uuid4())
        dispatch.subscriber.apply(
            event("issue.submitted", issue_id, {**SEWER, **changes}, producer="intake").to_json()
        )
        return issue_id

    return send


def dispatched_to(dispatch, issue_id: str) -> list[tuple[str, str]]:
    """(unit, role) of every issue.dispatched for the issue, in order."""
    return [
        (e.payload["unit_id"], e.payload["role"])
        for e in emitted(dispatch.store, "issue.dispatched")
        if e.issue_id == issue_id
    ]
