"""Each tier end to end — submit, dispatch, claim, resolve, feedback, closed or reopened — and
the return and arbitration path, with every service its own process."""

import pytest
import requests

from tests.helpers import AUTH, SUBMISSION, wait_for

# (what is submitted, the tier it gets, its lead unit, the resident satisfied?)
TIERS = [
    (
        {"category": "neighbour_dispute", "location": {"street": "wuqiao", "community": "lianhua"}},
        "private",
        "lianhua-committee",
        True,
    ),
    ({}, "small", "baian-xincun-property", True),
    (
        {"category": "urban_management", "location": {"street": "taibai", "community": "wenhua"}},
        "big",
        "taibai-office",
        False,
    ),
    (
        {
            "attributes": {"households_affected": 30, "repeated": "yes"},
            "location": {
                "street": "zhonggulou",
                "community": "zhonggulou-community",
                "compound": "lianzufang",
            },
        },
        "hard",
        "housing-bureau",
        True,
    ),
]


class Client:
    def __init__(self, deployment, tokens):
        self.d, self.tokens = deployment, tokens

    def submit(self, **changes) -> str:
        response = requests.post(
            self.d.url("intake") + "/v1/issues",
            headers=AUTH,
            timeout=5,
            json={**SUBMISSION, **changes},
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def issue(self, issue_id) -> dict:
        return requests.get(
            f"{self.d.url('intake')}/v1/issues/{issue_id}", headers=AUTH, timeout=5
        ).json()

    def status_becomes(self, issue_id, status) -> dict:
        return wait_for(
            lambda: (lambda i: i if i["status"] == status else None)(self.issue(issue_id)),
            timeout=30,
            what=f"{issue_id} {status}",
        )

    def act(self, unit_id, issue_id, action, body=None):
        path = (
            f"/v1/issues/{issue_id}/{action}"
            if action in ("arbitrate", "tier")
            else f"/v1/assignments/{issue_id}/{action}"
        )
        response = requests.post(
            self.d.url("dispatch") + path, headers=self.tokens[unit_id], json=body or {}, timeout=5
        )
        assert response.status_code < 300, response.text
        return response.json()

    def feedback(self, issue_id, satisfied):
        response = requests.post(
            f"{self.d.url('intake')}/v1/issues/{issue_id}/feedback",
            headers=AUTH,
            timeout=5,
            json={"satisfied": satisfied, "rating": 5 if satisfied else 1},
        )
        assert response.status_code == 201, response.text


@pytest.fixture
def client(deploy):
    deployment = deploy()
    units = {lead for _, _, lead, _ in TIERS} | {"baian-committee", "baianba-office"}
    return Client(deployment, deployment.unit_tokens(*sorted(units)))


def test_every_tier_from_submission_to_closed_or_reopened(client):
    issues = [
        (client.submit(**body), tier, lead, satisfied) for body, tier, lead, satisfied in TIERS
    ]

    for issue_id, tier, lead, satisfied in issues:
        shown = client.status_becomes(issue_id, "dispatched")
        assert (shown["tier"], shown["assigned_unit"]["id"]) == (tier, lead)
        client.act(lead, issue_id, "claim")
        client.status_becomes(issue_id, "claimed")
        client.act(lead, issue_id, "resolve", {"resolution": "已处理"})
        client.status_becomes(issue_id, "resolved")
        client.feedback(issue_id, satisfied)

    for issue_id, _tier, lead, satisfied in issues:
        if satisfied:
            assert client.status_becomes(issue_id, "closed")["status"] == "closed"
        else:
            reopened = client.status_becomes(issue_id, "dispatched")
            assert reopened["tier"] == "hard" and reopened["assigned_unit"]["id"] == lead
            assert any(t["type"] == "issue.reopened" for t in reopened["timeline"])


def test_returns_walk_the_candidates_then_the_street_office_arbitrates(client):
    issue_id = client.submit()
    client.status_becomes(issue_id, "dispatched")

    for lead in ("baian-xincun-property", "baian-committee", "baianba-office"):
        wait_for(
            lambda lead=lead: client.issue(issue_id)["assigned_unit"]["id"] == lead,
            timeout=30,
            what=f"sent to {lead}",
        )
        client.act(lead, issue_id, "return", {"reason": "wrong_function"})
    wait_for(
        lambda: any(
            "returned by baianba-office" in t["summary"] for t in client.issue(issue_id)["timeline"]
        ),
        timeout=30,
        what="the third return",
    )
    client.act("baianba-office", issue_id, "arbitrate", {"unit_id": "baian-xincun-property"})
    client.status_becomes(issue_id, "dispatched")
    refused = requests.post(
        f"{client.d.url('dispatch')}/v1/assignments/{issue_id}/return",
        timeout=5,
        headers=client.tokens["baian-xincun-property"],
        json={"reason": "wrong_place"},
    )
    client.act("baian-xincun-property", issue_id, "claim")

    assert refused.status_code == 409
    assert (
        client.status_becomes(issue_id, "claimed")["assigned_unit"]["id"] == "baian-xincun-property"
    )
