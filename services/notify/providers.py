"""SMS providers behind one interface: send(to, text, idempotency_key) -> the message id.

GenericSmsProvider speaks Loudong's plain HTTP protocol; AliyunSmsProvider speaks Aliyun's
SendSms (RPC style: HMAC-SHA1 signed query, a registered template code and its parameters).
Failover tries them in the configured order."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import requests


class TransientError(Exception):
    """Worth trying again later (timeout, 5xx, 429, the provider's own hiccups)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class PermanentError(Exception):
    """This provider will refuse it again; `anywhere`: no provider would take it (a bad number)."""

    def __init__(self, reason: str, anywhere: bool = False):
        super().__init__(reason)
        self.reason, self.anywhere = reason, anywhere


class GenericSmsProvider:
    """`POST {url}/messages` with {to, text, idempotency_key}, answered 2xx {message_id}."""

    name = "generic"

    def __init__(self, url: str, timeout: float):
        self._url = url.rstrip("/") + "/messages"
        self._timeout = timeout
        self._session = requests.Session()

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        try:
            response = self._session.post(
                self._url,
                json={"to": to, "text": text, "idempotency_key": idempotency_key},
                timeout=self._timeout,
            )
        except requests.Timeout:
            raise TransientError("timeout") from None
        except requests.ConnectionError:
            raise TransientError("connection_error") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(f"http_{response.status_code}", _retry_after(response))
        if response.status_code in (400, 422):  # the message itself is refused
            raise PermanentError(f"http_{response.status_code}", anywhere=True)
        if response.status_code >= 400:
            raise PermanentError(f"http_{response.status_code}")
        try:
            return str(response.json()["message_id"])
        except (ValueError, KeyError, TypeError):
            raise TransientError("malformed_response") from None


# Aliyun's SendSms error codes: which mean "never with any provider", "not with this one", "later".
ALIYUN_BAD_MESSAGE = {
    "isv.MOBILE_NUMBER_ILLEGAL",
    "isv.MOBILE_COUNT_OVER_LIMIT",
    "isv.BLACK_KEY_CONTROL_LIMIT",
    "isv.PARAM_LENGTH_LIMIT",
    "isv.DENY_IP_RANGE",
}
ALIYUN_LATER = {
    "isv.BUSINESS_LIMIT_CONTROL",
    "isp.SYSTEM_ERROR",
    "isv.OUT_OF_SERVICE",
    "Throttling.User",
    "ServiceUnavailable",
    "isp.GATEWAY_ERROR",
}


def percent_encode(value: str) -> str:
    """RFC 3986 as Aliyun's signature wants it: only A–Z a–z 0–9 - _ . ~ stay as they are."""
    return quote(str(value), safe="-_.~")


def aliyun_signature(params: dict, secret: str, method: str = "POST") -> str:
    """Signature version 1.0: HMAC-SHA1 over METHOD&%2F&encoded(sorted, encoded query), keyed
    with the secret and '&'."""
    query = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(query)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSmsProvider:
    name = "aliyun"

    def __init__(
        self,
        endpoint: str,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_code: str,
        timeout: float,
        region: str = "cn-hangzhou",
    ):
        self._endpoint = endpoint
        self._key_id, self._secret = access_key_id, access_key_secret
        self._sign_name, self._template_code = sign_name, template_code
        self._timeout, self._region = timeout, region
        self._session = requests.Session()

    def send(self, to: str, text: str, idempotency_key: str) -> str:
        """The registered template carries the text, issue reference included, as its `content`
        parameter."""
        params = {
            "AccessKeyId": self._key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": self._region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": str(uuid.uuid4()),
            "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
            "PhoneNumbers": to.removeprefix("+86"),
            "SignName": self._sign_name,
            "TemplateCode": self._template_code,
            "TemplateParam": json.dumps({"content": text}, ensure_ascii=False),
            "OutId": idempotency_key,
        }
        params["Signature"] = aliyun_signature(params, self._secret)
        try:
            response = self._session.post(self._endpoint, data=params, timeout=self._timeout)
        except requests.Timeout:
            raise TransientError("timeout") from None
        except requests.ConnectionError:
            raise TransientError("connection_error") from None
        if response.status_code >= 500:
            raise TransientError(f"http_{response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise TransientError("malformed_response") from None
        code = answer.get("Code", "")
        if code == "OK":
            return str(answer["BizId"])
        if code in ALIYUN_LATER:
            raise TransientError(code)
        raise PermanentError(
            code or f"http_{response.status_code}", anywhere=code in ALIYUN_BAD_MESSAGE
        )


class Failover:
    """Providers in order: when one fails, the next is tried; a message no provider would take
    (a bad number) stops at once. Returns (provider name, message id)."""

    def __init__(self, providers: list):
        self.providers = providers
        self.name = "+".join(p.name for p in providers)

    def send(self, to: str, text: str, idempotency_key: str) -> tuple[str, str]:
        errors = []
        for provider in self.providers:
            try:
                return provider.name, provider.send(to, text, idempotency_key)
            except PermanentError as exc:
                if exc.anywhere:
                    raise
                errors.append(exc)
            except TransientError as exc:
                errors.append(exc)
        transient = [e for e in errors if isinstance(e, TransientError)]
        if transient:
            raise TransientError(transient[-1].reason, transient[-1].retry_after)
        raise errors[-1]


def _retry_after(response) -> float | None:
    try:
        return float(response.headers.get("Retry-After"))
    except (TypeError, ValueError):
        return None
