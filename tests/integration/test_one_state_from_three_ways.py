"""A unit acting by page, by SMS and by API on the same issue at the same moment ends in one
consistent state. Dispatch runs in this process on its PostgreSQL store (bootstrapped, never
started: the broker URL is there only as PostgreSQL stores need one); each way in is its own
thread with its own test client, all released together by one barrier, so that the case's
row lock (`SELECT ... FOR UPDATE`) is all that stands between them."""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter

import pytest

from district.links import link_code
from services.dispatch import store, units
from tests.helpers import LINK_SECRET, build, emitted, event

pytestmark = pytest.mark.postgres

PROPERTY = "baian-xincun-property"
ZH = "zh-CN,zh;q=0.9"
ROUNDS = 5
RACE_TIMEOUT = 60  # seconds: a thread stuck on a lock fails the test instead of hanging it


def _submission(building: str) -> dict:
    """A sewer problem at one building of 百安新村, sent to its property company."""
    return {
        "channel": "hotline",
        "description": f"百安新村{building}栋下水道堵了，污水漫到楼道",
        "category": "property_management",
        "location": {
            "street": "baianba",
            "community": "baian",
            "compound": "baian-xincun",
            "building": building,  # a building each, or the second would be linked as a twin
        },
        "attributes": {},
        "meeting_id": None,
        "promised_by": None,
        "submitted_at": "2026-11-26T02:00:00+00:00",
    }


@pytest.fixture
def dispatch(tmp_path, postgres_urls):
    service = build(
        "dispatch",
        tmp_path,
        LOUDONG_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//",
        LOUDONG_DISPATCH_DATABASE_URL=postgres_urls["dispatch"],
    )
    assert service.store.dialect == "postgresql"
    yield service
    service.store.dispose()


@pytest.fixture
def token(dispatch) -> str:
    with dispatch.store.unit_of_work() as uow:
        return units.issue_token(uow, PROPERTY)


def _submit(dispatch, building: str) -> str:
    """An issue dispatch took in and sent to the property company."""
    issue_id = str(uuid.uuid4())
    dispatch.subscriber.apply(
        event("issue.submitted", issue_id, _submission(building), producer="intake").to_json()
    )
    assert [e.payload["unit_id"] for e in _events(dispatch, issue_id, "issue.dispatched")] == [
        PROPERTY
    ]
    return issue_id


def _events(dispatch, issue_id: str, type_: str | None = None):
    return [e for e in emitted(dispatch.store, type_) if e.issue_id == issue_id]


def _assignment(dispatch, issue_id: str) -> int:
    with dispatch.store.read() as conn:
        return store.current_assignment(conn, issue_id, PROPERTY).id


def _case_state(dispatch, issue_id: str) -> str:
    with dispatch.store.read() as conn:
        return store.get_case(conn, issue_id).state


def _assignment_state(dispatch, issue_id: str) -> str:
    with dispatch.store.read() as conn:
        return store.current_assignment(conn, issue_id, PROPERTY).state


