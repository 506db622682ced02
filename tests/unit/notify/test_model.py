"""A delivery's own decisions, without a store: when it is due, what a failure makes of it,
which notices share a message and under which idempotency key."""

from datetime import UTC, datetime, timedelta

from services.notify.model import (
    Delivery,
    Failure,
    Notice,
    Recipient,
    Sent,
    bundles,
    lease_for,
    message_key,
    quiet_until,
    rate_limited_until,
)

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
QUIET = (datetime.strptime("22:00", "%H:%M").time(), datetime.strptime("07:00", "%H:%M").time())


def _delivery(key="unit:u:0", channel="sms", address="+8613800000042", text="通知", **changes):
    notice = Notice("e1", "issue.dispatched", "i1", Recipient("u", key, address, channel), text)
    planned = Delivery.planned(notice, NOW, NOW, email=True)
    return planned if not changes else Delivery(**{**planned.as_row(), **changes})


def test_a_planned_delivery_is_due_at_its_time_and_not_while_leased():
    delivery = _delivery()

    leased = delivery.leased(NOW, lease_for(2))

    assert delivery.is_due(NOW) and not leased.is_due(NOW + timedelta(seconds=8))
    assert leased.is_due(NOW + timedelta(seconds=9))


def test_a_transient_failure_is_retried_with_backoff_and_the_last_one_fails_for_good():
    failure = Failure("generic", "http_503", permanent=False)

    retried = _delivery().failed(failure, NOW, max_attempts=2, retry_base=2)
    given_up = retried.failed(failure, NOW, max_attempts=2, retry_base=2)

    assert retried.will_retry and retried.attempts == 1
    assert NOW <= retried.next_attempt_at <= NOW + timedelta(seconds=2)
    assert (given_up.status, given_up.attempts, given_up.provider) == ("failed", 2, "generic")


def test_a_providers_retry_after_wins_when_it_is_longer():
    failure = Failure("generic", "http_429", permanent=False, retry_after=60)

    retried = _delivery().failed(failure, NOW, max_attempts=5, retry_base=2)

    assert retried.next_attempt_at == NOW + timedelta(seconds=60)


def test_a_permanent_failure_is_not_retried():
    failed = _delivery().failed(Failure("generic", "http_400", True), NOW, 5, 2)

    assert not failed.will_retry and failed.last_error == "http_400"


def test_a_sent_delivery_says_so_in_its_event():
    sent = _delivery().sent(Sent("generic", "m1"), NOW)

    event = sent.sent_event()

    assert (event.provider_message_id, event.attempts, event.sent_at) == ("m1", 1, NOW)


def test_a_resend_is_a_new_delivery_and_the_fallback_an_email_to_the_same_recipient():
    delivery = _delivery(fallback_address="front@example.org")

    resent, by_email = delivery.resent(times_before=1), delivery.by_email()

    assert resent.recipient.key == "unit:u:0#resend2" and resent.delivery_id != delivery.id
    assert (by_email.recipient.channel, by_email.recipient.address) == (
        "email",
        "front@example.org",
    )


def test_notices_for_one_phone_share_a_message_but_webhooks_never_do():
    phone = [_delivery(key=f"unit:u:{n}") for n in range(2)]
    hooks = [_delivery(key=f"hook{n}", channel="webhook", address="http://u") for n in range(2)]

    grouped = bundles(phone + hooks, max_parts=2)

    assert [len(b) for b in grouped] == [2, 1, 1]


def test_a_bundle_keeps_its_key_whatever_order_its_members_come_in():
    members = [_delivery(key=f"unit:u:{n}") for n in range(3)]

    assert message_key(members) == message_key(members[::-1]) != members[0].id
    assert message_key(members[:1]) == members[0].id


def test_an_address_past_its_rate_waits_for_the_oldest_to_leave_the_window():
    oldest_of_its_share = NOW - timedelta(minutes=30)

    assert rate_limited_until(oldest_of_its_share, timedelta(hours=1)) == NOW + timedelta(
        minutes=30
    )
    assert rate_limited_until(None, timedelta(hours=1)) is None


def test_a_resident_is_held_until_seven_but_a_unit_is_not():
    night = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)  # 23:30 in Beijing
    resident = Recipient("resident", "resident:i1", "+8613900000000")

    assert quiet_until(night, resident, QUIET) == datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
    assert quiet_until(night, Recipient("u", "unit:u:0", "+8613800000042"), QUIET) is None
