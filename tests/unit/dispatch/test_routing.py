"""Tier, category and place give one lead unit; the harder the matter, the higher it goes."""

import uuid
from datetime import timedelta

from services.dispatch import rules, store
from tests.helpers import build, emitted, event
from tests.unit.dispatch.conftest import SEWER, dispatched_to


def test_a_private_matter_goes_to_the_community_committee(dispatch, submit):
    issue_id = submit(
        category="neighbour_dispute", location={"street": "wuqiao", "community": "lianhua"}
    )

    assert dispatched_to(dispatch, issue_id) == [("lianhua-committee", "lead")]


def test_a_small_matter_goes_to_the_property_company_of_the_compound(dispatch, submit):
    issue_id = submit()

    assert dispatched_to(dispatch, issue_id) == [("baian-xincun-property", "lead")]
    [sent] = emitted(dispatch.store, "issue.dispatched")
    assert sent.payload["tier"] == "small" and sent.payload["unit_id"] == "baian-xincun-property"


def test_a_big_matter_is_led_by_the_street_office_with_the_department_co_handling(dispatch, submit):
    issue_id = submit(
        category="urban_management", location={"street": "wuqiao", "community": "lianhua"}
    )

    assert dispatched_to(dispatch, issue_id) == [
        ("wuqiao-office", "lead"),
        ("urban-management-bureau", "co"),
    ]


def test_lead_and_co_units_are_named_by_id_without_their_contacts_or_webhook(dispatch, submit):
    # issue.dispatched reaches intake's and escalation's queues too: a unit's phones stay in the
    # directory, where notify looks them up.
    submit(category="urban_management", location={"street": "wuqiao", "community": "lianhua"})

    sent = emitted(dispatch.store, "issue.dispatched")
    assert [s.payload["role"] for s in sent] == ["lead", "co"]
    for s in sent:
        unit = dispatch.context.directory.units[s.payload["unit_id"]]
        assert not {"unit_contacts", "unit_webhook"} & set(s.payload)
        assert not [c.phone for c in unit.contacts if c.phone in str(s.payload)]


def test_a_hard_matter_goes_to_the_department_under_the_leader_in_charge(dispatch, submit):
    issue_id = submit(attributes={"households_affected": "40", "repeated": "yes"})

    [sent] = emitted(dispatch.store, "issue.dispatched")
    assert dispatched_to(dispatch, issue_id) == [("housing-bureau", "lead")]
    assert sent.payload["tier"] == "hard" and sent.payload["overseer_id"] == "leader-north"


def test_without_a_category_the_keywords_classify_it(dispatch, submit):
    issue_id = submit(
        category=None,
        description="巷子里的路灯坏了，晚上一片漆黑",
        location={"street": "taibai", "community": "wenhua", "compound": "wenhua-alley"},
    )

    sent = emitted(dispatch.store, "issue.dispatched")[0]
    assert sent.issue_id == issue_id and sent.payload["category"] == "urban_management"


def test_english_keywords_classify_too(dispatch):
    assert (
        rules.classify(dispatch.context.directory, "The STREETLIGHT outside is broken")
        == "urban_management"
    )


def test_what_no_keyword_matches_waits_in_the_street_offices_triage(dispatch, submit, as_unit):
    issue_id = submit(category=None, description="有些事情想反映一下")
    [needed] = emitted(dispatch.store, "issue.triage_needed")
    office = as_unit("baianba-office")
    queue = dispatch.app.test_client().get("/v1/triage", headers=office).json

    triaged = dispatch.app.test_client().post(
        f"/v1/issues/{issue_id}/triage",
        headers=office,
        json={"category": "social_assistance", "flags": {}},
    )

    assert needed.payload["street_office_id"] == "baianba-office"
    assert [i["issue_id"] for i in queue["issues"]] == [issue_id]
    assert triaged.status_code == 200 and triaged.json["state"] == "dispatched"
    assert dispatched_to(dispatch, issue_id) == [("baian-committee", "lead")]


def test_only_the_street_office_triages_and_with_a_known_category(dispatch, submit, as_unit):
    issue_id = submit(category=None, description="有些事情想反映一下")
    client = dispatch.app.test_client()

    by_other = client.post(
        f"/v1/issues/{issue_id}/triage",
        headers=as_unit("wuqiao-office"),
        json={"category": "other"},
    )
    unknown = client.post(
        f"/v1/issues/{issue_id}/triage", headers=as_unit("baianba-office"), json={"category": "ufo"}
    )

    assert (
        by_other.status_code == 403
        and unknown.status_code == 422
        and "category" in unknown.json["errors"]
    )
    assert emitted(dispatch.store, "issue.dispatched") == []


def test_the_same_problem_at_the_same_building_is_linked_not_dispatched_again(dispatch, submit):
    first = submit()
    second = submit(description="3栋楼道杂物还是没人管")

    [linked] = emitted(dispatch.store, "issue.linked")
    assert linked.issue_id == second and linked.payload["primary_issue_id"] == first
    assert dispatched_to(dispatch, second) == []


def test_the_triage_queue_and_the_assignment_show_flags_alike_as_an_object(
    dispatch, submit, as_unit
):
    issue_id = submit(
        category=None, description="有些事情想反映一下", attributes={"households_affected": "12"}
    )
    office = as_unit("baianba-office")

    [queued] = dispatch.app.test_client().get("/v1/triage", headers=office).json["issues"]
    shown = dispatch.app.test_client().get(f"/v1/assignments/{issue_id}", headers=office).json

    flags = {
        "households_affected": 12,
        "needs_several_departments": False,
        "repeated_complaint": False,
    }
    assert queued["flags"] == flags and shown["flags"] == flags


def test_a_leads_dispatch_names_its_claim_deadline_by_the_districts_time_limits(tmp_path, clock):
    """The deadline the unit is told and escalation enforces: the tier's claim_within (here
    per category, in calendar time) from the dispatch; a co-handling part's is escalation's."""
    policies = tmp_path / "policies.yaml"
    policies.write_text(
        "tiers:\n"
        + "".join(
            f"  {t}: {{claim_within: PT{h}H, resolve_within: P3D, time: calendar}}\n"
            for t, h in (("private", 1), ("small", 2), ("big", 3), ("hard", 4))
        )
        + "categories:\n  urban_management:\n    claim_within: PT5H\n    time: calendar\n"
    )
    dispatch = build("dispatch", tmp_path, clock, LOUDONG_POLICIES=policies)
    try:
        small, big = str(uuid.uuid4()), str(uuid.uuid4())
        wuqiao = {"street": "wuqiao", "community": "lianhua"}
        for issue_id, changes in ((small, {}), (big, {"category": "urban_management"})):
            if changes:
                changes["location"] = wuqiao
            body = {**SEWER, **changes}
            dispatch.subscriber.apply(
                event("issue.submitted", issue_id, body, producer="intake").to_json()
            )

        named = {
            (e.issue_id, e.payload["role"]): e.payload["claim_due_at"]
            for e in emitted(dispatch.store, "issue.dispatched")
        }
        now = clock()
        assert named == {
            (small, "lead"): (now + timedelta(hours=2)).isoformat(),
            (big, "lead"): (now + timedelta(hours=5)).isoformat(),
            (big, "co"): None,
        }
        with dispatch.store.read() as conn:
            assert store.get_case(conn, small).claim_due == now + timedelta(hours=2)
    finally:
        dispatch.store.dispose()
