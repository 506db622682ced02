"""Only a gateway with a valid key gets in, sees only what it submitted, and within its rate."""

import os
import subprocess
import sys

import pytest

from shared.config import REPO_ROOT
from tests.helpers import AUTH, SUBMISSION, build


def _problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.json


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
    ],
)
def test_a_missing_or_wrong_key_is_401(intake, headers):
    response = intake.app.test_client().post("/v1/issues", headers=headers, json=SUBMISSION)

    _problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_is_401(intake, make_key):
    from services.intake import commands, gateways

    headers = make_key("hotline")
    with intake.store.unit_of_work() as uow:
        [key] = [k for k in gateways.listing(uow.conn) if k["gateway"] == "hotline"]
        commands.revoke_key(uow, intake.context, key["id"])

    _problem(intake.app.test_client().get("/v1/issues", headers=headers), 401)


def test_a_key_without_the_scope_is_403(intake, make_key):
    read_only = make_key("dashboard", "read")

    problem = _problem(
        intake.app.test_client().post("/v1/issues", headers=read_only, json=SUBMISSION), 403
    )

    assert "submit" in problem["detail"]


def test_a_gateway_reads_only_its_own_issues_unless_read_all(intake, make_key):
    client = intake.app.test_client()
    wechat, hotline, auditor = (
        make_key("wechat"),
        make_key("hotline"),
        make_key("auditor", "read", "read:all"),
    )
    issue_id = client.post("/v1/issues", headers=wechat, json=SUBMISSION).json["id"]

    assert client.get(f"/v1/issues/{issue_id}", headers=wechat).status_code == 200
    _problem(client.get(f"/v1/issues/{issue_id}", headers=hotline), 404)
    seen_by_auditor = client.get(f"/v1/issues/{issue_id}", headers=auditor).json
    assert seen_by_auditor["reporter"]["phone"] != "+8613800000000"  # masked for another gateway
    assert client.get("/v1/issues", headers=hotline).json["issues"] == []
    assert [i["id"] for i in client.get("/v1/issues", headers=auditor).json["issues"]] == [issue_id]


def test_past_the_rate_limit_a_key_gets_429_with_retry_after(tmp_path):
    intake = build("intake", tmp_path, LOUDONG_RATE_LIMIT="3/minute")
    client = intake.app.test_client()

    statuses = [client.get("/v1/issues", headers=AUTH).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    last = client.get("/v1/issues", headers=AUTH)
    assert 0 < int(last.headers["Retry-After"]) <= 60
    intake.store.dispose()


def test_keys_are_made_listed_and_revoked_from_the_command_line(tmp_path):
    env = {**os.environ, "LOUDONG_DATA_DIR": str(tmp_path / "data")}

    def loudong(*args):
        return subprocess.run(
            [sys.executable, "-m", "services.cli", "keys", *args],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    created = loudong("create", "street-desk", "--scope", "submit")
    key_id, key = created.split()[2], created.splitlines()[1]
    intake = build("intake", tmp_path)
    client = intake.app.test_client()
    assert (
        client.post(
            "/v1/issues", headers={"Authorization": f"Bearer {key}"}, json=SUBMISSION
        ).status_code
        == 201
    )
    assert "street-desk" in loudong("list") and key not in loudong("list")
    loudong("revoke", key_id)
    assert (
        client.post(
            "/v1/issues", headers={"Authorization": f"Bearer {key}"}, json=SUBMISSION
        ).status_code
        == 401
    )
    intake.store.dispose()
