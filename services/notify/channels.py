"""The channels besides SMS: email over SMTP, and a webhook that POSTs the notice signed with
HMAC-SHA256 and a timestamp, for units with their own systems. Each sends (address, text,
idempotency key) and answers (provider name, message id), or raises Transient/PermanentError."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from email.message import EmailMessage
from email.utils import make_msgid

import requests

from services.notify.providers import PermanentError, TransientError


class SmtpChannel:
    name = "smtp"

    def __init__(self, host: str, port: int, sender: str, timeout: float):
        self._host, self._port, self._sender, self._timeout = host, port, sender, timeout

    def send(self, to: str, text: str, idempotency_key: str) -> tuple[str, str]:
        message = EmailMessage()
        message["From"], message["To"] = self._sender, to
        message["Subject"] = text.split("：", 1)[0][:80]
        # A stable Message-ID: a mail system that sees it twice can tell it is one message.
        message["Message-ID"] = make_msgid(idstring=idempotency_key, domain="loudong")
        message.set_content(text)
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.send_message(message)
        except (
            TimeoutError,
            ConnectionError,
            smtplib.SMTPServerDisconnected,
            smtplib.SMTPConnectError,
        ) as exc:
            raise TransientError(f"smtp_unavailable:{type(exc).__name__}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(code >= 500 for code in codes):
                raise PermanentError(f"smtp_{codes[0]}", anywhere=True) from None
            raise TransientError(f"smtp_{codes[0]}") from None
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500:
                raise PermanentError(f"smtp_{exc.smtp_code}") from None
            raise TransientError(f"smtp_{exc.smtp_code}") from None
        return self.name, message["Message-ID"]


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookChannel:
    name = "webhook"

    def __init__(self, secret: str, timeout: float):
        self._secret, self._timeout = secret, timeout
        self._session = requests.Session()

    def send(self, url: str, notice: str, idempotency_key: str) -> tuple[str, str]:
        """`notice` is the JSON notify planned: the event and its rendered text."""
        body = json.dumps(
            {"delivery_id": idempotency_key, **json.loads(notice)}, ensure_ascii=False
        ).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            "X-Loudong-Timestamp": stamp,
            "X-Loudong-Signature": webhook_signature(self._secret, stamp, body),
        }
        try:
            response = self._session.post(url, data=body, headers=headers, timeout=self._timeout)
        except requests.Timeout:
            raise TransientError("timeout") from None
        except requests.ConnectionError:
            raise TransientError("connection_error") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(f"http_{response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(f"http_{response.status_code}")
        return self.name, idempotency_key
