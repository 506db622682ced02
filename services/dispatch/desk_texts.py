"""The words of the street office's desk, in Chinese and English."""

from __future__ import annotations

DESK_TEXTS: dict[str, dict[str, str]] = {"zh": {}, "en": {}}
