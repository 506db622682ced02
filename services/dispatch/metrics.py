"""Dispatch's Prometheus metrics: per street and unit, never per issue or person."""
from prometheus_client import Counter, Histogram

DISPATCHED = Counter("loudong_dispatch_dispatched_total", "Issues dispatched", ["street", "unit", "tier"])
CLAIMED = Counter("loudong_dispatch_claimed_total", "Assignments claimed", ["street", "unit"])
RESOLVED = Counter("loudong_dispatch_resolved_total", "Assignments resolved", ["street", "unit"])
CLAIM_SECONDS = Histogram("loudong_dispatch_claim_seconds", "From dispatch to claim", ["street"],
                          buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200))
