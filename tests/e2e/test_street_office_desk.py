"""The street office's desk in headless Chromium at a desktop size, on both backends: the office
signs in with its token, watches a new issue appear on the board without reloading, classifies
an issue no keyword could, arbitrates one returned too often, calls a work day, raises an issue
with a promise and prints the agenda to A4 (PDF). States are read back through the API;
screenshots and the PDF are kept under tests/artifacts/."""

from __future__ import annotations

import requests

from tests.e2e.test_unit_phone_page import ARTIFACTS, _shot, browser  # noqa: F401  (fixture)
from tests.helpers import AUTH, SUBMISSION, wait_for

OFFICE = "baianba-office"
PROPERTY = "baian-xincun-property"


def _submit(deployment, **changes) -> str:
    body = {**SUBMISSION, **changes}
    response = requests.post(
        deployment.url("intake") + "/v1/issues", json=body, headers=AUTH, timeout=5
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _case(deployment, issue_id: str, office: dict) -> dict | None:
    shown = requests.get(
        f"{deployment.url('dispatch')}/v1/assignments/{issue_id}", headers=office, timeout=5
    )
    return shown.json() if shown.status_code == 200 else None


def _returned_until_arbitration(deployment, issue_id: str, office: dict) -> None:
    """Whoever holds the issue returns it, until the street office must arbitrate."""
    for _ in range(6):
        case = wait_for(lambda: _case(deployment, issue_id, office), what="the case at dispatch")
        if case["state"] == "arbitration":
            return
        holder = case["assignments"][-1]["unit_id"]
        token = deployment.unit_tokens(holder)[holder]
        requests.post(
            f"{deployment.url('dispatch')}/v1/assignments/{issue_id}/return",
            headers=token,
            json={"reason": "wrong_function", "note": "不归我们管"},
            timeout=5,
        )
    raise AssertionError("the issue never reached arbitration")


def test_a_street_office_runs_its_desk_from_the_browser(deploy, browser):  # noqa: F811
    deployment = deploy(LOUDONG_DESK_REFRESH="PT2S")  # the board's own reload, not a wait of 20 s
    office = deployment.unit_tokens(OFFICE)[OFFICE]
    classified = _submit(deployment)
    unclassified = _submit(deployment, category=None, description="这件事说不清该找谁")
    bounced = _submit(
        deployment,
        description="7栋楼道堆满杂物",
        location={**SUBMISSION["location"], "building": "7"},
    )
    wait_for(lambda: _case(deployment, unclassified, office), what="dispatch taking it in")
    _returned_until_arbitration(deployment, bounced, office)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()

    page.goto(f"{deployment.url('dispatch')}/desk")
    page.fill("input[name=token]", office["Authorization"].removeprefix("Bearer "))
    page.click("form button[type=submit]")
    page.wait_for_selector(f"tr[data-issue='{classified}']")
    _shot(page, "desk-01-board.png")

    fresh = _submit(
        deployment,
        description="12栋电梯停了",
        location={**SUBMISSION["location"], "building": "12"},
    )
    page.wait_for_selector(f"tr[data-issue='{fresh}']", timeout=40_000)  # no reload
    assert page.evaluate("document.getElementById('board').dataset.updated") is not None

    page.click("nav a[href='/desk/triage']")
    page.wait_for_selector(f"tr[data-issue='{unclassified}']")
    assert "不归我们管" in page.inner_text(f"tr[data-issue='{bounced}']")
    _shot(page, "desk-02-triage.png")
    row = page.locator(f"tr[data-issue='{unclassified}']")
    row.locator("select[name=category]").select_option("urban_management")
    row.locator("form.triage button").click()
    page.wait_for_selector("text=已分类派单")
    row = page.locator(f"tr[data-issue='{bounced}']")
    row.locator("select[name=unit_id]").select_option(PROPERTY)
    row.locator("form.arbitrate button").click()
    page.wait_for_selector("text=已指定承办单位")

    page.click("nav a[href='/desk/meetings']")
    page.fill("input[name=place]", "百安社区会议室")
    page.check(f"input[name=attending_units][value='{PROPERTY}']")
    page.click("form[action='/desk/meetings'] button")
    page.wait_for_selector("text=楼栋工作日已召开")
    raise_form = page.locator(f"tr[data-issue='{classified}'] form.raise")
    raise_form.locator("input[name=promise]").fill("本周五前疏通并清洗楼道")
    raise_form.locator("input[name=promised_by]").fill("2026-12-04T18:00")
    raise_form.locator("button").click()
    page.wait_for_selector("text=已现场交办")
    assert "本周五前疏通并清洗楼道" in page.inner_text("#raised")
    _shot(page, "desk-03-meeting.png")
    page.emulate_media(media="print")
    _shot(page, "desk-04-agenda-print.png")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = page.pdf(path=str(ARTIFACTS / "desk-agenda.pdf"), format="A4")
    context.close()

    assert pdf.startswith(b"%PDF")
    triaged = _case(deployment, unclassified, office)
    assert triaged["category"] == "urban_management" and triaged["state"] == "dispatched"
    forced = _case(deployment, bounced, office)
    assert forced["assignments"][-1]["unit_id"] == PROPERTY
    assert forced["assignments"][-1]["forced"] is True
    promised = _case(deployment, classified, office)
    assert promised["promised_by"].startswith("2026-12-04T10:00")  # 18:00 in Beijing
