"""The units' pages through Flask's test client: a unit's SMS link opens its issue and nothing
else; forms carry a CSRF token and act through the API's commands (same states, same events);
photos are checked by decoding them; user text is escaped; links are refused once forged,
expired or revoked, and counted."""

from __future__ import annotations

import io
import os
import re

import pytest
from PIL import Image
from prometheus_client import REGISTRY
from sqlalchemy import select, update

from district.links import link_code
from services import cli
from services.dispatch import store
from services.dispatch.store import unit_links, unit_tokens
from shared.tokens import token_hash
from tests.helpers import LINK_SECRET, build, emitted, event

PROPERTY = "baian-xincun-property"
OTHER = "lianhua-committee"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def code_for(dispatch, issue_id: str, unit_id: str = PROPERTY) -> str:
    """The code notify writes in the unit's SMS for its latest assignment of the issue."""
    with dispatch.store.read() as conn:
        number = store.current_assignment(conn, issue_id, unit_id).id
    return link_code(LINK_SECRET, issue_id, unit_id, number)


def opened(phone, dispatch, issue_id: str, unit_id: str = PROPERTY):
    """The issue page, reached as the unit does: through its link."""
    response = phone.get(f"/u/{code_for(dispatch, issue_id, unit_id)}")
    assert response.status_code == 303, response.data
    return phone.get(response.headers["Location"])


def csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def post(phone, page, path: str, data: dict | None = None, files=()):
    """A form of the page sent as the browser sends it (with the page's CSRF token)."""
    body = {"csrf_token": csrf(page), **(data or {})}
    if files:
        body["photos"] = [(io.BytesIO(content), name) for name, content in files]
    return phone.post(path, data=body, content_type="multipart/form-data")


