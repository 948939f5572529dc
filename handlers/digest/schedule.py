"""When a chat's weekly digest is due (pure: a chat's settings and the week's bounds)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from core.clock import HELSINKI
from storage import digest as store
from storage.core import Chat

DEFAULT_DAY, DEFAULT_TIME = 0, "09:00"


def chat_schedule(chat: Chat) -> tuple[bool, int, str]:
    """(on, weekday 0=Monday, "HH:MM") of a chat's digest."""
    return (not chat.setting("digest.off", False), int(chat.setting("digest.day", DEFAULT_DAY)),
            str(chat.setting("digest.time", DEFAULT_TIME)))


def slot(week: str, day: int, hhmm: str) -> datetime:
    """When the digest of ``week`` is due: weekday ``day`` at ``hhmm`` of the following week."""
    _start, end = store.week_bounds(week)
    local_monday = end.astimezone(HELSINKI).date()
    hh, mm = (int(x) for x in hhmm.split(":"))
    local = datetime.combine(local_monday + timedelta(days=day), time(hh, mm), tzinfo=HELSINKI)
    return local.astimezone(UTC)

