"""One written form for matching reports against the directory's keywords: residents write in
simplified or traditional characters, in full-width or half-width forms, in any case."""

from __future__ import annotations

import unicodedata
from functools import cache

import opencc


@cache
def _to_simplified() -> opencc.OpenCC:
    # Built once per process on first use: loading OpenCC's dictionaries takes milliseconds,
    # a conversion microseconds. t2s rather than tw2sp/hk2s: it maps characters (and OpenCC's
    # common variants) without rewriting Taiwan or Hong Kong vocabulary into mainland words.
    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """NFKC first, so full-width Latin and digits reach OpenCC (which leaves them) as ASCII and
    compatibility ideographs as the unified ones; then traditional to simplified; then casefold."""
    return _to_simplified().convert(unicodedata.normalize("NFKC", text)).casefold()