def png(size=(40, 30), color=(200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def refusals(reason: str) -> float:
    return (
        REGISTRY.get_sample_value("loudong_dispatch_link_refusals_total", {"reason": reason}) or 0
    )


PHOTO_REASONS = ("photo_not_an_image", "photo_too_large", "photo_too_many")


def page_refusals(reason: str) -> float:
    return (
        REGISTRY.get_sample_value("loudong_dispatch_page_refusals_total", {"reason": reason}) or 0
    )


def assignment_state(dispatch, issue_id: str, unit_id: str = PROPERTY) -> str:
    with dispatch.store.read() as conn:
        return store.current_assignment(conn, issue_id, unit_id).state


def test_a_link_opens_its_issue_with_what_where_and_what_to_do(dispatch, submit, phone):
    issue_id = submit()

    page = opened(phone, dispatch, issue_id)

    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert '<html lang="zh-CN">' in html
    assert "楼道里的杂物堆了一个月" in html and "3栋" in html and "百安新村" in html
    assert issue_id.replace("-", "")[:8] in html
    assert ">认领<" in html and "退回原因" in html and "待认领" in html
    assert "Content-Security-Policy" in page.headers


def test_dispatch_records_a_link_for_every_assignment_lead_and_co(dispatch, submit):
    issue_id = submit(
        category="urban_management", location={"street": "wuqiao", "community": "lianhua"}
    )

    with dispatch.store.read() as conn:
        rows = conn.execute(select(unit_links).where(unit_links.c.issue_id == issue_id)).all()
    sent = emitted(dispatch.store, "issue.dispatched")
    assert {(r.unit_id, r.assignment, r.code) for r in rows} == {
        (
            s.payload["unit_id"],
            s.payload["assignment"],
            link_code(LINK_SECRET, issue_id, s.payload["unit_id"], s.payload["assignment"]),
        )
        for s in sent
    }
    assert len(rows) == 2 and all(r.expires_at is None and r.revoked_at is None for r in rows)


def test_a_forged_link_is_refused_and_counted(phone):
    before = refusals("unknown")

    response = phone.get("/u/abcdefghij")

    assert response.status_code == 404 and "链接无效" in response.get_data(as_text=True)
    assert refusals("unknown") == before + 1


def test_a_revoked_link_stops_at_once_even_on_a_phone_that_opened_it(
    dispatch, submit, phone, tmp_path, monkeypatch, capsys
):
    issue_id = submit()
    assert opened(phone, dispatch, issue_id).status_code == 200
    before = refusals("revoked")
    monkeypatch.setenv("LOUDONG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOUDONG_LINK_SECRET", LINK_SECRET)

    assert cli.main(["units", "links", "list", PROPERTY]) == 0
    listed = capsys.readouterr().out
    assert cli.main(["units", "links", "revoke", code_for(dispatch, issue_id)]) == 0

    again = phone.get(f"/units/issues/{issue_id}")
    reopened = phone.get(f"/u/{code_for(dispatch, issue_id)}")
    assert f"/u/{code_for(dispatch, issue_id)}" in listed and "active" in listed
    assert again.status_code == 410 and reopened.status_code == 410
    assert "链接已停用" in reopened.get_data(as_text=True)
    assert refusals("revoked") == before + 2
    assert cli.main(["units", "links", "revoke", code_for(dispatch, issue_id)]) == 1


def test_a_link_expires_its_grace_after_the_issue_closes(dispatch, submit, phone, clock):
    issue_id = submit()
    page = opened(phone, dispatch, issue_id)
    page = phone.get(post(phone, page, f"/units/issues/{issue_id}/claim").headers["Location"])
    post(phone, page, f"/units/issues/{issue_id}/resolve", {"resolution": "已清理"})
    dispatch.subscriber.apply(
        event("issue.feedback_given", issue_id, {"satisfied": True, "rating": 5}).to_json()
    )
    before = refusals("expired")

    clock.advance(days=6)
    still = phone.get(f"/units/issues/{issue_id}")
    clock.advance(days=1, seconds=1)
    gone = phone.get(f"/units/issues/{issue_id}")

    assert still.status_code == 200 and "结案：居民满意" in still.get_data(as_text=True)
    assert gone.status_code == 410 and "链接已过期" in gone.get_data(as_text=True)
    assert refusals("expired") == before + 1


def test_a_link_opens_only_its_own_issue(dispatch, submit, phone):
    mine = submit()
    other = submit(location={"street": "baianba", "compound": "baian-xincun", "building": "5"})
    opened(phone, dispatch, mine)

    response = phone.get(f"/units/issues/{other}")
    claim = phone.post(f"/units/issues/{other}/claim", data={"csrf_token": "x"})

    assert response.status_code == 403 and "只能打开" in response.get_data(as_text=True)
    assert claim.status_code in (400, 403)
    assert assignment_state(dispatch, other) == "dispatched"


def test_a_signed_in_unit_cannot_open_another_units_issue(dispatch, submit, phone, as_unit):
    issue_id = submit()
    token = as_unit(OTHER)["Authorization"].removeprefix("Bearer ")
    form = phone.get("/units/sign-in")
    phone.post("/units/sign-in", data={"csrf_token": csrf(form), "token": token})

    response = phone.get(f"/units/issues/{issue_id}")

    assert response.status_code == 403 and "未派给本单位" in response.get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused(dispatch, submit, phone):
    issue_id = submit()
    opened(phone, dispatch, issue_id)

    before = page_refusals("csrf")

    response = phone.post(f"/units/issues/{issue_id}/claim")

    assert response.status_code == 400 and "表单已过期" in response.get_data(as_text=True)
    assert page_refusals("csrf") == before + 1
    assert assignment_state(dispatch, issue_id) == "dispatched"
    assert emitted(dispatch.store, "issue.claimed") == []


def test_html_in_a_note_is_shown_as_text(dispatch, submit, phone):
    issue_id = submit()
    page = opened(phone, dispatch, issue_id)
    page = phone.get(post(phone, page, f"/units/issues/{issue_id}/claim").headers["Location"])

    done = post(
        phone, page, f"/units/issues/{issue_id}/notes", {"note": '<script>alert("x")</script>'}
    )
    html = phone.get(done.headers["Location"]).get_data(as_text=True)

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    "files, refused",
    [
        ([("photo.png", b"this is not a picture at all")], "只能上传JPEG、PNG或WebP照片"),
        ([("big.png", png() + os.urandom(5 * 1024 * 1024))], "每张照片不超过5MB"),
        ([(f"p{i}.png", png()) for i in range(5)], "照片最多4张"),
        ([("truncated.png", png((400, 300))[:200])], "只能上传JPEG、PNG或WebP照片"),
    ],
    ids=["not_an_image", "oversized", "too_many", "truncated"],
)
def test_photos_that_are_not_pictures_or_too_big_are_refused_and_counted(
    dispatch, submit, phone, files, refused
):
    issue_id = submit()
    page = opened(phone, dispatch, issue_id)
    page = phone.get(post(phone, page, f"/units/issues/{issue_id}/claim").headers["Location"])

    before = sum(page_refusals(r) for r in PHOTO_REASONS)

    response = post(phone, page, f"/units/issues/{issue_id}/notes", {"note": "现场照片"}, files)

    assert response.status_code == 422 and refused in response.get_data(as_text=True)
    assert emitted(dispatch.store, "issue.progress_noted") == []
    assert sum(page_refusals(r) for r in PHOTO_REASONS) == before + 1


def test_a_photo_is_shown_to_the_units_session_only(dispatch, submit, phone, as_unit):
    issue_id = submit()
    page = opened(phone, dispatch, issue_id)
    page = phone.get(post(phone, page, f"/units/issues/{issue_id}/claim").headers["Location"])
    picture = png()

    done = post(
        phone, page, f"/units/issues/{issue_id}/notes", {"note": "现场"}, [("a.png", picture)]
    )
    html = phone.get(done.headers["Location"]).get_data(as_text=True)
    [url] = re.findall(r'<img src="(/units/photos/[0-9a-f]+)"', html)

    shown = phone.get(url)
    stranger = dispatch.app.test_client().get(url)
    other = dispatch.app.test_client()
    form = other.get("/units/sign-in")
    token = as_unit(OTHER)["Authorization"].removeprefix("Bearer ")
    other.post("/units/sign-in", data={"csrf_token": csrf(form), "token": token})
    assert (shown.status_code, shown.mimetype, shown.data) == (200, "image/png", picture)
    assert stranger.status_code == 303 and "/units/sign-in" in stranger.headers["Location"]
    assert other.get(url).status_code == 403


def test_forms_claim_note_and_resolve_as_the_api_does(dispatch, submit, phone, as_unit):
    by_page = submit()
    by_api = submit(location={"street": "baianba", "compound": "baian-xincun", "building": "5"})
    headers, api = as_unit(PROPERTY), dispatch.app.test_client()
    for path, body in (
        ("claim", None),
        ("notes", {"note": "已联系"}),
        ("resolve", {"resolution": "已清理"}),
    ):
        api.post(f"/v1/assignments/{by_api}/{path}", headers=headers, json=body or {})

    page = opened(phone, dispatch, by_page)
    claimed = post(phone, page, f"/units/issues/{by_page}/claim")
    page = phone.get(claimed.headers["Location"])
    twice = post(phone, page, f"/units/issues/{by_page}/claim")
    noted = post(
        phone, page, f"/units/issues/{by_page}/notes", {"note": "已联系"}, [("a.png", png())]
    )
    resolved = post(phone, page, f"/units/issues/{by_page}/resolve", {"resolution": "已清理"})
    final = phone.get(resolved.headers["Location"]).get_data(as_text=True)

    assert [r.status_code for r in (claimed, noted, resolved)] == [303, 303, 303]
    assert twice.status_code == 409 and "办理中" in twice.get_data(as_text=True)
    assert "已办结，将请居民评价" in final and "已清理" in final
    types = [e.type for e in emitted(dispatch.store) if e.issue_id == by_page]
    assert types == [e.type for e in emitted(dispatch.store) if e.issue_id == by_api]
    assert types[-3:] == ["issue.claimed", "issue.progress_noted", "issue.resolved"]
    with dispatch.store.read() as conn:
        assert store.get_case(conn, by_page).state == "resolved"
        assert store.get_case(conn, by_page).resolution == "已清理"
    seen = api.get(f"/v1/assignments/{by_page}", headers=headers).json
    assert seen["state"] == "resolved" and seen["assignments"][0]["state"] == "resolved"


def test_a_return_by_form_goes_to_the_next_candidate(dispatch, submit, phone):
    issue_id = submit()
    page = opened(phone, dispatch, issue_id)

    done = post(
        phone,
        page,
        f"/units/issues/{issue_id}/return",
        {"reason": "wrong_place", "note": "不归我们"},
    )

    assert done.status_code == 303
    [returned] = emitted(dispatch.store, "issue.returned")
    assert returned.payload["reason"] == "wrong_place" and returned.payload["note"] == "不归我们"
    assert emitted(dispatch.store, "issue.dispatched")[-1].payload["unit_id"] != PROPERTY
    assert "不在本单位辖区" in phone.get(done.headers["Location"]).get_data(as_text=True)


def test_an_empty_note_is_refused_naming_the_field(dispatch, submit, phone):
    issue_id = submit()
    page = opened(phone, dispatch, issue_id)
    page = phone.get(post(phone, page, f"/units/issues/{issue_id}/claim").headers["Location"])

    response = post(phone, page, f"/units/issues/{issue_id}/notes", {"note": ""})

    assert response.status_code == 422 and "进展说明" in response.get_data(as_text=True)


def test_a_unit_signs_in_with_its_token_sees_its_inbox_overdue_first_and_signs_out(
    dispatch, submit, phone, as_unit, clock
):
    later = submit()
    clock.advance(minutes=5)
    sooner = submit(location={"street": "baianba", "compound": "baian-xincun", "building": "5"})
    for issue_id, due in (
        (later, "2026-11-27T02:00:00+00:00"),
        (sooner, "2026-11-26T02:30:00+00:00"),
    ):
        dispatch.subscriber.apply(
            event("issue.clock_armed", issue_id, {"clock": "claim", "due_at": due}).to_json()
        )
    clock.advance(hours=1)  # `sooner` is now past its claim deadline
    token = as_unit(PROPERTY)["Authorization"].removeprefix("Bearer ")

    wrong = post(phone, phone.get("/units/sign-in"), "/units/sign-in", {"token": "lu_nope"})
    signed = post(phone, phone.get("/units/sign-in"), "/units/sign-in", {"token": token})
    inbox = phone.get(signed.headers["Location"])
    html = inbox.get_data(as_text=True)

    assert wrong.status_code == 401 and "令牌无效" in wrong.get_data(as_text=True)
    assert signed.status_code == 303 and signed.headers["Location"].endswith("/units/inbox")
    assert html.index(sooner) < html.index(later) and "已超时" in html
    assert phone.get(f"/units/issues/{later}").status_code == 200
    with dispatch.store.unit_of_work() as uow:  # revoked: the session stops at once
        uow.conn.execute(
            update(unit_tokens)
            .where(unit_tokens.c.token_hash == token_hash(token))
            .values(revoked_at=clock())
        )
    assert phone.get("/units/inbox").status_code == 303
    out = post(phone, phone.get("/units/sign-in"), "/units/sign-out")
    assert out.status_code == 303 and phone.get("/units/inbox").status_code == 303


def test_english_when_asked_or_preferred(dispatch, submit, phone):
    issue_id = submit()
    opened(phone, dispatch, issue_id)

    asked = phone.get(f"/units/issues/{issue_id}?lang=en").get_data(as_text=True)
    remembered = phone.get(f"/units/issues/{issue_id}").get_data(as_text=True)
    preferred = dispatch.app.test_client().get(
        "/units/sign-in", headers={"Accept-Language": "en-US,en;q=0.9"}
    )

    assert '<html lang="en">' in asked and ">Claim<" in asked and "Why it is not yours" in asked
    assert ">Claim<" in remembered
    assert "Unit sign-in" in preferred.get_data(as_text=True)


def test_without_a_link_secret_there_are_no_links_and_the_api_still_works(tmp_path):
    service = build("dispatch", tmp_path / "off", LOUDONG_LINK_SECRET="")
    try:
        client = service.app.test_client()
        page = client.get("/u/abcdefghij")
        api = client.get("/v1/inbox", headers={"Authorization": "Bearer nope"})
        assert page.status_code == 404 and "未开启" in page.get_data(as_text=True)
        assert api.status_code == 401
    finally:
        service.store.dispose()
