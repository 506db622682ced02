"""A gateway that sends the same issue twice, even at the same moment, gets the first one back."""

import hashlib
import json
import threading

from prometheus_client import REGISTRY
from sqlalchemy import update

from services.intake import store as intake_store
from tests.helpers import AUTH, SUBMISSION, count_rows, emitted


def _post(client, body=SUBMISSION, key=None):
    headers = {**AUTH, **({"Idempotency-Key": key} if key else {})}
    return client.post("/v1/issues", headers=headers, json=body)


def test_the_same_idempotency_key_returns_the_first_issue(intake):
    client = intake.app.test_client()

    first, again = _post(client, key="k-1"), _post(client, key="k-1")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json
    assert count_rows(intake.store, intake_store.issues) == 1
    assert len(emitted(intake.store, "issue.submitted")) == 1


def test_the_same_external_id_from_the_same_gateway_returns_the_first_issue(intake, make_key):
    client = intake.app.test_client()
    body = {**SUBMISSION, "external_id": "12345-2026-0001"}

    first = client.post("/v1/issues", headers=AUTH, json=body)
    again = client.post("/v1/issues", headers=AUTH, json=body)
    other_gateway = client.post("/v1/issues", headers=make_key("wechat"), json=body)

    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    assert other_gateway.status_code == 201 and other_gateway.json["id"] != first.json["id"]


def test_the_same_key_with_a_different_body_is_422_and_stores_nothing(intake):
    client = intake.app.test_client()
    _post(client, key="k-1")

    response = _post(client, body={**SUBMISSION, "description": "另一件事"}, key="k-1")

    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert count_rows(intake.store, intake_store.issues) == 1


def test_two_identical_requests_racing_make_one_issue(intake):
    results, start = [], threading.Barrier(4)

    def send():
        client = intake.app.test_client()
        start.wait()
        response = _post(client, key="race")
        results.append((response.status_code, response.json["id"]))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(code for code, _ in results) == [200, 200, 200, 201]
    assert len({issue_id for _, issue_id in results}) == 1
    assert count_rows(intake.store, intake_store.issues) == 1


def test_a_repeat_is_counted_once_among_accepted_issues(intake):
    client = intake.app.test_client()
    labels = {"channel": "hotline", "category": "property_management"}
    before = REGISTRY.get_sample_value("loudong_intake_issues_accepted_total", labels) or 0

    _post(client, key="k-count")
    _post(client, key="k-count")

    assert REGISTRY.get_sample_value("loudong_intake_issues_accepted_total", labels) - before == 1


def test_a_key_remembered_before_extra_attributes_were_kept_still_finds_its_issue(intake):
    client = intake.app.test_client()
    first = _post(client, key="k-old")
    loaded = intake.context.submission_schema.load(SUBMISSION)
    del loaded["extra_attributes"]  # the submission as the release before this one hashed it
    old_hash = hashlib.sha256(json.dumps(loaded, sort_keys=True, default=str).encode()).hexdigest()
    with intake.store.unit_of_work() as uow:
        uow.conn.execute(update(intake_store.idempotency_keys).values(request_hash=old_hash))

    again = _post(client, key="k-old")

    assert again.status_code == 200 and again.json["id"] == first.json["id"]
