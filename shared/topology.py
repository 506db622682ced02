"""The whole RabbitMQ topology, declared from this one module by every service at start.

One durable topic exchange; routing key = event type. Each consuming service has one
durable queue bound to the types it needs, a delay queue per retry attempt that
dead-letters back into it when the message's expiration passes, and a dead-letter
queue for what it gave up on. Declaring every queue from every service means an event
published before its consumer first starts still waits for it.
"""

from __future__ import annotations

from kombu import Exchange, Queue, binding

EXCHANGE_NAME = "loudong.events"
EXCHANGE = Exchange(EXCHANGE_NAME, type="topic", durable=True)

# Who consumes what. The producers: intake → issue.submitted, issue.feedback_given, resident.*
# (the only events with a resident's phone: notify alone binds them); dispatch →
# issue.dispatched, .claimed, .returned, .progress_noted, .urged, .resolved, .closed, .reopened,
# .retiered, .linked, .triage_needed, .arbitration_needed, .awaiting_resident,
# .resident_replied, unit.token_issued, unit.token_revoked, unit.reply_applied;
# escalation → issue.escalated, .clock_armed, .warned, .supervision_opened,
# .supervision_closed, .deadline_extended; notify → notification.*, unit.replied.
SUBSCRIPTIONS: dict[str, tuple[str, ...]] = {
    "intake": (
        "issue.dispatched",
        "issue.claimed",
        "issue.returned",
        "issue.progress_noted",
        "issue.urged",
        "issue.resolved",
        "issue.closed",
        "issue.reopened",
        "issue.retiered",
        "issue.linked",
        "issue.escalated",
        "issue.clock_armed",
        "issue.supervision_opened",
        "issue.supervision_closed",
        "issue.deadline_extended",
        "issue.awaiting_resident",
        "issue.resident_replied",
        "notification.sent",
        "notification.failed",
    ),
    "dispatch": (
        "issue.submitted",
        "issue.feedback_given",
        "issue.escalated",
        "issue.warned",
        "issue.clock_armed",
        "unit.replied",
    ),
    "escalation": (
        "issue.dispatched",
        "issue.claimed",
        "issue.resolved",
        "issue.returned",
        "issue.awaiting_resident",
        "issue.resident_replied",
        "issue.arbitration_needed",
        "issue.reopened",
        "notification.failed",
        "unit.token_issued",
        "unit.token_revoked",
    ),
    "notify": (
        "issue.dispatched",
        "issue.escalated",
        "issue.warned",
        "issue.urged",
        "resident.acknowledged",
        "resident.feedback_requested",
        "resident.closed",
        "issue.clock_armed",
        "issue.returned",
        "issue.resolved",
        "issue.closed",
        "unit.reply_applied",
    ),
}
MAX_RETRY_LEVELS = 5
# Classic durable queues by default (one broker); quorum queues, replicated across a cluster,
# by LOUDONG_QUEUE_TYPE=quorum on a fresh vhost: a queue's type cannot change in place.
QUEUE_TYPES = ("classic", "quorum")


def _typed(arguments: dict, queue_type: str) -> dict:
    return {**arguments, "x-queue-type": queue_type} if queue_type != "classic" else arguments


def queue_name(service: str) -> str:
    return f"loudong.{service}"


def retry_queue_name(service: str, attempt: int) -> str:
    return f"loudong.{service}.retry.{attempt}"


def dead_queue_name(service: str) -> str:
    return f"loudong.{service}.dead"


def work_queue(service: str, queue_type: str = "classic") -> Queue:
    return Queue(
        queue_name(service),
        exchange=EXCHANGE,
        durable=True,
        bindings=[binding(EXCHANGE, routing_key=t) for t in SUBSCRIPTIONS[service]],
        queue_arguments=_typed({}, queue_type),
    )


def side_queues(service: str, queue_type: str = "classic") -> list[Queue]:
    retry = [
        Queue(
            retry_queue_name(service, attempt),
            durable=True,
            queue_arguments=_typed(
                {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue_name(service)},
                queue_type,
            ),
        )
        for attempt in range(1, MAX_RETRY_LEVELS + 1)
    ]
    dead = Queue(dead_queue_name(service), durable=True, queue_arguments=_typed({}, queue_type))
    return [*retry, dead]


def declare_all(channel, queue_type: str = "classic") -> None:
    """Declare the exchange and every service's queues on a kombu channel; idempotent."""
    EXCHANGE(channel).declare()
    for service in SUBSCRIPTIONS:
        work_queue(service, queue_type)(channel).declare()
        for queue in side_queues(service, queue_type):
            queue(channel).declare()


def definitions(vhost: str = "/", queue_type: str = "classic") -> dict:
    """The topology as a RabbitMQ definitions document (`rabbitmqctl import_definitions`,
    the management UI's import): what declare_all declares, for operators who provision the
    broker before the services start. deploy/rabbitmq/definitions.json is this, for "/"."""

    def queue(q: Queue) -> dict:
        arguments = dict(q.queue_arguments or {})
        return {
            "name": q.name,
            "vhost": vhost,
            "durable": True,
            "auto_delete": False,
            "arguments": arguments,
        }

    queues, bindings = [], []
    for service in SUBSCRIPTIONS:
        work = work_queue(service, queue_type)
        queues.append(queue(work))
        queues += [queue(q) for q in side_queues(service, queue_type)]
        bindings += [
            {
                "source": EXCHANGE_NAME,
                "vhost": vhost,
                "destination": work.name,
                "destination_type": "queue",
                "routing_key": t,
                "arguments": {},
            }
            for t in SUBSCRIPTIONS[service]
        ]
    exchange = {
        "name": EXCHANGE_NAME,
        "vhost": vhost,
        "type": "topic",
        "durable": True,
        "auto_delete": False,
        "internal": False,
        "arguments": {},
    }
    return {
        "vhosts": [{"name": vhost}],
        "exchanges": [exchange],
        "queues": queues,
        "bindings": bindings,
    }


if __name__ == "__main__":  # python -m shared.topology > deploy/rabbitmq/definitions.json
    import json

    print(json.dumps(definitions(), indent=2, ensure_ascii=False))
