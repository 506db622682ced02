"""Message texts from Jinja2 templates kept in files (Chinese by default, English too), and
SMS length counted as a phone counts it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import jinja2

from district.local_time import local

DEFAULT_DIR = Path(__file__).parent / "templates"
REASON_WORDS = {
    "claim_overdue": "超时未认领",
    "resolve_overdue": "超时未办结",
    "returned_too_often": "多次退单",
    "reopened": "群众不满意",
    "undeliverable": "通知无法送达",
    "manual": "人工督办",
}
CLOCK_WORDS = {"claim": "认领", "resolve": "办结", "supervision": "督办"}
# GSM 03.38: the basic set counts one septet, the extension set two; anything else means UCS-2.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


class TemplateError(Exception):
    """A template is missing or does not render; the message names it."""


def sms_parts(text: str) -> tuple[str, int, int]:
    """(encoding, units used, parts): GSM-7 fits 160 in one part and 153 per part when split,
    UCS-2 (any Chinese) 70 and 67; a character outside the BMP takes two UCS-2 units."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        units = sum(2 if c in _GSM_EXTENDED else 1 for c in text)
        return "gsm7", units, 1 if units <= 160 else -(-units // 153)
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
    return "ucs2", units, 1 if units <= 70 else -(-units // 67)


def fit(text: str, max_parts: int) -> str:
    """Shorten `text` with an ellipsis until it fits in `max_parts` SMS parts."""
    while sms_parts(text)[2] > max_parts:
        text = text[:-2] + "…"
    return text


class Renderer:
    def __init__(self, directory: Path = DEFAULT_DIR, language: str = "zh"):
        self.language = language
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
        )
        self._env.filters.update(
            local_time=_local_time,
            reason_words=lambda r: REASON_WORDS.get(r, r),
            clock_words=lambda c: CLOCK_WORDS.get(c, c),
        )

    def render(
        self, event_type: str, issue_ref: str, payload: dict, language: str | None = None
    ) -> str:
        name = f"{language or self.language}/{event_type}.j2"
        try:
            return self._env.get_template(name).render(ref=issue_ref, **payload).strip()
        except jinja2.TemplateNotFound:
            raise TemplateError(f"no template {name}") from None
        except (jinja2.TemplateError, TypeError, ValueError, AttributeError) as exc:
            raise TemplateError(f"{name} does not render: {exc}") from None


def _local_time(value) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return local(value).strftime("%m-%d %H:%M")


SAMPLES = {  # what each template is checked against at start, and previewed with by default
    "issue.dispatched": {
        "role": "lead",
        "unit_id": "u",
        "category": "property_management",
        "category_name": "物业管理",
        "place_id": "baian-xincun",
        "place_name": "百安新村",
    },
    "issue.escalated": {
        "reason": "claim_overdue",
        "level": 1,
        "next_deadline": datetime(2026, 10, 8, 1, 0).astimezone(),
    },
    "issue.warned": {
        "clock": "claim",
        "fraction": 0.5,
        "deadline": datetime(2026, 10, 8, 1, 0).astimezone(),
    },
    "resident.feedback_requested": {"resolution": "楼道杂物已清理"},
    "resident.acknowledged": {},
    "resident.closed": {"reason": "satisfied"},
}


def check_all(renderer: Renderer, event_types, languages=("zh", "en")) -> None:
    """Every template renders its sample, or the service refuses to start naming the file."""
    for language in languages:
        for event_type in event_types:
            renderer.render(event_type, "ab12cd34", SAMPLES[event_type], language)
