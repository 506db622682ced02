"""Who may do what, as one table: every principal (anonymous, gateways with and without each
scope, another gateway, the unit in charge, another unit, its supervisor, the street office,
the district leader, the administrator) against the operations of all four services, on one
issue carried through the real services in this process. Each cell is the status the caller
gets; a cell that passes authorization names the status the domain then gives (201, 200,
409...), so a check that let the wrong caller through would change it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.dispatch import units
from services.intake import gateways
from tests.helpers import ADMIN_TOKEN, AUTH, SERVICES, SUBMISSION, build

PROPERTY = "baian-xincun-property"  # the unit the issue goes to
COMMITTEE = "baian-committee"  # its supervisor
OFFICE = "baianba-office"  # the street office
LEADER = "leader-north"  # the district leader in charge of the street
STRANGER = "lianhua-committee"  # a unit with nothing to do with it

PRINCIPALS = (
    "anonymous",
    "gateway",  # submit, read, feedback: the gateway that submitted the issue
    "read_only",  # the same gateway's key with only "read"
    "other_gateway",  # another gateway, default scopes
    "read_all",  # the demo gateway: every scope, read:all
    "unit",
    "stranger",
    "supervisor",
    "office",
    "leader",
    "admin",
)

# (service, method, path, body): {principal: status}; {id} is the issue, {delivery} a delivery.
MATRIX = [
    (
        ("intake", "POST", "/v1/issues", SUBMISSION),
        {
            "anonymous": 401,
            "gateway": 201,
            "read_only": 403,
            "other_gateway": 201,
            "read_all": 201,
            "unit": 401,
            "admin": 401,
        },
    ),
    (
        ("intake", "GET", "/v1/issues/{id}", None),
        {
            "anonymous": 401,
            "gateway": 200,
            "read_only": 200,
            "other_gateway": 404,
            "read_all": 200,
            "unit": 401,
        },
    ),
    (
        ("intake", "POST", "/v1/issues/{id}/feedback", {"satisfied": True, "rating": 5}),
        # feedback is the submitting gateway's alone: read:all reads, it does not answer
        {"anonymous": 401, "gateway": 409, "read_only": 403, "other_gateway": 404, "read_all": 404},
    ),
    (
        ("dispatch", "GET", "/v1/assignments/{id}", None),
        {
            "anonymous": 401,
            "gateway": 401,
            "unit": 200,
            "stranger": 404,
            "supervisor": 200,
            "office": 200,
            "leader": 200,
        },
    ),
    (
        ("dispatch", "POST", "/v1/issues/{id}/urge", {"note": "请今天内处理"}),
        {
            "anonymous": 401,
            "gateway": 401,
            "unit": 403,
            "stranger": 403,
            "supervisor": 201,
            "office": 201,
            "leader": 201,
        },
    ),
    (
        ("dispatch", "POST", "/v1/issues/{id}/triage", {"category": "other"}),
        {
            "anonymous": 401,
            "unit": 403,
            "stranger": 403,
            "supervisor": 403,
            "office": 409,
            "leader": 403,
        },
    ),
    (
        ("dispatch", "GET", "/v1/triage", None),
        {"anonymous": 401, "unit": 403, "supervisor": 403, "office": 200, "leader": 403},
    ),
    (
        (
            "escalation",
            "POST",
            "/v1/issues/{id}/extend",
            {"clock": "claim", "until": "2026-12-20T10:00:00+08:00", "reason": "需协调"},
        ),
        # the leader passes, and is told the deadline already is that late (the supervisor's)
        {
            "anonymous": 401,
            "gateway": 401,
            "unit": 403,
            "stranger": 403,
            "supervisor": 200,
            "leader": 409,
        },
    ),
    (
        ("dispatch", "POST", "/v1/assignments/{id}/claim", None),
        {
            "anonymous": 401,
            "gateway": 401,
            "stranger": 403,
            "supervisor": 403,
            "office": 403,
            "leader": 403,
            "unit": 200,
        },
    ),
    (
        ("notify", "GET", "/v1/notifications?issue_id={id}", None),
        {"anonymous": 401, "gateway": 401, "unit": 401, "leader": 401, "admin": 200},
    ),
    (
        ("notify", "POST", "/v1/notifications/{delivery}/resend", None),
        {"anonymous": 401, "unit": 401, "admin": 201},
    ),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("matrix")
    services = {
        name: build(
            name,
            tmp_path,
            LOUDONG_ADMIN_TOKEN=ADMIN_TOKEN,
        )
        for name in SERVICES
    }
    now = datetime.now(UTC)
    with services["intake"].store.unit_of_work() as uow:
        _, gateway = gateways.create(uow.conn, "fixmystreet", ("submit", "read", "feedback"), now)
        _, read_only = gateways.create(uow.conn, "fixmystreet", ("read",), now)
        _, other = gateways.create(uow.conn, "wechat", ("submit", "read", "feedback"), now)
    with services["dispatch"].store.unit_of_work() as uow:
        tokens = {
            who: units.issue_token(uow, unit_id)
            for who, unit_id in {
                "unit": PROPERTY,
                "stranger": STRANGER,
                "supervisor": COMMITTEE,
                "office": OFFICE,
                "leader": LEADER,
            }.items()
        }
    bearer = {
        "gateway": gateway,
        "read_only": read_only,
        "other_gateway": other,
        "read_all": AUTH["Authorization"].removeprefix("Bearer "),
        "admin": ADMIN_TOKEN,
        **tokens,
    }
    headers = {p: {"Authorization": f"Bearer {t}"} for p, t in bearer.items()} | {"anonymous": {}}
    submitted = (
        services["intake"]
        .app.test_client()
        .post("/v1/issues", headers=headers["gateway"], json=SUBMISSION)
    )
    assert submitted.status_code == 201
    for _ in range(4):  # the issue reaches dispatch, escalation (clocks, tokens) and notify
        for service in services.values():
            service.bus.poll_once()
    shown = (
        services["notify"]
        .app.test_client()
        .get(f"/v1/notifications?issue_id={submitted.json['id']}", headers=headers["admin"])
    )
    yield {
        "services": services,
        "headers": headers,
        "id": submitted.json["id"],
        "delivery": shown.json["notifications"][0]["id"],
    }
    for service in services.values():
        service.store.dispose()


CELLS = [
    pytest.param(op, who, status, id=f"{op[0]} {op[1]} {op[2]} as {who}")
    for op, expected in MATRIX
    for who, status in expected.items()
]


@pytest.mark.parametrize("operation, principal, status", CELLS)
def test_each_principal_gets_what_the_matrix_says(world, operation, principal, status):
    service, method, path, body = operation
    client = world["services"][service].app.test_client()
    url = path.format(id=world["id"], delivery=world["delivery"])

    response = client.open(url, method=method, headers=world["headers"][principal], json=body)

    assert response.status_code == status, response.get_data(as_text=True)[:300]


def test_every_principal_is_in_the_table_at_least_once():
    used = {who for _, expected in MATRIX for who in expected}
    assert used == set(PRINCIPALS)
