"""What every feature module is made of: commands, the request context, user errors.

A feature module exposes ``FEATURE = Feature(...)``. It talks to the store through ``storage``
and to people only through the :class:`Context` (which wraps the neutral Transport).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from core.clock import Clock
from core.events import Button, FileOut, Incoming, Reply, Role
from core.i18n import Catalogs, resolve_language, use_locale
from core.transport import TransactionRuleError, Transport
from handlers.permissions import Rule
from handlers.permissions import rule as permission
from storage.core import Chat, Job, languages_for
from storage.db import Database
from storage.retention import Policy as RetentionPolicy

log = logging.getLogger(__name__)


class UserError(Exception):
    """A problem the person can fix. ``message`` is already translated (raise it inside the
    request, where the locale is set). With ``show_usage`` the router appends the command's usage."""

    def __init__(self, message: str, *, show_usage: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.show_usage = show_usage


def raw_text(args: str) -> str:
    return args.strip()


Handler = Callable[["Context", Any], Awaitable[None]]
MessageHandler = Callable[["Context"], Awaitable[bool]]
ButtonHandler = Callable[["Context", list[str]], Awaitable[None]]
EventHandler = Callable[["Context"], Awaitable[None]]
JobHandler = Callable[["Services", Job], Awaitable[None]]
#: an HTTP route's handler: (services, the path's {parameters}) -> (status, content type, body)
HttpHandler = Callable[["Services", dict[str, str]], Awaitable[tuple[int, str, bytes]]]


@dataclass(frozen=True)
class HttpRoute:
    """A route a feature serves on the bot's HTTP server (registered by the composition root, which
    owns the server): ``method``, an aiohttp-style ``path`` ("/calendar/{secret}.ics") and its handler."""

    method: str
    path: str
    handler: HttpHandler


@dataclass(frozen=True)
class _Named:
    name: str
    handler: Handler | None
    aliases: dict[str, tuple[str, ...]]
    help: str  # N_() one-line description
    usage: str = ""  # N_() argument synopsis, e.g. "<text>"
    parse: Callable[[str], Any] = raw_text
    #: who may is not declared here but in the one table, handlers/permissions.py
    private_only: bool = False

    def names(self) -> Iterator[str]:
        yield self.name
        for names in self.aliases.values():
            yield from names

    def shown_name(self, lang: str) -> str:
        names = self.aliases.get(lang) or self.aliases.get("en") or (self.name,)
        return names[0]


#: the names of a subcommand that shows one thing (``/kokous näytä 3``, also picked by ``numbered``)
SHOW_NAMES = {"fi": ("näytä", "nayta"), "sv": ("visa",), "en": ("show",)}


@dataclass(frozen=True)
class Subcommand(_Named):
    """The first word after a command (``/checklist start …``), declared in the command's table
    like a command: names per language (any case, letters of the language), its parser for the
    rest and help (who may: handlers/permissions.py, ``/checklist start``). The router picks it; no
    feature dispatches words itself. ``takes_own``: picked even when the arguments hold the
    command's ``own_if_contains`` (``/poll area Lunch? | mon | tue``)."""

    takes_own: bool = False


@dataclass(frozen=True)
class Command(_Named):
    """One command. ``aliases`` maps a language to its names (a-z, 0-9, _ only, so they work as
    Telegram commands); the first name of the person's language is the one shown in help.

    With ``subcommands`` the first word of the arguments picks one of them (the word after
    ``leading`` words, where those come first: ``/experiment 5 start``). A word that names none
    goes to ``otherwise`` (a subcommand's name) or else to the command's own ``handler`` with
    all the arguments (``/poll Lunch? | mon | tue``); with neither the person is told the word
    is unknown. No word at all goes to ``default``, if given; a number alone (``3``, ``#3``) to
    ``numbered``, if given, with the number. A subcommand gets the leading words and what follows
    its name."""

    hidden: bool = False
    subcommands: tuple[Subcommand, ...] = ()
    default: str | None = None
    otherwise: str | None = None
    numbered: str | None = None
    leading: int = 0
    leading_usage: str = ""  # N_() what the leading words are, e.g. "<number>"
    #: arguments holding this text are the command's own whatever their first word
    #: (``/poll Close the gate? | yes | no`` is a new poll, not ``close``)
    own_if_contains: str = ""

    def subcommand(self, name: str) -> Subcommand:
        return next(s for s in self.subcommands if s.name == name)

    def pick(self, args: str) -> tuple[Subcommand | None, str]:
        """The subcommand ``args`` asks for and the rest of them; (None, args) when its first
        word names none (the default or the command's own handler takes them)."""
        if self.own_if_contains and self.own_if_contains in args:
            word, _sep, rest = args.strip().partition(" ")
            for sub in self.subcommands:
                if sub.takes_own and word.casefold() in (n.casefold() for n in sub.names()):
                    return sub, rest.strip()
            return None, args.strip()
        if self.numbered is not None and args.strip().lstrip("#").isdecimal():
            return self.subcommand(self.numbered), args.strip()
        parts = args.split(maxsplit=self.leading + 1)
        lead = parts[:self.leading]
        word = parts[self.leading].casefold() if len(parts) > self.leading else ""
        rest = parts[self.leading + 1].strip() if len(parts) > self.leading + 1 else ""
        if word:
            for sub in self.subcommands:
                if word in (n.casefold() for n in sub.names()):
                    return sub, " ".join([*lead, rest]).strip()
            if self.otherwise is not None:
                return self.subcommand(self.otherwise), args.strip()
        elif self.default is not None:
            return self.subcommand(self.default), " ".join(lead)
        return None, args.strip()


@dataclass
class Feature:
    name: str
    commands: list[Command] = field(default_factory=list)
    #: button handlers by action; button data is "feature:action:arg:arg"
    buttons: dict[str, ButtonHandler] = field(default_factory=dict)
    #: called for messages that are not commands, in feature order; True = handled
    on_message: MessageHandler | None = None
    on_reaction: EventHandler | None = None
    on_poll_vote: EventHandler | None = None
    on_edit: EventHandler | None = None  # a person edited an earlier message (Kind.EDIT)
    #: scheduled job handlers by job kind
    jobs: dict[str, JobHandler] = field(default_factory=dict)
    #: runs once after the store is migrated, before transports start
    on_start: Callable[[Services], Awaitable[None]] | None = None
    #: lower runs first for non-command messages (conversations before hashtags)
    order: int = 100
    #: weekly digest: JSON-serialisable facts about one chat in [start, end), or None if nothing
    digest: Callable[[Services, str, datetime, datetime], Awaitable[dict | None]] | None = None
    #: render a digest contribution as HTML lines in the current locale
    render_digest: Callable[[dict], list[str]] | None = None
    #: raw-record exports by name ("ideas", "polls"…): rows for the given chats (None = all);
    #: with public=True only fields without personal data
    exports: dict[str, Callable[[Services, list[str] | None, bool], Awaitable[list[dict]]]] = field(
        default_factory=dict)
    #: sees every incoming event before routing (keep it cheap: it runs for every message)
    on_event: EventHandler | None = None
    #: runs at every scheduler wake-up (safety tick, wake()) before due jobs; keep it cheap
    on_tick: Callable[[Services], Awaitable[None]] | None = None
    #: runs when the app closes (flush buffers)
    on_stop: Callable[[Services], Awaitable[None]] | None = None
    #: a cheap test whether a message that is no command is one ``on_message`` acts on (an
    #: ``#idea``): such messages count towards the rate limit like commands (handlers/limits.py)
    triggers: Callable[[str], bool] | None = None
    #: routes served on the bot's HTTP server (``[http] port``); see HttpRoute
    http_routes: list[HttpRoute] = field(default_factory=list)


@dataclass(frozen=True)
class Limits:
    """Trust settings the composition root copies from the configuration (bot/config.py)."""

    #: commands and ``#idea`` messages one person may send in a minute (admins, coordinators exempt)
    per_person_per_minute: int = 20
    #: the same for a whole chat
    per_chat_per_minute: int = 60
    #: fewer respondents than this and a profile, anonymous poll count or digest figure is not
    #: shown to others (it would reveal one person's answer)
    min_respondents: int = 3


@dataclass
class Services:
    """What features may use, built by the composition root (bot/app.py)."""

    db: Database
    clock: Clock
    catalogs: Catalogs
    features: list[Feature]
    coordinators: frozenset[str] = frozenset()
    #: the bot's operators ("platform:user-id"): everything a coordinator is
    operators: frozenset[str] = frozenset()
    transports: dict[str, Transport] = field(default_factory=dict)
    data_dir: Path = Path("kehrabot-data")
    #: tell the scheduler that a job is due at this time (after the job row is committed)
    wake: Callable[[datetime], None] = lambda _when: None
    #: chats already known to exist in the store (a cache owned by the app)
    known_chats: set[str] = field(default_factory=set)
    #: (person, chat) -> (person's language, chat's language, the chat's settings, fetched at); a
    #: short-lived cache (handlers/router.py), emptied here when one of them changes
    language_cache: dict[tuple[str, str], tuple[str | None, str | None, dict[str, Any], float]] = field(
        default_factory=dict)
    #: counts the times that cache was emptied (a read begun before is not cached after)
    language_cache_generation: int = 0
    limits: Limits = field(default_factory=Limits)
    #: months each kind of raw record is kept (storage/retention.py; 0 = forever)
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    #: per-feature runtime objects made in on_start (buffers, caches), one set per App
    extensions: dict[str, Any] = field(default_factory=dict)
    #: the HTTP server's public base URL (``[http] public_url``), "" when not published
    public_url: str = ""

    def forget_languages(self) -> None:
        """Call after a language setting changed."""
        self.language_cache.clear()
        self.language_cache_generation += 1

    def forget_chat_settings(self) -> None:
        """Call after a chat setting read through ``Context.cached_setting`` changed (the same cache)."""
        self.forget_languages()

    def transport_for(self, chat_key: str) -> Transport:
        platform = chat_key.split(":", 1)[0]
        try:
            return self.transports[platform]
        except KeyError:
            raise LookupError(f"no transport for {chat_key}") from None

    def command(self, name: str) -> Command:
        for feature in self.features:
            for cmd in feature.commands:
                if cmd.name == name:
                    return cmd
        raise KeyError(name)

    def find_command(self, alias: str) -> Command | None:
        for feature in self.features:
            for cmd in feature.commands:
                if alias in cmd.names():
                    return cmd
        return None

    async def chat_language(self, chat_key: str) -> str:
        async with self.db.session() as session:
            _person, chat = await languages_for(session, "", chat_key)
        return resolve_language(chat)

    @contextmanager
    def locale(self, lang: str) -> Iterator[None]:
        with use_locale(self.catalogs, lang):
            yield

    async def send(self, chat_key: str, html: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> str | None:
        """Send to a chat outside a request (scheduled jobs); set the locale first."""
        transport = self.transport_for(chat_key)
        return await transport.send(chat_key.split(":", 1)[1], Reply(html=html, buttons=buttons))

    def command_text(self, name: str, platform: str, lang: str) -> str:
        prefix = self.transports[platform].command_prefixes[0] if platform in self.transports else "/"
        return prefix + self.command(name).shown_name(lang)


class Context:
    """One request: the event, the person's language, and ways to answer."""

    def __init__(self, services: Services, transport: Transport, event: Incoming, lang: str) -> None:
        self.services = services
        self.transport = transport
        self.event = event
        self.lang = lang
        self.command: Command | None = None
        self.subcommand: Subcommand | None = None  # the one the router picked, if any
        #: the permission table's entry of what is handled (handlers/permissions.py), set by the router
        self.action: str | None = None
        self._role: Role | None = None
        #: the chat's settings as the router found them (cached up to a minute; None: not read)
        self.chat_settings: dict[str, Any] | None = None

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def chat_key(self) -> str:
        return self.event.chat_key

    @property
    def sender_key(self) -> str:
        return self.event.sender_key

    def now(self) -> datetime:
        return self.services.clock.now()

    def cmd(self, name: str) -> str:
        """How to write command ``name`` here, e.g. "/tue" or "!support"."""
        return self.transport.command_prefixes[0] + self.services.command(name).shown_name(self.lang)

    def usage(self, cmd: Command, sub: Subcommand | None = None) -> str:
        from core.i18n import _

        name = self.transport.command_prefixes[0] + cmd.shown_name(self.lang)
        if sub is not None:
            if cmd.leading_usage:
                name += " " + _(cmd.leading_usage)
            name += " " + sub.shown_name(self.lang)
            return f"{name} {_(sub.usage)}".rstrip() if sub.usage else name
        return f"{name} {_(cmd.usage)}".rstrip() if cmd.usage else name

    async def role(self) -> Role:
        """The person's role here: configured (operators, coordinators) or the platform's answer,
        asked once per request (ask before a transaction: it may call the platform)."""
        if self._role is None:
            if self.event.sender_key in self.services.operators:
                self._role = Role.OPERATOR
            elif self.event.sender_key in self.services.coordinators:
                self._role = Role.COORDINATOR
            elif self.event.is_private:
                self._role = Role.ADMIN  # a person administers their own private chat
            else:
                try:
                    self._role = await self.transport.role_of(self.event.chat_id, self.event.sender_id)
                except TransactionRuleError:
                    raise  # a bug to see, not a platform failure to shrug off
                except Exception:
                    log.warning("role lookup failed in %s", self.event.chat_key, exc_info=True)
                    self._role = Role.MEMBER
        return self._role

    async def cached_setting(self, name: str, default: Any = None) -> Any:
        """A chat setting from the router's cache of the chat (no read per event): one this
        process changes is seen at once (``Services.forget_chat_settings``), another
        instance's change after at most ``LANGUAGE_CACHE_SECONDS``, as a language is. For a
        setting that may be that late; read the ``Chat`` row where it may not."""
        if self.chat_settings is None:
            async with self.db.session() as session:
                chat = await session.get(Chat, self.chat_key)
            self.chat_settings = json.loads(chat.settings or "{}") if chat is not None else {}
        return self.chat_settings.get(name, default)

    async def _raised(self, rule: Rule) -> bool:
        if rule.setting is None:
            return False
        async with self.db.session() as session:
            chat = await session.get(Chat, self.chat_key)
        return chat is not None and chat.setting(rule.setting.key, rule.setting.default) == rule.setting.value

    async def allowed(self, action: str | None = None, *, owner: bool | None = None) -> bool:
        """Whether the permission table lets this person do ``action`` (default: what is being
        handled). ``owner``: whether they own the thing, where the entry lets an owner."""
        rule = permission(action or self.action or "")
        if rule.role == Role.MEMBER and rule.setting is None:
            return True  # everyone; no need to ask the platform who this is
        if owner and rule.owner:
            return True
        raised = await self._raised(rule)
        asks = rule.role is not None and (rule.role > Role.MEMBER or raised)  # the platform only when it matters
        return rule.allows(await self.role() if asks else Role.MEMBER, owner=owner, raised=raised)

    async def permit(self, action: str | None = None, *, owner: bool | None = None, **details: object) -> None:
        """Refuse, with the table's localized refusal, unless the person may do ``action``
        (default: what is being handled). The one check: the router makes it for every command,
        subcommand and button before its handler; a handler makes it again with ``owner`` once it
        holds the thing (inside a transaction too: the router asked the role already). ``details``
        fill the refusal's fields ({number})."""
        if not await self.allowed(action, owner=owner):
            rule = permission(action or self.action or "")
            raise UserError(rule.refusal(raised=await self._raised(rule), **details))

    async def reply(
        self, html: str, buttons: tuple[tuple[Button, ...], ...] = (), *, quote: bool = False,
        key: str | None = None,
    ) -> str | None:
        """Answer in the event's chat and thread (a forum topic); ``key`` names the message for the
        outbox where the send scope's count would not (a handler run again that skips a send)."""
        reply = Reply(html=html, buttons=buttons, reply_to_id=self.event.message_id if quote else None,
                      thread_id=self.event.thread_id, key=key)
        return await self.transport.send(self.event.chat_id, reply)

    async def edit(self, message_id: str, html: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> None:
        await self.transport.edit(self.event.chat_id, message_id, Reply(html=html, buttons=buttons))

    async def send_file(self, file: FileOut) -> str | None:
        if file.thread_id is None and self.event.thread_id:
            file = replace(file, thread_id=self.event.thread_id)
        return await self.transport.send_file(self.event.chat_id, file)

    async def acknowledge(self, text: str) -> None:
        """Short answer to a button press (a toast where the platform has one)."""
        await self.transport.acknowledge(self.event, text)
