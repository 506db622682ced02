"""Notify's Prometheus metrics: by channel, provider and error code; never by recipient."""

from prometheus_client import Counter, Histogram

SENT = Counter(
    "loudong_notify_sent_total", "Messages accepted by a provider", ["channel", "provider"]
)
FAILED = Counter(
    "loudong_notify_failed_total", "Deliveries given up on", ["channel", "provider", "reason"]
)
PROVIDER_ERRORS = Counter(
    "loudong_notify_provider_errors_total",
    "Errors from a channel's provider, by code",
    ["channel", "provider", "code"],
)
BUNDLED = Counter(
    "loudong_notify_bundled_total", "Notices that went out inside another's message", ["channel"]
)
RETRIED = Counter(
    "loudong_notify_retried_total", "Delivery attempts to be retried", ["channel", "provider"]
)
HELD = Counter(
    "loudong_notify_held_total",
    "Messages held: residents' quiet hours, or a recipient's rate limit",
    ["channel", "reason"],
)
DELIVERY_SECONDS = Histogram(
    "loudong_notify_delivery_seconds",
    "From the event to the provider's acceptance",
    ["channel"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
RECEIPTS = Counter(
    "loudong_notify_receipts_total", "Delivery receipts applied", ["provider", "status"]
)
RECEIPTS_REJECTED = Counter(
    "loudong_notify_receipts_rejected_total", "Receipts refused or ignored", ["reason"]
)
RECEIPT_SECONDS = Histogram(
    "loudong_notify_receipt_seconds",
    "From the event to the provider's receipt",
    ["channel"],
    buckets=(1, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400),
)
INBOUND = Counter(
    "loudong_notify_inbound_total",
    "SMS replies received, by provider and what became of them",
    ["provider", "outcome"],
)
