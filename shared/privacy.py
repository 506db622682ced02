"""Masking of people's details wherever they are shown beyond the one place that keeps them:
logs, lists, other gateways' reads, notify's delivery log."""

from __future__ import annotations

import re

_PHONE = re.compile(r"(?<!\d)(\+?86)?1[3-9]\d{9}(?!\d)|\+[1-9]\d{7,14}")


def mask_phones(text: str) -> str:
    """Every phone number in `text` with its middle digits starred: +8613****00."""
    return _PHONE.sub(lambda m: m.group(0)[:4] + "****" + m.group(0)[-2:], text)


def mask_name(name: str | None) -> str | None:
    """张三 → 张*: the family name alone, as Chinese hotlines show a caller."""
    return None if not name else name[0] + "*" * (len(name) - 1)


def mask_address(address: str) -> str:
    """A phone number or an email address with only its ends shown."""
    return address[:5] + "****" + address[-2:] if len(address) > 8 else "****"
