"""A database that drops its connections is not an error for the caller: on PostgreSQL the
server terminates every backend of intake's and dispatch's databases between two requests, and
the next requests succeed on fresh connections; a store that stays out of reach answers 503
with Retry-After, never 500."""

from __future__ import annotations

import shutil
import uuid

import psycopg
import pytest

from tests.helpers import AUTH, SUBMISSION, build
from tests.integration.test_postgres_stores import _on_postgres


def _terminate_backends(database_url: str) -> int:
    """What a failover or an operator's pg_terminate_backend does to the services' pools."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        return len(
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchall()
        )


@pytest.mark.postgres
def test_requests_after_the_server_cut_every_connection_succeed(tmp_path, postgres_urls):
    intake = _on_postgres("intake", tmp_path, postgres_urls)
    client = intake.app.test_client()
    first = client.post("/v1/issues", headers=AUTH, json=SUBMISSION)
    assert first.status_code == 201
    assert _terminate_backends(postgres_urls["intake"]) >= 1  # the pooled connection was there

    again = client.post(
        "/v1/issues", headers={**AUTH, "Idempotency-Key": str(uuid.uuid4())}, json=SUBMISSION
    )
    shown = client.get(f"/v1/issues/{first.json['id']}", headers=AUTH)

    assert again.status_code == 201, again.get_data(as_text=True)
    assert shown.status_code == 200 and shown.json["id"] == first.json["id"]
    intake.store.dispose()


@pytest.mark.postgres
def test_a_submission_whose_write_meets_a_cut_connection_is_retried_with_its_body(
    tmp_path, postgres_urls
):
    """With the key cached, nothing touches the database before the body is read: the write is
    the first to meet the dead connection, and the retry must read the same body again."""
    intake = _on_postgres("intake", tmp_path, postgres_urls, LOUDONG_KEY_CACHE_SECONDS=60)
    client = intake.app.test_client()
    assert client.post("/v1/issues", headers=AUTH, json=SUBMISSION).status_code == 201
    assert _terminate_backends(postgres_urls["intake"]) >= 1

    again = client.post(
        "/v1/issues", headers={**AUTH, "Idempotency-Key": str(uuid.uuid4())}, json=SUBMISSION
    )

    assert again.status_code == 201, again.get_data(as_text=True)
    intake.store.dispose()


def test_a_store_out_of_reach_is_a_503_with_retry_after(tmp_path):
    intake = build("intake", tmp_path)
    client = intake.app.test_client()
    assert client.get("/v1/issues?limit=1", headers=AUTH).status_code == 200
    intake.store.dispose()
    shutil.rmtree(tmp_path / "data")  # the SQLite file and its folder are gone

    response = client.get("/v1/issues?limit=1", headers=AUTH)

    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "2"
    assert "database" in response.json["detail"]
