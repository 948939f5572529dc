"""Button data and job keys: each kind declared once, built and read in one place.

A button kind is ``feature:action:field:field…`` (the router finds the handler by
``feature:action``). Declaring it checks the widest data it can make against Telegram's 64-byte
``callback_data`` limit, so a button cannot fail only in production::

    VOTE = ButtonKind("polls", "vote", ("poll", int), ("option", int))
    VOTE.data(poll=12, option=3)          # "polls:vote:12:3"
    VOTE.read(args)                       # {"poll": 12, "option": 3}, or "This button no longer works."

A field declared ``str`` is text that shares what the other fields leave of the 64 bytes (a
list's filters): it does not count at declaration, and ``data()`` refuses (ValueError) data that
came out too long, so the caller offers no button for it.

A job key is ``kind:field:field…``, the job's dedup key. ``key(...)`` names one job,
``prefix(...)`` the jobs that share the leading fields (ending with ``:``, so job 1 never
matches job 12)::

    REMIND = JobKey("checklist.remind", "round", "day")
    REMIND.key(round=1, day="2026-12-01")  # "checklist.remind:1:2026-12-01"
    REMIND.prefix(round=1)                 # "checklist.remind:1:"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.i18n import _
from handlers.base import UserError

#: Telegram's callback_data limit, in bytes
BUTTON_DATA_BYTES = 64
#: the widest int a button carries (row ids)
INT_DIGITS = 12
#: the largest int a button may name: the store's INTEGER columns are 32-bit on PostgreSQL, which
#: refuses a larger one in a query (made-up data, "ideas:sup:2147483648")
INT_MAX = 2**31 - 1


@dataclass(frozen=True, init=False)
class ButtonKind:
    feature: str
    action: str
    #: (name, int), (name, the most characters a text field may have) or (name, str): text that
    #: takes what the other fields leave
    fields: tuple[tuple[str, type | int], ...]

    def __init__(self, feature: str, action: str, *fields: tuple[str, type | int]) -> None:
        object.__setattr__(self, "feature", feature)
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "fields", fields)
        widest = [("9" * INT_DIGITS) if spec is int else "" if spec is str else "x" * int(spec)
                  for _name, spec in fields]
        data = ":".join([feature, action, *widest])
        if len(data.encode()) > BUTTON_DATA_BYTES:
            raise ValueError(f"button {feature}:{action} may need {len(data.encode())} bytes, "
                             f"over Telegram's {BUTTON_DATA_BYTES}")

    @property
    def route(self) -> str:
        """What the router looks the handler up by."""
        return f"{self.feature}:{self.action}"

    def data(self, **values: Any) -> str:
        parts = []
        for name, spec in self.fields:
            value = values.pop(name)
            if spec is int:
                if not isinstance(value, int) or isinstance(value, bool) or len(str(abs(value))) > INT_DIGITS:
                    raise ValueError(f"{self.route}: {name} must be an int of at most {INT_DIGITS} digits")
                parts.append(str(value))
            else:
                text = str(value)
                if ":" in text or (spec is not str and len(text) > int(spec)):
                    raise ValueError(f"{self.route}: {name} must be at most {spec} characters without ':'")
                parts.append(text)
        if values:
            raise TypeError(f"{self.route}: unknown fields {sorted(values)}")
        data = ":".join([self.feature, self.action, *parts])
        if len(data.encode()) > BUTTON_DATA_BYTES:  # free text, or letters of more than one byte
            raise ValueError(f"{self.route}: {len(data.encode())} bytes, over Telegram's {BUTTON_DATA_BYTES}")
        return data

    def read(self, args: list[str]) -> dict[str, Any]:
        """The fields of a pressed button (``args``: the data after ``feature:action``); a
        button of an older version of the bot, or data made up, gets a clear answer."""
        if len(args) != len(self.fields):
            raise UserError(_("This button no longer works."))
        out: dict[str, Any] = {}
        for (name, spec), raw in zip(self.fields, args, strict=True):
            if spec is int:
                if not raw.isdecimal() or len(raw) > INT_DIGITS or int(raw) > INT_MAX:
                    raise UserError(_("This button no longer works."))
                out[name] = int(raw)
            else:
                if spec is not str and len(raw) > int(spec):
                    raise UserError(_("This button no longer works."))
                out[name] = raw
        return out


@dataclass(frozen=True, init=False)
class JobKey:
    kind: str
    fields: tuple[str, ...]

    def __init__(self, kind: str, *fields: str) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "fields", fields)

    def key(self, **values: Any) -> str:
        if set(values) != set(self.fields):
            raise TypeError(f"{self.kind}: needs {self.fields}, got {sorted(values)}")
        return ":".join([self.kind, *(str(values[name]) for name in self.fields)])

    def prefix(self, **values: Any) -> str:
        """The keys of this kind whose leading fields are ``values`` (given in order, none
        skipped): ``kind:v1:`` …; with no values every job of the kind."""
        given = list(values)
        if given != list(self.fields[:len(given)]):
            raise TypeError(f"{self.kind}: a prefix gives leading fields of {self.fields}, got {given}")
        return ":".join([self.kind, *(str(values[name]) for name in given)]) + ":"
