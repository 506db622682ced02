"""Notify's decisions: who is told about what, when a resident may be disturbed, what becomes of
a delivery after each attempt, and which notices share one message. The words are in templates
(templates.py); this file only decides."""

from __future__ import annotations

import random
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, time, timedelta

from district.directory import Unit
from district.links import reference as reference  # the SMS reference, re-exported for notify
from district.local_time import LOCAL_TIME, local
from services.notify import templates
from services.notify.events import NotificationFailed, NotificationSent

_DELIVERY_NAMESPACE = uuid.UUID("6f1b7c1e-4a53-4c8e-9c3e-2b0d4d1f0a11")
RESIDENT = "resident"
STRANGER = "unknown"  # the recipient of an answer to a number that is no unit's contact


@dataclass(frozen=True)
class Recipient:
    unit_id: str  # the unit, or "resident"
    key: str  # stable per (event, person): part of the delivery's identity
    address: str
    channel: str = "sms"
    fallback: str | None = None  # an email address to try when this channel fails

    @property
    def is_resident(self) -> bool:
        return self.unit_id == RESIDENT


@dataclass(frozen=True)
class Notice:
    """What one event asks notify to tell one recipient: planned as one delivery."""

    event_id: str
    cause_type: str
    issue_id: str
    recipient: Recipient
    text: str
    event_at: datetime | None = None  # when the event happened: the delivery's latency starts there

    @property
    def delivery_id(self) -> str:
        return delivery_id(self.event_id, self.recipient.key, self.recipient.channel)


@dataclass(frozen=True)
class Sent:
    """A provider took the message."""

    provider: str
    message_id: str


@dataclass(frozen=True)
class Failure:
    """A provider refused the message, or could not be reached; `permanent`: not worth retrying."""

    provider: str
    reason: str
    permanent: bool
    retry_after: float | None = None  # the provider's Retry-After, in seconds

    @property
    def code(self) -> str:
        """The reason without its details, short enough for a metric's label."""
        return self.reason.split(":")[0][:40]


