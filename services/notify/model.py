"""Notify's decisions: who is told, in what words, and when to try again."""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL_TIME = ZoneInfo("Asia/Shanghai")
_DELIVERY_NAMESPACE = uuid.UUID("6f1b7c1e-4a53-4c8e-9c3e-2b0d4d1f0a11")
REASON_WORDS = {"claim_overdue": "超时未认领", "resolve_overdue": "超时未办结", "returned_too_often": "多次退单",
                "reopened": "群众不满意", "undeliverable": "通知无法送达", "manual": "人工督办"}


@dataclass(frozen=True)
class Message:
    recipient_unit_id: str
    recipient_key: str
    address: str
    text: str


def delivery_id(event_id: str, recipient_key: str, channel: str) -> str:
    """Stable for one (event, recipient, channel): the provider's idempotency key too."""
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{event_id}|{recipient_key}|{channel}"))


def reference(issue_id: str) -> str:
    """The short issue reference printed in messages."""
    return issue_id.replace("-", "")[:8]


def dispatched_messages(issue_id: str, payload: dict) -> list[Message]:
    category = payload["category_name"] or payload["category"]
    place = payload["place_name"] or payload["place_id"]
    kind = "联办任务" if payload["role"] == "co" else "新派单"
    text = f"【楼栋】{kind} {reference(issue_id)}：{category}，地点{place}，请尽快认领。"
    return _to_contacts(payload["unit_id"], payload["unit_contacts"], text)


def escalated_messages(issue_id: str, payload: dict) -> list[Message]:
    deadline = payload["next_deadline"].astimezone(LOCAL_TIME).strftime("%m-%d %H:%M")
    reason = REASON_WORDS.get(payload["reason"], payload["reason"])
    text = (f"【楼栋】督办 {reference(issue_id)}：{reason}，已升至第{payload['level']}级由贵单位督办，"
            f"请于{deadline}前处理。")
    return _to_contacts(payload["to_unit_id"], payload["to_unit_contacts"], text)


CLOCK_WORDS = {"claim": "认领", "resolve": "办结", "supervision": "督办"}


def warning_messages(issue_id: str, payload: dict) -> list[Message]:
    deadline = payload["deadline"].astimezone(LOCAL_TIME).strftime("%m-%d %H:%M")
    what = CLOCK_WORDS.get(payload["clock"], payload["clock"])
    if payload["fraction"] >= 1:
        text = f"【楼栋】督办超期 {reference(issue_id)}：督办时限{deadline}已过，请即督促办结。"
    else:
        text = f"【楼栋】时限提醒 {reference(issue_id)}：请于{deadline}前{what}，逾期将逐级上报。"
    return _to_contacts(payload["to_unit_id"], payload["to_unit_contacts"], text)


def feedback_request_messages(issue_id: str, payload: dict) -> list[Message]:
    resolution = payload["resolution"][:40]
    text = (f"【楼栋】您反映的问题（单号{reference(issue_id)}）已办结：{resolution}。"
            f"请通过原渠道告诉我们是否满意。")
    return [Message("resident", f"resident:{issue_id}", payload["phone"], text)]


def _to_contacts(unit_id: str, contacts: list[dict], text: str) -> list[Message]:
    return [Message(unit_id, f"unit:{unit_id}:{i}", c["phone"], text) for i, c in enumerate(contacts)]


def retry_at(now: datetime, attempts: int, base: float, retry_after: float | None) -> datetime:
    """Exponential backoff with full jitter; a provider's Retry-After wins when it is longer."""
    delay = random.uniform(0, base * 2 ** (attempts - 1))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return now + timedelta(seconds=delay)
