"""No input yields a 5xx: hostile bodies, queries and headers are refused with a 4xx that
names what is wrong, on the four services as they run in this process."""

import base64
import json
import random
import time

import pytest

from shared.tokens import token_hash
from tests.helpers import ADMIN_TOKEN, AUTH, SUBMISSION, build, event

FAR_LATE, FAR_EARLY = "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"
ADMIN = ADMIN_TOKEN
SECRET = "receipt-secret"


@pytest.fixture
def services(tmp_path):
    built = {}

    def get(name: str):
        if name not in built:
            built[name] = build(
                name,
                tmp_path / name,
                LOUDONG_ADMIN_TOKEN=ADMIN,
                LOUDONG_SMS_RECEIPT_SECRET=SECRET,
            )
        return built[name]

    yield get
    for service in built.values():
        service.store.dispose()


def _client(services, name: str):
    return services(name).app.test_client()


def _unit_token(escalation, unit_id: str = "baian-committee") -> dict:
    token = f"lu_test_{unit_id}_{random.random()}"
    escalation.subscriber.apply(
        event(
            "unit.token_issued",
            f"unit:{unit_id}",
            {"unit_id": unit_id, "token_hash": token_hash(token)},
        ).to_json()
    )
    return {"Authorization": f"Bearer {token}"}


def test_json_nested_thousands_of_levels_deep_is_a_400_naming_the_nesting(services):
    deep = b"[" * 20_000 + b"]" * 20_000
    answers = [
        _client(services, "intake").post(
            "/v1/issues", headers=AUTH, data=deep, content_type="application/json"
        ),
        _client(services, "notify").post(
            "/v1/templates/preview", data=deep, content_type="application/json"
        ),
        _client(services, "notify").post(
            "/v1/inbound/aliyun?token=" + SECRET, data=deep, content_type="application/json"
        ),
    ]

    for answer in answers:
        assert answer.status_code == 400, answer.get_data(as_text=True)
        assert "nest" in answer.json["detail"]


def test_a_lone_utf16_surrogate_is_refused_naming_the_field(services):
    body = json.dumps(SUBMISSION).replace(json.dumps(SUBMISSION["description"]), '"\\ud800 堵了"')
    assert "\\ud800" in body

    answer = _client(services, "intake").post(
        "/v1/issues", headers=AUTH, data=body, content_type="application/json"
    )

    assert answer.status_code in (400, 422), answer.get_data(as_text=True)
    assert "description" in answer.json["errors"]


@pytest.mark.parametrize("stamp", [FAR_LATE, FAR_EARLY])
def test_dates_at_the_edges_of_the_calendar_are_refused_wherever_they_come_in(services, stamp):
    intake, escalation = _client(services, "intake"), _client(services, "escalation")
    escalation_service = services("escalation")
    escalation_service.subscriber.apply(
        event(
            "issue.dispatched",
            "i1",
            {"assignment": 1, "unit_id": "baian-committee", "tier": "small", "street": "baianba"},
        ).to_json()
    )
    work_day = {**SUBMISSION, "channel": "work_day", "meeting_id": "m1", "promised_by": stamp}
    answers = {
        "since": intake.get("/v1/issues", query_string={"since": stamp}, headers=AUTH),
        "until": intake.get("/v1/issues", query_string={"until": stamp}, headers=AUTH),
        "escalations since": escalation.get("/v1/escalations", query_string={"since": stamp}),
        "promised_by": intake.post("/v1/issues", headers=AUTH, json=work_day),
        "until (extend)": escalation.post(
            "/v1/issues/i1/extend",
            headers=_unit_token(escalation_service),
            json={"clock": "claim", "until": stamp, "reason": "x"},
        ),
        "start_date": intake.get("/open311/v2/requests.json", query_string={"start_date": stamp}),
        "end_date": intake.get("/open311/v2/requests.json", query_string={"end_date": stamp}),
        "updates end_date": intake.get(
            "/open311/v2/servicerequestupdates.json", query_string={"end_date": stamp}
        ),
    }

    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert all(400 <= s < 500 for s in statuses.values()), statuses
    for name, answer in answers.items():
        assert "2000" in answer.get_data(as_text=True), name


@pytest.mark.parametrize("lat, lon", [("1e200", "1e200"), ("nan", "114.0"), ("22.5", "inf")])
def test_open311_coordinates_out_of_this_world_are_the_specs_400(services, lat, lon):
    answer = _client(services, "intake").post(
        "/open311/v2/requests.json",
        data={
            "api_key": AUTH["Authorization"].split()[1],
            "service_code": "property_management",
            "description": "下水道堵了",
            "lat": lat,
            "long": lon,
        },
    )

    assert answer.status_code == 400, answer.get_data(as_text=True)
    [error] = answer.json
    assert error["code"] == 400 and "lat" in error["description"]


@pytest.mark.parametrize(
    "payload",
    [
        {"a": 1},
        [1, 2],
        ["x", "y", "z"],
        "just a string",
        ["2026-11-26", "id"],
        [FAR_LATE, "id"],
        ["not a date", "id"],
        None,
    ],
)
def test_a_forged_list_cursor_is_a_400_naming_the_cursor(services, payload):
    cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    answer = _client(services, "intake").get(
        "/v1/issues", query_string={"cursor": cursor}, headers=AUTH
    )

    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert "cursor" in answer.json["errors"]


def _signed(timestamp: str, signature: str) -> dict:
    return {"X-Loudong-Timestamp": timestamp, "X-Loudong-Signature": signature}


@pytest.mark.parametrize(
    "service, path, headers",
    [
        ("intake", "/v1/issues", {"Authorization": "Bearer ключ"}),
        ("intake", "/v1/issues", {"Authorization": "Bearer caf\xe9"}),
        ("dispatch", "/v1/assignments/i1/claim", {"Authorization": "Bearer ключ"}),
        ("escalation", "/v1/issues/i1/escalate", {"Authorization": "Bearer caf\xe9"}),
        ("notify", "/v1/notifications/d1/resend", {"Authorization": "Bearer ключ"}),
        ("notify", "/v1/notifications/d1/resend", {"Authorization": "Bearer caf\xe9"}),
        ("notify", "/v1/inbound/generic", _signed(str(int(time.time())), "sig\xe9")),
        ("notify", "/v1/inbound/generic", _signed(str(int(time.time())), "подпись")),
        ("notify", "/v1/inbound/generic", _signed("9" * 400, "0" * 64)),
        ("notify", "/v1/inbound/generic", _signed("9" * 5000, "0" * 64)),
        ("notify", "/v1/receipts/generic", _signed("-" + "9" * 400, "0" * 64)),
    ],
)
def test_odd_credentials_in_headers_are_a_401(services, service, path, headers):
    answer = _client(services, service).post(path, headers=headers, json={"reason": "x"})

    assert answer.status_code == 401, answer.get_data(as_text=True)


def test_notifications_are_listed_to_the_administrator_alone(services):
    client = _client(services, "notify")

    anonymous = client.get("/v1/notifications?issue_id=i1")
    guessed = client.get("/v1/notifications?issue_id=i1", headers={"Authorization": "Bearer x"})
    admin = client.get(
        "/v1/notifications?issue_id=i1", headers={"Authorization": f"Bearer {ADMIN}"}
    )

    assert (anonymous.status_code, guessed.status_code, admin.status_code) == (401, 401, 200)
    assert admin.json == {"notifications": []}
