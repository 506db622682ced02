"""Message texts from Jinja2 templates kept in files (Chinese by default, English too), and
SMS length counted as a phone counts it."""

from __future__ import annotations

import unicodedata
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
    "supervision_overdue": "区领导督办逾期未办结",
}
CLOCK_WORDS = {"claim": "认领", "resolve": "办结", "supervision": "督办"}
# What notify adds to a unit's notice (None when it has none): the claim deadline, the link to
# the unit's page for the issue and the code the unit replies with.
NOTICE_FACTS = {"deadline": None, "link": None, "code": None, "supervising": False}
ELLIPSIS = "…"
_BUILDING_WORDS = ("栋", "棟", "楼", "樓", "幢", "座", "号", "號")
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


def cut(text: str, length: int) -> str:
    """At most `length` characters of `text`, never splitting a character a reader sees as one
    (a letter and its accents, an emoji sequence, a flag)."""
    while 0 < length < len(text) and _joined(text[length - 1], text[length]):
        length -= 1
    return text[:length]


def _joined(before: str, after: str) -> bool:
    """Whether `before` and `after` belong to one character on the screen."""
    code = ord(after)
    regional = 0x1F1E6 <= ord(before) <= 0x1F1FF and 0x1F1E6 <= code <= 0x1F1FF
    return (
        unicodedata.category(after) in ("Mn", "Mc", "Me")
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or "\u200d" in (before, after)  # zero-width joiner
        or regional
    )


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
            # a co-handling part's clock is claim@<n> / resolve@<n>: its words are the same
            clock_words=lambda c: CLOCK_WORDS.get(c.split("@", 1)[0], c),
            building_words=_building_words,
        )

    def render(
        self, event_type: str, issue_ref: str, payload: dict, language: str | None = None
    ) -> str:
        name = f"{language or self.language}/{event_type}.j2"
        try:
            facts = {**NOTICE_FACTS, **payload}
            return self._env.get_template(name).render(ref=issue_ref, **facts).strip()
        except jinja2.TemplateNotFound:
            raise TemplateError(f"no template {name}") from None
        except (jinja2.TemplateError, TypeError, ValueError, AttributeError) as exc:
            raise TemplateError(f"{name} does not render: {exc}") from None

    def render_within(self, event_type: str, issue_ref: str, payload: dict, max_parts: int) -> str:
        """The text in at most `max_parts` SMS parts, shortening the description (never the
        deadline, the link or the reply code) with an ellipsis; without it if nothing fits."""
        text = self.render(event_type, issue_ref, payload)
        description = payload.get("description") or ""
        if sms_parts(text)[2] <= max_parts or not description:
            return text
        short, long = 0, len(description)  # a binary search for the longest cut that fits
        while short < long:
            middle = (short + long + 1) // 2
            if sms_parts(self._with(event_type, issue_ref, payload, middle))[2] <= max_parts:
                short = middle
            else:
                long = middle - 1
        return self._with(event_type, issue_ref, payload, short)

    def _with(self, event_type: str, issue_ref: str, payload: dict, length: int) -> str:
        """The text with the description cut to `length` characters (none at all for 0)."""
        description = cut(payload["description"], length)
        shortened = description.rstrip() + ELLIPSIS if description else ""
        return self.render(event_type, issue_ref, {**payload, "description": shortened})


def _building_words(building: str | None, language: str = "zh") -> str:
    """The building after the compound's name: 百安新村3栋, or "Bai'an Xincun, building 3"."""
    if not building:
        return ""
    if language == "en":
        return f", building {building}"
    return building if building.endswith(_BUILDING_WORDS) else f"{building}栋"


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
        "building": "3",
        "description": "百安新村3栋下水道堵了，污水漫到楼道",
        "deadline": datetime(2026, 10, 8, 1, 0).astimezone(),
        "link": "http://127.0.0.1:8082/u/abcdefghij",
        "code": 1,
    },
    "issue.escalated": {
        "reason": "claim_overdue",
        "level": 1,
        "next_deadline": datetime(2026, 10, 8, 1, 0).astimezone(),
        "link": "http://127.0.0.1:8082/u/klmnopqrst",
        "code": 2,
        "supervising": True,
    },
    "issue.urged": {
        "by_unit_name": "百安坝街道办事处",
        "description": "请今天内疏通，明早向街道报告",
        "link": "http://127.0.0.1:8082/u/abcdefghij",
        "code": 1,
    },
    "issue.warned": {
        "clock": "claim",
        "fraction": 0.5,
        "deadline": datetime(2026, 10, 8, 1, 0).astimezone(),
        "link": "http://127.0.0.1:8082/u/abcdefghij",
        "code": 1,
    },
    "resident.feedback_requested": {"resolution": "楼道杂物已清理"},
    "resident.acknowledged": {},
    "resident.closed": {"reason": "satisfied"},
    "reply.refused": {"reason": "code_needed", "codes": [1, 2]},
    "unit.reply_applied": {"accepted": True, "detail": "已认领，请按时限办理，办结后回复办理结果"},
}


def check_all(renderer: Renderer, event_types, languages=("zh", "en")) -> None:
    """Every template renders its sample, or the service refuses to start naming the file."""
    for language in languages:
        for event_type in event_types:
            renderer.render(event_type, "ab12cd34", SAMPLES[event_type], language)
