"""The public showcase (雙亮) on the real services: issues submitted through intake, claimed and
resolved by a unit with its token, answered by residents through intake; escalation arms the
deadlines dispatch counts by. Headless Chromium opens /showcase as a phone (360×740) and as a
desktop and reads the rates those issues imply; the street office approves one entry from
its browser. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import re
from datetime import datetime

import requests

from district.local_time import LOCAL_TIME
from tests.e2e.test_tiers import Client
from tests.e2e.test_unit_phone_page import _fits_the_screen, _shot, browser  # noqa: F401
from tests.helpers import SUBMISSION, wait_for

PROPERTY = "baian-xincun-property"
OFFICE = "baianba-office"


def _at(building: str) -> dict:
    return {"location": {**SUBMISSION["location"], "building": building}}


def _figures(deployment, month: str) -> dict | None:
    rows = requests.get(
        deployment.url("dispatch") + "/showcase/data.json?street=baianba", timeout=5
    ).json()["rows"]
    return next((r for r in rows if r["month"] == month), None)


def test_the_showcase_shows_the_rates_its_issues_imply(deploy, browser):  # noqa: F811
    deployment = deploy()
    client = Client(deployment, deployment.unit_tokens(PROPERTY, OFFICE))
    month = datetime.now(LOCAL_TIME).strftime("%Y-%m")
    solved, reopened, open_one = (client.submit(**_at(b)) for b in ("11", "12", "13"))
    for issue_id in (solved, reopened, open_one):
        client.status_becomes(issue_id, "dispatched")
        client.act(PROPERTY, issue_id, "claim")
        client.status_becomes(issue_id, "claimed")
    for issue_id in (solved, reopened):
        client.act(PROPERTY, issue_id, "resolve", {"resolution": "楼道杂物已清理，电话13912345678"})
        client.status_becomes(issue_id, "resolved")
    client.feedback(solved, True)
    client.feedback(reopened, False)
    # Claimed in time: 2 of 3 (the reopened one waits for its unit again); resolved in time:
    # 1 of 1 (the other resolved one was reopened; the open one is not yet due); satisfied: 1 of 2.
    expected = {"received": 3, "claimed_on_time": 2, "with_claim_deadline": 3}
    expected |= {"resolved_in_time": 1, "resolved_or_overdue": 1, "satisfied": 1, "answered": 2}
    wait_for(
        lambda: (f := _figures(deployment, month)) and {k: f[k] for k in expected} == expected,
        timeout=30,
        what="dispatch to count the three issues with escalation's deadlines",
    )

    office = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    desk = office.new_page()
    desk.goto(deployment.url("dispatch") + "/units/sign-in")
    desk.fill("input[name=token]", client.tokens[OFFICE]["Authorization"].split()[1])
    desk.click("form button")
    desk.goto(deployment.url("dispatch") + "/desk/showcase")
    desk.locator(f"#i{solved} form[action$='/approve'] button").click()
    desk.wait_for_selector("text=已批准展示。")

    phone = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="zh-CN", device_scale_factor=2
    )
    page = phone.new_page()
    page.goto(deployment.url("dispatch") + "/showcase/baianba")
    row = page.locator(f"#rates tr[data-month='{month}']")
    assert row.locator(".received").inner_text() == "3"
    assert re.sub(r"\s+", " ", row.locator(".response_rate").inner_text()) == "67% 2/3"
    assert re.sub(r"\s+", " ", row.locator(".resolution_rate").inner_text()) == "100% 1/1"
    assert re.sub(r"\s+", " ", row.locator(".satisfaction_rate").inner_text()) == "50% 1/2"
    assert page.locator("#rates svg .series").count() >= 3
    entry = page.locator(".entry").first.inner_text()
    assert "物业管理" in entry and "百安新村" in entry and "1391****78" in entry
    assert "栋" not in entry
    assert _fits_the_screen(page)
    _shot(page, "showcase-01-phone.png")
    text = page.content()
    assert SUBMISSION["reporter"]["name"] not in text and "13800000000" not in text

    wide = office.new_page()
    wide.goto(deployment.url("dispatch") + "/showcase")
    assert wide.locator("#by-street tr[data-street='baianba']").count() == 1
    _shot(wide, "showcase-02-desktop.png")
    phone.close()
    office.close()
