"""A unit's phone, as a person holds it: headless Chromium 360 px wide opens the link of the
SMS the local provider received, claims the issue, adds a note with a photo and resolves it;
the states are read back through the APIs. Screenshots of each step are written under
tests/artifacts/ (git-ignored) for a person to look at."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import requests
from PIL import Image

from district.links import link_code, reference
from shared.config import REPO_ROOT
from tests.conftest import IN_CI
from tests.e2e.test_issue_flow import SUPERVISOR_PHONE, UNIT_PHONE
from tests.helpers import AUTH, LINK_SECRET, SUBMISSION, wait_for

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
UNIT = "baian-xincun-property"


@pytest.fixture
def backend_env():
    """The page is the same whatever the bus: the embedded default is enough here."""
    return {}


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing (CI=true: this must not be skipped)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium fonts-wqy-microhei)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def _photo() -> bytes:
    """A small picture taken on site: a red sign on a grey wall."""
    image = Image.new("RGB", (320, 240), (150, 150, 150))
    image.paste((200, 30, 30), (100, 70, 220, 170))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _link(deployment, sms: dict, issue_id: str, unit: dict) -> str:
    """The link the SMS carries; until notify writes one, the one it will write, derived from
    the assignment dispatch's API shows."""
    found = re.search(r"https?://\S+/u/[a-z2-7]{10}", sms["text"])
    if found:
        return found.group(0)
    shown = requests.get(
        f"{deployment.url('dispatch')}/v1/assignments/{issue_id}", headers=unit, timeout=5
    ).json()
    [mine] = [a for a in shown["assignments"] if a["unit_id"] == UNIT]
    return f"{deployment.url('dispatch')}/u/{link_code(LINK_SECRET, issue_id, UNIT, mine['id'])}"


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def _fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_unit_claims_notes_with_a_photo_and_resolves_from_its_sms_link(
    deploy, sms_provider, browser
):
    deployment = deploy()
    unit = deployment.unit_tokens(UNIT)[UNIT]
    issue_id = requests.post(
        deployment.url("intake") + "/v1/issues", json=SUBMISSION, headers=AUTH, timeout=5
    ).json()["id"]
    sms = wait_for(
        lambda: next((m for m in sms_provider.messages if m["to"] == UNIT_PHONE), None),
        timeout=30,
        what="the unit's dispatch SMS",
    )
    link = _link(deployment, sms, issue_id, unit)
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="zh-CN", device_scale_factor=2
    )
    page = context.new_page()

    page.goto(link)
    assert page.url.endswith(f"/units/issues/{issue_id}")
    assert "下水道堵了" in page.inner_text("main") and "3栋" in page.inner_text(".place")
    assert _fits_the_screen(page)
    _shot(page, "unit-01-opened.png")

    page.click("form[action$='/claim'] button")
    page.wait_for_selector("text=已认领。")
    assert _fits_the_screen(page)
    _shot(page, "unit-02-claimed.png")

    note = page.locator("form[action$='/notes']")
    note.locator("textarea[name=note]").fill("已派维修工疏通，现场照片见附件。")
    note.locator("input[type=file]").set_input_files(
        files=[{"name": "site.png", "mimeType": "image/png", "buffer": _photo()}]
    )
    note.locator("button").click()
    page.wait_for_selector("text=进展已记录。")
    image = page.locator(".timeline img").first
    image.scroll_into_view_if_needed()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 320
    _shot(page, "unit-03-noted.png")

    resolve = page.locator("form[action$='/resolve']")
    resolve.locator("textarea[name=resolution]").fill("下水道已疏通，楼道已清洗。")
    resolve.locator("button").click()
    page.wait_for_selector("text=已办结，将请居民评价。")
    assert _fits_the_screen(page)
    _shot(page, "unit-04-resolved.png")

    page.goto(f"{page.url}?lang=en")
    page.wait_for_selector("text=Timeline")
    _shot(page, "unit-05-english.png")
    context.close()

    shown = requests.get(
        f"{deployment.url('dispatch')}/v1/assignments/{issue_id}", headers=unit, timeout=5
    ).json()
    assert shown["state"] == "resolved" and shown["resolution"] == "下水道已疏通，楼道已清洗。"
    assert [a["state"] for a in shown["assignments"]] == ["resolved"]
    status = wait_for(
        lambda: (lambda i: i if i["status"] == "resolved" else None)(
            requests.get(
                f"{deployment.url('intake')}/v1/issues/{issue_id}", headers=AUTH, timeout=5
            ).json()
        ),
        what="the resolution on intake's status",
    )
    assert {"issue.claimed", "issue.progress_noted", "issue.resolved"} <= {
        t["type"] for t in status["timeline"]
    }


def test_a_supervisor_opens_its_escalation_sms_and_urges_the_unit_which_is_told_by_sms(
    deploy, fast_policies, sms_provider, browser
):
    deployment = deploy(LOUDONG_POLICIES=fast_policies)
    issue_id = requests.post(
        deployment.url("intake") + "/v1/issues", json=SUBMISSION, headers=AUTH, timeout=5
    ).json()["id"]
    escalation = wait_for(
        lambda: next((m for m in sms_provider.messages if m["to"] == SUPERVISOR_PHONE), None),
        timeout=30,
        what="the supervisor's escalation SMS",
    )
    found = re.search(r"https?://\S+/u/[a-z2-7]{10}", escalation["text"])
    assert found and "督促承办单位" in escalation["text"], escalation["text"]
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="zh-CN", device_scale_factor=2
    )
    page = context.new_page()

    page.goto(found.group(0))
    assert page.url.endswith(f"/units/issues/{issue_id}")
    assert "（督办）" in page.inner_text(
        "main"
    ) and "承办单位：百安新村物业公司" in page.inner_text("main")
    assert page.locator("form[action$='/claim']").count() == 0
    urge = page.locator("form[action$='/urge']")
    urge.locator("textarea[name=note]").fill("居民反映污水已漫到一楼，请今天内疏通")
    urge.locator("button").click()
    page.wait_for_selector("text=督办意见已发给承办单位。")
    assert _fits_the_screen(page)
    _shot(page, "supervisor-01-urged.png")
    context.close()

    urged = wait_for(
        lambda: next(
            (m for m in sms_provider.messages if m["to"] == UNIT_PHONE and "督办意见" in m["text"]),
            None,
        ),
        timeout=30,
        what="the urging SMS to the unit in charge",
    )
    assert "请今天内疏通" in urged["text"] and "/u/" in urged["text"]
    assert reference(issue_id) in urged["text"]
    status = wait_for(
        lambda: (lambda i: i if "issue.urged" in {t["type"] for t in i["timeline"]} else None)(
            requests.get(
                f"{deployment.url('intake')}/v1/issues/{issue_id}", headers=AUTH, timeout=5
            ).json()
        ),
        what="the urging on intake's status",
    )
    assert status["status"] == "dispatched"
