"""The rate limit against flooding: at most so many commands and ``#idea`` messages per person
and per chat in a sliding minute (Services.limits). Over it the event is dropped and the person is
told once per minute, not once per message. Admins and coordinators are exempt (the router asks).

The state lives in one :class:`FloodGate` per Router (per process), in memory, on the services'
clock; several processes on one store each hold their own count."""

from __future__ import annotations

from collections import deque
from enum import Enum

from handlers.base import Limits

WINDOW_SECONDS = 60.0
#: past this many tracked people or chats the idle ones are forgotten
_SWEEP_AT = 10_000


class Verdict(Enum):
    PASS = "pass"
    #: over the limit, and the person has not yet been told in this minute
    DROP_AND_TELL = "drop_and_tell"
    DROP = "drop"


class FloodGate:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._people: dict[str, deque[float]] = {}
        self._chats: dict[str, deque[float]] = {}
        self._told: dict[str, float] = {}

    @staticmethod
    def _recent(log: dict[str, deque[float]], key: str, now: float) -> deque[float]:
        times = log.get(key)
        if times is None:
            times = log[key] = deque()
        while times and now - times[0] >= WINDOW_SECONDS:
            times.popleft()
        return times

    def over(self, person: str, chat: str, now: float) -> bool:
        """Would one more event from ``person`` in ``chat`` at ``now`` (seconds) be over a limit?"""
        return (len(self._recent(self._people, person, now)) >= self.limits.per_person_per_minute
                or len(self._recent(self._chats, chat, now)) >= self.limits.per_chat_per_minute)

    def admit(self, person: str, chat: str, now: float) -> None:
        """Count an event that is handled (only handled events count, so a flooder does not use
        up the chat's allowance)."""
        self._recent(self._people, person, now).append(now)
        self._recent(self._chats, chat, now).append(now)
        self._told.pop(person, None)
        if len(self._people) > _SWEEP_AT or len(self._chats) > _SWEEP_AT or len(self._told) > _SWEEP_AT:
            self._sweep(now)

    def refuse(self, person: str, now: float) -> Verdict:
        """An event over the limit: tell the person once a minute."""
        told = self._told.get(person)
        if told is not None and now - told < WINDOW_SECONDS:
            return Verdict.DROP
        self._told[person] = now
        return Verdict.DROP_AND_TELL

    def _sweep(self, now: float) -> None:
        for log in (self._people, self._chats):
            for key in [k for k, times in log.items() if not times or now - times[-1] >= WINDOW_SECONDS]:
                del log[key]
        for key in [k for k, at in self._told.items() if now - at >= WINDOW_SECONDS]:
            del self._told[key]
