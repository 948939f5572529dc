"""Test helpers: a fake transport that records what was sent, and a TestBot around a real App
on a real SQLite file (like maubot's TestBot). Used by tests and benchmarks."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.config import LimitSettings, RetentionSettings, Settings
from core.clock import ManualClock
from core.events import FileOut, Incoming, Kind, PollOutcome, PollSpec, Reply, Role
from core.markup import to_plain
from core.transport import Capabilities, Unavailable, always_ready

#: retention off: a scripted test that moves its clock over nights counts no nightly retention job
KEEP_FOREVER = RetentionSettings(activity_months=0, poll_votes_months=0, rsvp_months=0, audit_months=0)


@dataclass
class Sent:
    chat_id: str
    kind: str  # message | edit | file | poll | close_poll | ack
    reply: Reply | None = None
    file: FileOut | None = None
    poll: PollSpec | None = None
    outcome: PollOutcome | None = None
    message_id: str | None = None
    text: str = ""

    @property
    def plain(self) -> str:
        if self.reply is not None:
            return to_plain(self.reply.html)
        return self.text


@dataclass
class FakeTransport:
    platform: str = "fake"
    command_prefixes: tuple[str, ...] = ("/",)
    bot_username: str = "kehrabot"
    #: knobs for what the fake can do (see ``capabilities``)
    native_polls: bool = False
    confirm_poll_votes: bool = False  # the platform shows no vote of its own (as the console)
    members: int | None = None  # member_count() answers this when set
    max_buttons: int | None = None  # as Matrix's ten reaction keys
    admins: dict[str, set[str]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    fail_sends: int = 0  # the next N sends raise (to test retries)
    ready: asyncio.Event = field(default_factory=always_ready)  # a test may clear it (not connected)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def capabilities(self) -> Capabilities:
        """What the fake can do, from its knobs (a test may change them on the way)."""
        return Capabilities(native_polls=self.native_polls, shows_own_vote=not self.confirm_poll_votes,
                            reactions=True, edits=True, member_count=self.members is not None,
                            max_buttons=self.max_buttons)

    async def start(self, dispatch) -> None:
        return None

    async def stop(self) -> None:
        return None

    def _id(self) -> str:
        return f"b{next(self._ids)}"

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        if self.fail_sends:
            self.fail_sends -= 1
            raise Unavailable("fake transport down")  # refused: certainly not sent
        message_id = self._id()
        self.sent.append(Sent(chat_id, "message", reply=reply, message_id=message_id))
        return message_id

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> None:
        self.sent.append(Sent(chat_id, "edit", reply=reply, message_id=message_id))

    async def send_file(self, chat_id: str, file: FileOut) -> str | None:
        message_id = self._id()
        self.sent.append(Sent(chat_id, "file", file=file, message_id=message_id, text=file.filename))
        return message_id

    async def send_poll(self, chat_id: str, poll: PollSpec) -> str | None:
        if not self.native_polls:
            return None
        message_id = self._id()
        self.sent.append(Sent(chat_id, "poll", poll=poll, message_id=message_id, text=poll.question))
        return message_id

    async def close_poll(self, chat_id: str, poll_ref: str, outcome: PollOutcome) -> None:
        self.sent.append(Sent(chat_id, "close_poll", outcome=outcome, message_id=poll_ref))

    async def acknowledge(self, event: Incoming, text: str) -> None:
        self.sent.append(Sent(event.chat_id, "ack", text=text))

    async def private_chat(self, user_id: str) -> str | None:
        return f"private-{user_id}"

    async def member_count(self, chat_id: str) -> int | None:
        return self.members

    async def role_of(self, chat_id: str, user_id: str) -> Role:
        return Role.ADMIN if user_id in self.admins.get(chat_id, set()) else Role.MEMBER


class TestBot:
    """``await bot.say("/idea …")`` returns the plain texts of what the bot sent in reply."""

    __test__ = False  # not a pytest class

    def __init__(self, data_dir: Path, *, clock: ManualClock | None = None, database_url: str | None = None,
                 coordinators: list[str] | None = None, operators: list[str] | None = None,
                 transport: FakeTransport | None = None, more_transports: list[FakeTransport] | None = None,
                 strict: bool = True, limits: LimitSettings | None = None,
                 min_respondents: int | None = None, retention: RetentionSettings | None = None) -> None:
        """``limits``: the rate limit; by default one no scripted test reaches (the suite's
        conversations are not floods; tests of the limit pass ``LimitSettings()``, the defaults).
        ``min_respondents``: by default 1, so the suite's profiles and polls of one or two people show
        their figures; tests of small groups' privacy pass 3, the product's default.
        ``retention``: by default everything is kept forever (no nightly job among the jobs a test
        counts); tests of retention pass ``RetentionSettings()``, the product's figures."""
        from bot.app import App

        self.clock = clock or ManualClock()
        self.transport = transport or FakeTransport()
        #: every transport by platform (``more_transports``: a second platform in the same App; the
        #: helpers below take ``platform=`` to speak on it)
        self.transports = {self.transport.platform: self.transport,
                           **{t.platform: t for t in more_transports or []}}
        settings = Settings.model_construct(
            **{**dict(Settings.model_construct()), "data_dir": data_dir, "database_url": database_url,
               "coordinators": coordinators or [], "operators": operators or [],
               "limits": limits or LimitSettings(per_person_per_minute=100_000, per_chat_per_minute=100_000),
               "min_respondents": 1 if min_respondents is None else min_respondents,
               "retention": retention or KEEP_FOREVER}
        )
        self.app = App(settings, clock=self.clock, transports=list(self.transports.values()),
                       strict=strict)
        self.services = self.app.services
        self.messages = itertools.count(1)

    async def open(self) -> TestBot:
        await self.app.open()
        return self

    async def close(self) -> None:
        await self.app.db.close()
        if self.app.violations:
            raise AssertionError("platform calls inside an open transaction:\n" + "\n".join(self.app.violations))

    def make_admin(self, user: str, chat: str = "group", *, platform: str | None = None) -> None:
        self.transports[platform or self.transport.platform].admins.setdefault(chat, set()).add(user)

    async def event(self, platform: str | None = None, **kw) -> list[Sent]:
        transport = self.transports[platform or self.transport.platform]
        before = len(transport.sent)
        await self.app.dispatch(transport, Incoming(platform=transport.platform, **kw))
        return transport.sent[before:]

    async def say(self, text: str, *, user: str = "u1", name: str | None = None, chat: str = "group",
                  private: bool = False, lang: str | None = None, message_id: str | None = None,
                  platform: str | None = None) -> list[str]:
        sent = await self.event(
            platform, chat_id=chat, sender_id=user, sender_name=name or user.capitalize(), text=text,
            is_private=private, language_hint=lang, message_id=message_id or f"in{next(self.messages)}",
            chat_title=chat,
        )
        return [s.plain for s in sent]

    async def press(self, data: str, *, user: str = "u1", chat: str = "group", target_id: str | None = None,
                    lang: str | None = None, platform: str | None = None) -> list[Sent]:
        return await self.event(platform, chat_id=chat, sender_id=user, sender_name=user.capitalize(),
                                kind=Kind.BUTTON, button_data=data, target_id=target_id, language_hint=lang)

    async def react(self, target_id: str, emoji: str = "👍", *, user: str = "u1", chat: str = "group",
                    removed: bool = False) -> list[Sent]:
        return await self.event(chat_id=chat, sender_id=user, sender_name=user.capitalize(), kind=Kind.REACTION,
                                reaction=emoji, target_id=target_id, reaction_removed=removed)

    async def vote(self, poll_ref: str, *choices: int, user: str = "u1", chat: str = "group",
                   platform: str | None = None) -> list[Sent]:
        return await self.event(platform, chat_id=chat, sender_id=user, sender_name=user.capitalize(), kind=Kind.POLL_VOTE,
                                poll_ref=poll_ref, poll_choices=tuple(choices))

    async def run_due(self, until: datetime | None = None) -> int:
        if until is not None:
            self.clock.set(until)
        return await self.app.jobs.run_due()

    def last(self) -> str:
        return self.transport.sent[-1].plain