@dataclass(frozen=True)
class Delivery:
    """One notice to one address over one channel: pending until a provider takes it (sent) or
    notify gives up (failed). Its id is the provider's idempotency key."""

    id: str
    event_id: str
    cause_type: str
    issue_id: str
    recipient_key: str
    recipient_unit_id: str
    channel: str
    address: str
    text: str
    status: str  # pending, sent, failed
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    provider: str | None = None
    provider_message_id: str | None = None
    last_error: str | None = None
    finished_at: datetime | None = None
    receipt_status: str | None = None
    fallback_address: str | None = None  # email, tried when this channel fails for good
    event_at: datetime | None = None
    receipt_at: datetime | None = None
    message_key: str | None = None  # the message it was handed over in, pinned beforehand

    @classmethod
    def planned(cls, notice: Notice, when: datetime, now: datetime, email: bool) -> Delivery:
        """Pending from `when`; the recipient's fallback is kept only if email is configured."""
        recipient = notice.recipient
        return cls(
            id=notice.delivery_id,
            event_id=notice.event_id,
            cause_type=notice.cause_type,
            issue_id=notice.issue_id,
            recipient_key=recipient.key,
            recipient_unit_id=recipient.unit_id,
            channel=recipient.channel,
            address=recipient.address,
            text=notice.text,
            status="pending",
            attempts=0,
            next_attempt_at=when,
            created_at=now,
            fallback_address=recipient.fallback if email else None,
            event_at=notice.event_at,
        )

    @property
    def is_resident(self) -> bool:
        return self.recipient_unit_id == RESIDENT

    @property
    def limited_as_resident(self) -> bool:
        """A resident, or a number that is no unit's contact (an answer to its SMS): the low
        rate applies, so a stranger cannot make notify send it much."""
        return self.is_resident or self.recipient_unit_id == STRANGER

    @property
    def announced(self) -> bool:
        """Whether its outcome is published (notification.sent/.failed): not for an answer to
        a unit's reply, which is about no unit's work."""
        return self.cause_type not in REPLY_CAUSES

    def is_due(self, now: datetime) -> bool:
        return self.status == "pending" and self.next_attempt_at <= now

    def fitted(self, max_parts: int) -> Delivery:
        """Its text shortened, if need be, to fit in `max_parts` SMS parts."""
        return replace(self, text=templates.fit(self.text, max_parts))

    def held_until(self, moment: datetime) -> Delivery:
        """Not tried before `moment` (a recipient past its rate waits, it is not dropped)."""
        return replace(self, next_attempt_at=max(self.next_attempt_at, moment))

    def leased(self, now: datetime, lease: timedelta) -> Delivery:
        """Out of other senders' reach until the lease runs out; then it is due again."""
        return replace(self, next_attempt_at=now + lease)

    @property
    def bundle_key(self) -> tuple:
        """Deliveries with one key may go as one message; a webhook is one notice per POST."""
        return (self.id,) if self.channel == "webhook" else (self.channel, self.address)

    def sent(self, sent: Sent, now: datetime) -> Delivery:
        return replace(
            self,
            status="sent",
            attempts=self.attempts + 1,
            provider=sent.provider,
            provider_message_id=sent.message_id,
            finished_at=now,
            last_error=None,
        )

    def failed(
        self, failure: Failure, now: datetime, max_attempts: int, retry_base: float
    ) -> Delivery:
        """Tried again later with backoff, unless the failure is permanent or it was the last
        attempt: then failed for good."""
        attempts, error = self.attempts + 1, failure.reason[:200]
        if not failure.permanent and attempts < max_attempts:
            retry = retry_at(now, attempts, retry_base, failure.retry_after)
            return replace(self, attempts=attempts, last_error=error, next_attempt_at=retry)
        return replace(
            self,
            status="failed",
            attempts=attempts,
            last_error=error,
            provider=failure.provider,
            finished_at=now,
        )

    @property
    def will_retry(self) -> bool:
        return self.status == "pending"

    def by_email(self) -> Notice:
        """The same notice to the fallback address, as a delivery of its own."""
        recipient = Recipient(self.recipient_unit_id, self.recipient_key, self.fallback_address)
        return self._notice(replace(recipient, channel="email"))

    def resent(self, times_before: int) -> Notice:
        """An administrator's resend: the same text to the same address, under a new key."""
        key = f"{self.recipient_key}#resend{times_before + 1}"
        return self._notice(Recipient(self.recipient_unit_id, key, self.address, self.channel))

    def _notice(self, recipient: Recipient) -> Notice:
        return Notice(self.event_id, self.cause_type, self.issue_id, recipient, self.text)

    def with_receipt(self, status: str, now: datetime) -> Delivery:
        return replace(self, receipt_status=status, receipt_at=now)

    def seconds_since_event(self, now: datetime) -> float:
        return (now - (self.event_at or self.created_at)).total_seconds()

    def sent_event(self) -> NotificationSent:
        return NotificationSent(
            **self._about(),
            provider_message_id=self.provider_message_id,
            attempts=self.attempts,
            sent_at=self.finished_at,
        )

    def failed_event(self, reason: str, final: bool, now: datetime) -> NotificationFailed:
        return NotificationFailed(
            **self._about(), reason=reason, attempts=self.attempts, final=final, failed_at=now
        )

    def _about(self) -> dict:
        return {
            "issue_id": self.issue_id,
            "delivery_id": self.id,
            "channel": self.channel,
            "recipient_unit_id": self.recipient_unit_id,
            "cause_type": self.cause_type,
        }

    def as_row(self) -> dict:
        return asdict(self)


def delivery_id(event_id: str, recipient_key: str, channel: str) -> str:
    """Stable for one (event, recipient, channel): the provider's idempotency key too."""
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{event_id}|{recipient_key}|{channel}"))


class UnknownUnit(LookupError):
    """An event names a unit notify's directory does not have: the services' directory files
    are out of step. Nobody can be told, so the notice fails as undeliverable."""

    def __init__(self, unit_id: str):
        super().__init__(unit_id)
        self.unit_id = unit_id


