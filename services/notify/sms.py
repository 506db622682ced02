"""SMS providers behind one interface: send(to, text, idempotency_key) -> provider message id."""
from __future__ import annotations

import requests


class TransientError(Exception):
    """Worth trying again later (timeout, 5xx, 429)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class PermanentError(Exception):
    """Trying again would fail the same way (invalid number, rejected text)."""


class GenericSmsProvider:
    """`POST {url}/messages` with {to, text, idempotency_key}, answered 2xx {message_id}."""

    name = "generic"

    def __init__(self, url: str, timeout: float):
        self._url = url.rstrip("/") + "/messages"
        self._timeout = timeout
        self._session = requests.Session()

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        try:
            response = self._session.post(self._url, json={"to": to, "text": text,
                                                           "idempotency_key": idempotency_key},
                                          timeout=self._timeout)
        except requests.Timeout:
            raise TransientError("timeout") from None
        except requests.ConnectionError:
            raise TransientError("connection_error") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(f"http_{response.status_code}", _retry_after(response))
        if response.status_code >= 400:
            raise PermanentError(f"http_{response.status_code}")
        try:
            return str(response.json()["message_id"])
        except (ValueError, KeyError, TypeError):
            raise TransientError("malformed_response") from None


def _retry_after(response) -> float | None:
    try:
        return float(response.headers.get("Retry-After"))
    except (TypeError, ValueError):
        return None
