"""The district leader at a desk, as a person uses the board: an unclaimed issue climbs to
leader-north within seconds (fast policies), the leader signs in with its token in headless
Chromium at 1280×800, sees the issue with its ladder, extends the supervision deadline with a
reason, and the new due time is read back through escalation's API; then the same board on a
360-px phone. Run on both backends: the board's summaries arrive by issue.dispatched and its
table is migrated on PostgreSQL too. Screenshots go under tests/artifacts/ (git-ignored)
for a person to look at."""

from __future__ import annotations

from datetime import datetime, timedelta

import requests

from district.links import reference
from district.local_time import local
from tests.e2e.test_unit_phone_page import _fits_the_screen, _shot, browser  # noqa: F401
from tests.helpers import AUTH, SUBMISSION, wait_for

LEADER = "leader-north"


def _supervision(deployment, issue_id: str) -> dict | None:
    """The issue's supervision clock from escalation's API, once there is one."""
    answer = requests.get(f"{deployment.url('escalation')}/v1/issues/{issue_id}/clocks", timeout=5)
    clocks = answer.json().get("clocks", []) if answer.status_code == 200 else []
    return next((c for c in clocks if c["clock"] == "supervision"), None)


def test_a_leader_sees_a_supervised_issue_with_its_ladder_and_extends_its_deadline(
    deploy,
    fast_policies,
    browser,  # noqa: F811
):
    deployment = deploy(LOUDONG_POLICIES=fast_policies)
    token = deployment.unit_tokens(LEADER)[LEADER]["Authorization"].split()[1]
    issue_id = requests.post(
        deployment.url("intake") + "/v1/issues", json=SUBMISSION, headers=AUTH, timeout=5
    ).json()["id"]
    opened = wait_for(
        lambda: _supervision(deployment, issue_id), timeout=60, what="supervision at the leader"
    )
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="zh-CN", device_scale_factor=1
    )
    page = context.new_page()

    page.goto(deployment.url("escalation") + "/leader")
    assert page.url.endswith("/leader/sign-in")
    page.fill("input[name=token]", token)
    page.click("form[action$='/leader/sign-in'] button")
    card = page.locator(f"#issue-{issue_id}")
    card.wait_for()
    shown = card.inner_text()
    assert reference(issue_id) in shown and "下水道堵了" in shown and "3栋" in shown
    assert "超时未认领" in shown and "百安坝街道办事处 → 包片区领导（百安坝、钟鼓楼）" in shown
    assert "13800000000" not in page.content() and "张三" not in page.content()
    _shot(page, "leader-01-board.png")

    until = local(datetime.fromisoformat(opened["due_at"]) + timedelta(days=3)).replace(
        second=0, microsecond=0
    )
    extend = card.locator("form.extend")
    extend.locator("select[name=clock]").select_option("supervision")
    extend.locator("input[name=until]").fill(f"{until:%Y-%m-%dT%H:%M}")
    extend.locator("textarea[name=reason]").fill("需协调区住建委，延期三天")
    extend.locator("button").click()
    page.wait_for_selector("text=期限已延长。")
    assert "需协调区住建委，延期三天" in page.locator(f"#issue-{issue_id}").inner_text()
    _shot(page, "leader-02-extended.png")

    extended = wait_for(lambda: _supervision(deployment, issue_id), what="the clock")
    assert datetime.fromisoformat(extended["due_at"]) == until
    assert extended["state"] == "armed"
    page.set_viewport_size({"width": 360, "height": 740})
    page.reload()
    page.locator(f"#issue-{issue_id}").wait_for()
    assert _fits_the_screen(page)
    _shot(page, "leader-03-phone.png")
    context.close()
