"""The words of the public showcase (雙亮) and its approval page, in Chinese and English."""

from __future__ import annotations

SHOWCASE_TEXTS: dict[str, dict[str, str]] = {"zh": {}, "en": {}}
