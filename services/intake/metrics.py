"""Intake's Prometheus metrics."""

from prometheus_client import Counter

ISSUES_ACCEPTED = Counter(
    "loudong_intake_issues_accepted_total", "Issues accepted", ["channel", "category"]
)
SUBMISSIONS_REJECTED = Counter(
    "loudong_intake_submissions_rejected_total", "Submissions refused, by HTTP status", ["status"]
)