def _unit(units: Mapping[str, Unit], unit_id: str) -> list[Recipient]:
    """Every contact by SMS (email if SMS fails), and the unit's own system if it has a webhook.
    Both come from notify's directory: events name the unit only, so no phone rides the bus."""
    unit = units.get(unit_id)
    if unit is None:
        raise UnknownUnit(unit_id)
    # Keys by position, as before contacts left the bus: a redelivered event keeps its ids.
    told = [
        Recipient(unit.id, f"unit:{unit.id}:{i}", c.phone, "sms", c.email)
        for i, c in enumerate(unit.contacts)
    ]
    if unit.webhook_url:
        told.append(Recipient(unit.id, f"unit:{unit.id}:webhook", unit.webhook_url, "webhook"))
    return told


def _resident(issue_id: str, payload: dict) -> list[Recipient]:
    """The consenting resident's phone is the one a resident event carries: intake alone
    keeps it."""
    return [Recipient(RESIDENT, f"resident:{issue_id}", payload["phone"])]


# Who is told what: the routing table from event type to recipients, given the directory's units.
ROUTES = {
    "issue.dispatched": lambda issue_id, p, units: _unit(units, p["unit_id"]),
    "issue.escalated": lambda issue_id, p, units: _unit(units, p["to_unit_id"]),
    "issue.warned": lambda issue_id, p, units: _unit(units, p["to_unit_id"]),
    "issue.urged": lambda issue_id, p, units: _unit(units, p["unit_id"]),
    "resident.acknowledged": lambda issue_id, p, units: _resident(issue_id, p),
    "resident.feedback_requested": lambda issue_id, p, units: _resident(issue_id, p),
    "resident.closed": lambda issue_id, p, units: _resident(issue_id, p),
}


def recipients(
    event_type: str, issue_id: str, payload: dict, units: Mapping[str, Unit]
) -> list[Recipient]:
    """Raises UnknownUnit when the event's unit is not in `units`."""
    return ROUTES[event_type](issue_id, payload, units)


def quiet_until(now: datetime, recipient: Recipient, quiet: tuple[time, time]) -> datetime | None:
    """Residents are not woken: inside quiet hours (22:00–07:00 by default) a message waits
    until they end. Units and leaders are told at once, night or day."""
    if not recipient.is_resident:
        return None
    start, end = quiet
    wall = local(now)
    clock = wall.time()
    inside = (start <= clock or clock < end) if start > end else (start <= clock < end)
    if not inside:
        return None
    day = wall.date() + timedelta(days=1) if clock >= end and start > end else wall.date()
    return datetime.combine(day, end, LOCAL_TIME)


def rate_limited_until(nth_latest: datetime | None, window: timedelta) -> datetime | None:
    """An address that had its share within the window (`nth_latest`: when the oldest of
    that share was planned, None if it had less) waits until that one leaves the window."""
    return None if nth_latest is None else nth_latest + window


def retry_at(now: datetime, attempts: int, base: float, retry_after: float | None) -> datetime:
    """Exponential backoff with full jitter; a provider's Retry-After wins when it is longer."""
    delay = random.uniform(0, base * 2 ** (attempts - 1))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return now + timedelta(seconds=delay)


def lease_for(provider_timeout: float) -> timedelta:
    """How long a sender holds the deliveries it took: failover may wait on two providers."""
    return timedelta(seconds=provider_timeout * 2 + 5)


def bundles(due: list[Delivery], max_parts: int) -> list[list[Delivery]]:
    """Notices due together for one address go as one message (those held overnight for a
    resident, say), as many as fit whole in an SMS's parts."""
    groups: dict[tuple, list[list[Delivery]]] = {}
    for delivery in due:
        chunks = groups.setdefault(delivery.bundle_key, [[]])
        joined = bundle_text(chunks[-1] + [delivery])
        if chunks[-1] and delivery.channel == "sms" and templates.sms_parts(joined)[2] > max_parts:
            chunks.append([])  # a notice is never cut short to make room: it starts the next one
        chunks[-1].append(delivery)
    return [chunk for chunks in groups.values() for chunk in chunks]


def bundle_text(bundle: list[Delivery], max_parts: int | None = None) -> str:
    """The notices of one message, one per line; an SMS is kept within `max_parts`."""
    text = "\n".join(d.text for d in bundle)
    if max_parts is not None and bundle[0].channel == "sms":
        text = templates.fit(text, max_parts)
    return text


