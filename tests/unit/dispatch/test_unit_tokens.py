"""Units' tokens are listed by id and revoked from the command line; a revoked token stops at
once on every replica (each request reads the store), and unit.token_revoked tells escalation."""

import os
import subprocess
import sys

import pytest

from services.dispatch import units
from shared.config import REPO_ROOT
from shared.errors import Conflict, Invalid, NotFound
from shared.tokens import token_hash
from tests.helpers import build, emitted

PROPERTY = "baian-xincun-property"


def _inbox(service, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return service.app.test_client().get("/v1/inbox", headers=headers).status_code


def test_a_revoked_token_stops_at_once_on_every_replica(dispatch, tmp_path):
    other_replica = build("dispatch", tmp_path)  # the same store, another process's app
    with dispatch.store.unit_of_work() as uow:
        token = units.issue_token(uow, PROPERTY)
    assert (_inbox(dispatch, token), _inbox(other_replica, token)) == (200, 200)

    with dispatch.store.unit_of_work() as uow:
        [listed] = units.tokens_of(uow.conn, PROPERTY)
        units.revoke_token(uow, listed["id"])

    assert (_inbox(dispatch, token), _inbox(other_replica, token)) == (401, 401)
    [revoked] = emitted(dispatch.store, "unit.token_revoked")
    assert revoked.payload["token_hash"] == token_hash(token)
    assert (revoked.issue_id, revoked.payload["unit_id"]) == (f"unit:{PROPERTY}", PROPERTY)
    other_replica.store.dispose()


def test_the_list_names_each_token_by_id_and_prefix_never_the_token(dispatch):
    with dispatch.store.unit_of_work() as uow:
        first, second = units.issue_token(uow, PROPERTY), units.issue_token(uow, PROPERTY)
        units.issue_token(uow, "lianhua-committee")

    with dispatch.store.read() as conn:
        listed = units.tokens_of(conn, PROPERTY)

    assert [t["id"] for t in listed] == [token_hash(first)[:12], token_hash(second)[:12]]
    assert [t["prefix"] for t in listed] == [first[:7], second[:7]]
    assert all(t["revoked_at"] is None for t in listed)


@pytest.mark.parametrize(
    "token_id, error",
    [("0000000000000", NotFound), ("abc", Invalid), ("not-hex-at-all", Invalid)],
)
def test_revoking_an_unknown_or_malformed_id_is_refused(dispatch, token_id, error):
    with pytest.raises(error), dispatch.store.unit_of_work() as uow:
        units.revoke_token(uow, token_id)


def test_revoking_twice_is_refused_and_says_nothing_more(dispatch):
    with dispatch.store.unit_of_work() as uow:
        token = units.issue_token(uow, PROPERTY)
        units.revoke_token(uow, token_hash(token)[:12])

    with pytest.raises(Conflict), dispatch.store.unit_of_work() as uow:
        units.revoke_token(uow, token_hash(token)[:12])

    assert len(emitted(dispatch.store, "unit.token_revoked")) == 1


def test_tokens_are_listed_and_revoked_from_the_command_line(tmp_path):
    env = {**os.environ, "LOUDONG_DATA_DIR": str(tmp_path / "data")}

    def loudong(*args):
        return subprocess.run(
            [sys.executable, "-m", "services.cli", "units", *args],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    token = loudong("token", PROPERTY).strip()
    [line] = loudong("tokens", "list", PROPERTY).splitlines()
    token_id = line.split()[0]
    assert token_id == token_hash(token)[:12] and "active" in line and token not in line
    dispatch = build("dispatch", tmp_path)
    assert _inbox(dispatch, token) == 200

    assert f"revoked {token_id} of {PROPERTY}" in loudong("tokens", "revoke", token_id)

    assert _inbox(dispatch, token) == 401
    assert "revoked" in loudong("tokens", "list", PROPERTY)
    dispatch.store.dispose()