def _race(**ways):
    """Run each way in its own thread, all released at once; {name: what it returned}.
    A way that raised fails the test with its exception."""
    barrier = threading.Barrier(len(ways), timeout=RACE_TIMEOUT)
    results, errors = {}, {}

    def run(name, act):
        try:
            barrier.wait()
            results[name] = act()
        except BaseException as exc:  # handed to the test below
            errors[name] = exc

    threads = [threading.Thread(target=run, args=item, name=item[0]) for item in ways.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(RACE_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a way in is still waiting (deadlock?)"
    if errors:
        name, exc = next(iter(errors.items()))
        raise AssertionError(f"the {name} way raised {exc!r}") from exc
    return results


# The three ways in, each prepared before the race (its client, session, CSRF token and
# message) so that only the act itself is raced.


def _told(done: dict) -> dict:
    """What each way was answered, short enough to read in a failure."""
    told = {}
    for way, (first, second) in done.items():
        if way == "sms":
            told[way] = (first, [(a["accepted"], a["detail"]) for a in second])
        elif way == "api":
            told[way] = (first, (second or {}).get("state"), (second or {}).get("detail"))
        else:
            found = re.search(r'<p class="error" role="alert">([^<]*)</p>', second)
            told[way] = (first, found.group(1) if found else None)
    return told


def _api(dispatch, issue_id: str, token: str, action: str = "claim", body: dict | None = None):
    client = dispatch.app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def act():
        response = client.post(
            f"/v1/assignments/{issue_id}/{action}", headers=headers, json=body or {}
        )
        return response.status_code, response.get_json()

    return act


def _page(dispatch, issue_id: str):
    """The unit's phone: opens its SMS link, reads the page, then sends the claim form."""
    phone = dispatch.app.test_client()
    phone.environ_base["HTTP_ACCEPT_LANGUAGE"] = ZH
    code = link_code(LINK_SECRET, issue_id, PROPERTY, _assignment(dispatch, issue_id))
    opened = phone.get(f"/u/{code}")
    assert opened.status_code == 303, opened.data
    page = phone.get(opened.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and ">认领<" in html
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    def act():
        response = phone.post(
            f"/units/issues/{issue_id}/claim",
            data={"csrf_token": csrf},
            content_type="multipart/form-data",
        )
        return response.status_code, response.get_data(as_text=True)

    return act


def _sms(dispatch, issue_id: str, action: str = "claim", text: str = ""):
    """The unit's reply as notify hands it on (unit.replied); (outcome, its unit.reply_applied)."""
    inbound_id = str(uuid.uuid4())
    body = event(
        "unit.replied",
        issue_id,
        {
            "issue_id": issue_id,
            "assignment": _assignment(dispatch, issue_id),
            "unit_id": PROPERTY,
            "action": action,
            "text": text,
            "inbound_id": inbound_id,
        },
        producer="notify",
    ).to_json()

    def act():
        outcome = dispatch.subscriber.apply(body)
        answers = [
            e.payload
            for e in emitted(dispatch.store, "unit.reply_applied")
            if e.payload["inbound_id"] == inbound_id
        ]
        return outcome, answers

    return act


def test_a_claim_by_page_by_sms_and_by_api_at_once_has_exactly_one_winner(dispatch, token):
    winners = Counter()
    for round_ in range(ROUNDS):
        issue_id = _submit(dispatch, str(10 + round_))
        before = [e.type for e in _events(dispatch, issue_id)]

        done = _race(
            api=_api(dispatch, issue_id, token),
            page=_page(dispatch, issue_id),
            sms=_sms(dispatch, issue_id),
        )

        (api_status, api_body), (page_status, page_html) = done["api"], done["page"]
        sms_outcome, sms_answers = done["sms"]
        assert sms_outcome == "applied"  # answered either way: never retried, never dead
        [answer] = sms_answers
        won = {
            "api": api_status == 200,
            "page": page_status == 303,
            "sms": answer["accepted"] is True,
        }
        context = f"round {round_}: {_told(done)}"
        assert sum(won.values()) == 1, f"not exactly one winner in {context}"
        winner = next(way for way, w in won.items() if w)
        winners[winner] += 1

        if winner == "api":
            assert api_body["state"] == "claimed", context
        else:
            assert api_status == 409 and api_body["state"] == "claimed", context
        if winner != "page":
            assert page_status == 409, context
            assert "不能认领" in page_html and "办理中" in page_html, context
        if winner == "sms":
            assert "已认领" in answer["detail"], context
        else:
            assert answer["detail"] == "该件已认领", context

        [claimed] = _events(dispatch, issue_id, "issue.claimed")
        assert claimed.payload["unit_id"] == PROPERTY
        assert claimed.payload["assignment"] == _assignment(dispatch, issue_id)
        assert _case_state(dispatch, issue_id) == "claimed"
        assert _assignment_state(dispatch, issue_id) == "claimed"
        after = [e.type for e in _events(dispatch, issue_id)]
        assert after[: len(before)] == before
        assert sorted(after[len(before) :]) == ["issue.claimed", "unit.reply_applied"], context

    assert sum(winners.values()) == ROUNDS, winners


def test_a_claim_by_api_racing_a_resolve_by_sms_ends_in_a_state_the_lifecycle_allows(
    dispatch, token
):
    endings = Counter()
    for round_ in range(ROUNDS * 2):
        issue_id = _submit(dispatch, str(30 + round_))
        before = [e.type for e in _events(dispatch, issue_id)]

        done = _race(
            api=_api(dispatch, issue_id, token),
            sms=_sms(dispatch, issue_id, "resolve", "管道已疏通"),
        )

        (api_status, api_body), (sms_outcome, sms_answers) = done["api"], done["sms"]
        context = f"round {round_}: {_told(done)}"
        assert api_status == 200, context  # nothing else can take the claim away
        assert sms_outcome == "applied"
        [answer] = sms_answers
        after = [e.type for e in _events(dispatch, issue_id)]
        assert after[: len(before)] == before, context
        types = after[len(before) :]
        state = _case_state(dispatch, issue_id)

        if answer["accepted"]:  # the resolve came after the claim had committed
            endings["claimed, then resolved"] += 1
            assert answer["detail"] == "已办结，将请居民评价", context
            assert types == ["issue.claimed", "issue.resolved", "unit.reply_applied"], context
            assert state == "resolved" and _assignment_state(dispatch, issue_id) == "resolved"
            [resolved] = _events(dispatch, issue_id, "issue.resolved")
            assert resolved.payload["resolution"] == "管道已疏通"
        else:  # the resolve came first and was refused, changing nothing
            endings["resolve refused, claimed"] += 1
            assert answer["detail"] == "该件尚未认领，请先认领再办结", context
            assert sorted(types) == ["issue.claimed", "unit.reply_applied"], context
            assert state == "claimed" and _assignment_state(dispatch, issue_id) == "claimed"
            assert _events(dispatch, issue_id, "issue.resolved") == []
        assert len(_events(dispatch, issue_id, "issue.claimed")) == 1
        # What the API answered is what the store holds once its transaction committed.
        assert api_body["state"] in ("claimed", "resolved"), context

    assert sum(endings.values()) == ROUNDS * 2, endings