@dataclass(frozen=True)
class Message:
    """What one call to a provider carries: its idempotency key, its text and the deliveries
    it answers for. Pinned before the call, so that it goes again exactly as it went."""

    key: str
    text: str
    members: list[Delivery]

    @property
    def first(self) -> Delivery:
        return self.members[0]


def message_key(bundle: list[Delivery]) -> str:
    """The idempotency key of one message: the same members make the same key, so a message
    sent again after a crash is recognised."""
    first = bundle[0]
    if len(bundle) == 1:
        return first.id
    return delivery_id(",".join(sorted(d.id for d in bundle)), "bundle", first.channel)


# --- Replies: a unit acts by answering its SMS ("1 37" claims, "2 37 原因" returns, "3 37 结果"
# resolves), 37 being the reply code notify gave that unit for that assignment.

# Notices that answer a reply: about no unit's work, so no notification.* event is published.
REPLY_CAUSES = ("reply.refused", "unit.reply_applied")
ACTION_WORDS = {
    "claim": ("1", "认领", "認領", "claim"),
    "return": ("2", "退回", "退单", "退單", "return"),
    "resolve": ("3", "办结", "辦結", "resolve", "done"),
    "urge": ("4", "督办", "督辦", "督促", "urge"),  # a supervisor's code only
}
_ACTIONS = {word: action for action, words in ACTION_WORDS.items() for word in words}
_REPLY = re.compile(
    "(?P<action>"
    + "|".join(sorted(map(re.escape, _ACTIONS), key=len, reverse=True))
    + r")\s*(?:#\s*)?(?P<code>\d+)?(?P<text>.*)",
    re.DOTALL | re.IGNORECASE,
)
_QUOTES = " \t\r\n\"'“”‘’「」『』()（）"
_LEADING = " \t\r\n,，.。:：;；、-—#"


@dataclass(frozen=True)
class Reply:
    """What a unit's SMS asks: an action, the reply code if it gave one, and its words (the
    return's reason or the resolution)."""

    action: str  # claim, return, resolve, urge
    code: int | None
    text: str


def parse_reply(text: str) -> Reply | None:
    """The reply an SMS makes, or None when it makes none. Full-width digits and spaces (NFKC)
    and traditional characters count; a copy of the quotes the SMS showed is forgiven."""
    folded = unicodedata.normalize("NFKC", text).strip(_QUOTES)
    found = _REPLY.match(folded)
    if found is None:
        return None
    code = found["code"]
    rest = found["text"].strip(_QUOTES).lstrip(_LEADING).rstrip()
    return Reply(_ACTIONS[found["action"].lower()], int(code) if code else None, rest)


@dataclass(frozen=True)
class ReplyCode:
    """The short number a unit answers with for one assignment: unique among its open codes."""

    unit_id: str
    code: int
    issue_id: str
    assignment: int
    created_at: datetime
    closed_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


def answered_code(reply: Reply, codes: list[ReplyCode]) -> tuple[ReplyCode | None, str]:
    """The code a reply names among the codes of the units its phone belongs to, and the
    outcome: accepted, or why not. A unit with one open code may leave it out."""
    open_codes = [c for c in codes if c.is_open]
    if reply.code is None:
        if len(open_codes) == 1:
            return open_codes[0], "accepted"
        return None, "code_needed" if open_codes else "unknown_code"
    named = [c for c in open_codes if c.code == reply.code]
    if len(named) == 1:
        return named[0], "accepted"
    if named:
        return None, "ambiguous"  # one phone for two units holding the same number
    closed = any(c.code == reply.code for c in codes)
    return None, "expired" if closed else "unknown_code"


def phone_key(phone: str) -> str:
    """A phone number as both sides write it: digits only, without China's +86."""
    digits = "".join(c for c in unicodedata.normalize("NFKC", phone) if c.isdigit())
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            return digits[len(prefix) :]
    return digits


def units_reached_at(units: Mapping[str, Unit], phone: str) -> dict[str, str]:
    """{unit_id: the contact's phone as the directory writes it} for every unit `phone` is a
    contact of."""
    key = phone_key(phone)
    return {
        unit.id: contact.phone
        for unit in units.values()
        for contact in unit.contacts
        if key and phone_key(contact.phone) == key
    }
