"""Beijing time: the one zone in which residents, units and leaders read every date."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

LOCAL_TIME = ZoneInfo("Asia/Shanghai")


def local(moment: datetime) -> datetime:
    """An aware UTC moment as the wall clock in Beijing shows it."""
    return moment.astimezone(LOCAL_TIME)
