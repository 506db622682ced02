"""Notify's Prometheus metrics: by channel, provider and error code; never by recipient."""
from prometheus_client import Counter, Histogram

SENT = Counter("loudong_notify_sent_total", "Messages accepted by a provider", ["channel", "provider"])
FAILED = Counter("loudong_notify_failed_total", "Deliveries given up on", ["channel", "provider", "reason"])
RETRIED = Counter("loudong_notify_retried_total", "Delivery attempts to be retried", ["channel", "provider"])
DELIVERY_SECONDS = Histogram("loudong_notify_delivery_seconds", "From delivery planned to provider acceptance",
                             ["channel"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
