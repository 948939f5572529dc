"""Dispatch: commands, buttons, reactions, poll votes and plain messages to the features,
with the locale set per request and one error boundary."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy.exc import IntegrityError

from core.events import Incoming, Kind, Role
from core.i18n import _, format_number, ngettext, resolve_language, use_locale
from core.markup import esc, neutralise, storable
from core.transport import Ambiguous, Transport, TransportError
from handlers.base import Command, Context, Feature, Services, UserError
from handlers.limits import FloodGate, Verdict
from handlers.permissions import command_action, missing
from storage import audit
from storage.core import ensure_chat, languages_and_settings, move_chat
from storage.db import store_unavailable

log = logging.getLogger(__name__)

#: anything longer is refused before parsing (ideas have their own, smaller limit)
MAX_MESSAGE_CHARS = 20_000
_COMMAND = re.compile(r"^\s*(?P<prefix>[/!])(?P<name>[A-Za-z0-9_]{1,32})(?:@(?P<bot>\S+))?(?:\s+(?P<args>.*))?$", re.S)
#: another instance's change of a language or a cached chat setting is seen after at most this long
LANGUAGE_CACHE_SECONDS = 60
_NAME_OK = re.compile(r"^[a-z0-9_]{1,32}$")


#: an event's keys that a person's client may choose (a Matrix reaction, a button's data, a poll's
#: reference): made storable (core.markup.storable), as its texts are made what people see
_KEYS = ("button_data", "reaction", "poll_ref", "target_id", "message_id", "reply_to_id")


def _neutralised(event: Incoming) -> Incoming:
    """The event with its texts as people see them (core.markup.neutralise): no bidirectional
    overrides or invisible characters in what features store or compare, carriage returns as line
    breaks. The one place incoming text is cleaned; see docs/DEVELOPING.md "Untrusted text"."""
    clean = {name: neutralise(value) for name in ("text", "sender_name", "chat_title")
             if (value := getattr(event, name)) and neutralise(value) != value}
    clean.update({name: storable(value) for name in _KEYS if (value := getattr(event, name)) and storable(value) != value})
    return replace(event, **clean) if clean else event


@dataclass(frozen=True)
class ParsedCommand:
    prefix: str
    name: str
    addressee: str | None
    args: str


def parse_command(text: str, prefixes: tuple[str, ...]) -> ParsedCommand | None:
    m = _COMMAND.match(text)
    if not m or m["prefix"] not in prefixes:
        return None
    return ParsedCommand(m["prefix"], m["name"].lower(), m["bot"], (m["args"] or "").strip())


class Router:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.features: list[Feature] = services.features
        self.commands: dict[str, Command] = {}
        self.buttons = {}
        for feature in self.features:
            for cmd in feature.commands:
                for name in set(cmd.names()):
                    if not _NAME_OK.match(name):
                        raise ValueError(f"command name {name!r} of {feature.name} is not a-z0-9_")
                    other = self.commands.get(name)
                    if other is not None and other is not cmd:
                        raise ValueError(f"command name {name!r} used by {other.name} and {cmd.name}")
                    self.commands[name] = cmd
            for action, handler in feature.buttons.items():
                self.buttons[f"{feature.name}:{action}"] = handler
        without, stale = missing(self.features)  # who may do what: tests/test_permissions.py wants none
        if without or stale:
            log.warning("permission table: no entry for %s (everyone may); entries naming nothing: %s", without, stale)
        self.observers = [f.on_event for f in self.features if f.on_event]
        self.triggers = [f.triggers for f in self.features if f.triggers]
        self.flood = FloodGate(services.limits)
        #: called with the platform when a handler or observer fails (the app counts it)
        self.on_error: Callable[[str], None] = lambda _platform: None

    async def _language(self, event: Incoming) -> tuple[str, dict]:
        """The event's language, and the chat's settings (for ``Context.cached_setting``)."""
        cache = self.services.language_cache
        key = (event.sender_key, event.chat_key)
        hit = cache.get(key)
        if hit is not None and time.monotonic() - hit[3] < LANGUAGE_CACHE_SECONDS:
            return resolve_language(hit[0], hit[1], event.language_hint), hit[2]
        generation = self.services.language_cache_generation
        async with self.services.db.session() as session:
            person_lang, chat_lang, settings = await languages_and_settings(session, event.sender_key, event.chat_key)
        # a chat that moved is not made again by its own late service message
        if event.chat_key not in self.services.known_chats and event.kind != Kind.CHAT_MOVED:
            try:
                async with self.services.db.transaction() as session:
                    await ensure_chat(session, event.chat_key, event.platform, event.chat_title,
                                      self.services.clock.now())
            except IntegrityError:  # a concurrent first message of the same chat created it
                pass
            self.services.known_chats.add(event.chat_key)
        if len(cache) > 10_000:
            cache.clear()
        if generation == self.services.language_cache_generation:  # not changed while this was read
            cache[key] = (person_lang, chat_lang, settings, time.monotonic())
        return resolve_language(person_lang, chat_lang, event.language_hint), settings

    async def dispatch(self, transport: Transport, event: Incoming) -> bool:
        """Handle one event. Never raises: errors become a localized reply and a log line.
        False when the platform could not be reached for a reply (nothing sent: handle the event
        again later; the store's part is idempotent and the sends are keyed)."""
        started = time.perf_counter()
        event = _neutralised(event)
        settings = None
        try:
            lang, settings = await self._language(event)
        except Exception:
            log.exception("store unavailable while handling %s in %s", event.kind, event.chat_key)
            lang = resolve_language(event.language_hint)
        ctx = Context(self.services, transport, event, lang)
        ctx.chat_settings = settings
        for observe in self.observers if event.kind != Kind.CHAT_MOVED else ():  # no one did anything
            try:
                await observe(ctx)
            except Exception:
                log.exception("event observer failed in %s", event.chat_key)
                self.on_error(event.platform)
        with use_locale(self.services.catalogs, lang):
            try:
                await self._route(ctx)
            except UserError as err:
                await self._explain(ctx, err)
            except Ambiguous:  # a message that may have arrived: an apology on top would confuse
                log.warning("a send's fate is unknown in %s (command %s); no apology sent", event.chat_key,
                            ctx.command.name if ctx.command else None, exc_info=True)
            except TransportError as err:
                if err.retryable:  # the platform is away: nothing was sent, nor would an apology be
                    log.warning("%s unreachable while handling %s in %s (%s); handled again later",
                                event.platform, event.kind, event.chat_key, err)
                    return False
                log.exception("handler failed on the platform: chat=%s command=%s", event.chat_key,
                              ctx.command.name if ctx.command else None)
                self.on_error(event.platform)
                await self._safe_reply(ctx, _("Sorry, something went wrong on my side. Please try again later."))
            except Exception as err:
                if store_unavailable(err):  # nothing was committed: handled again, with back-off
                    log.warning("the store was unreachable while handling %s in %s (%r); handled again later",
                                event.kind, event.chat_key, err)
                    return False
                log.exception(
                    "handler failed: platform=%s chat=%s kind=%s command=%s",
                    event.platform, event.chat_key, event.kind, ctx.command.name if ctx.command else None,
                )
                self.on_error(event.platform)
                await self._safe_reply(ctx, _("Sorry, something went wrong on my side. Please try again later."))
        log.debug("handled %s in %.1f ms", event.kind, (time.perf_counter() - started) * 1000)
        return True

    async def _explain(self, ctx: Context, err: UserError) -> None:
        text = esc(err.message)
        if ctx.event.kind == Kind.BUTTON:
            try:
                await ctx.acknowledge(err.message)
                return
            except Exception:
                log.warning("could not acknowledge a button press", exc_info=True)
        if err.show_usage and ctx.command is not None:
            text += "\n" + _("Usage: {usage}").format(usage=esc(ctx.usage(ctx.command, ctx.subcommand)))
        await self._safe_reply(ctx, text)

    async def _safe_reply(self, ctx: Context, html: str) -> None:
        try:
            await ctx.reply(html)
        except Exception:
            log.exception("could not send a reply to %s", ctx.chat_key)

    async def _route(self, ctx: Context) -> None:
        event = ctx.event
        if event.kind == Kind.BUTTON:
            await self._button(ctx)
        elif event.kind == Kind.REACTION:
            for feature in self.features:
                if feature.on_reaction:
                    await feature.on_reaction(ctx)
        elif event.kind == Kind.EDIT:
            if len(event.text) <= MAX_MESSAGE_CHARS:
                for feature in self.features:
                    if feature.on_edit:
                        await feature.on_edit(ctx)
        elif event.kind == Kind.CHAT_MOVED:
            await self._move_chat(ctx)
        elif event.kind == Kind.POLL_VOTE:
            for feature in self.features:
                if feature.on_poll_vote:
                    await feature.on_poll_vote(ctx)
        else:
            await self._message(ctx)

    async def _move_chat(self, ctx: Context) -> None:
        event = ctx.event
        if not event.target_id:
            return
        new_key = f"{event.platform}:{event.target_id}"
        async with self.services.db.transaction() as session:
            moved = await move_chat(session, event.chat_key, new_key)
            moved and await audit.record(session, chat_key=new_key, actor=audit.SYSTEM, action="chat.move", target="chat", before={"chat": event.chat_key}, after={"chat": new_key}, at=ctx.now())
        if ctx.transport.capabilities.keeps_chat_data:  # the platform's own tables (e.g. native poll → chat)
            await ctx.transport.chat_moved(event.chat_id, event.target_id)
        self.services.known_chats.discard(event.chat_key)
        self.services.forget_chat_settings()
        if moved:
            log.info("chat %s is now %s; moved %s", event.chat_key, new_key, moved)

    async def _admitted(self, ctx: Context) -> bool:
        """The rate limit (handlers/limits.py): False when the event is dropped; the person is
        told once a minute. Coordinators and a group's admins are exempt."""
        now = ctx.now().timestamp()
        person, chat = ctx.sender_key, ctx.chat_key
        if not self.flood.over(person, chat, now):
            self.flood.admit(person, chat, now)
            return True
        role = await ctx.role()
        if role >= Role.COORDINATOR or (role >= Role.ADMIN and not ctx.event.is_private):  # and operators
            return True
        if self.flood.refuse(person, now) is Verdict.DROP_AND_TELL:
            log.info("rate limit: dropping events of %s in %s for a while", person, chat)
            await self._safe_reply(ctx, esc(_(
                "Just a moment – you have sent me a lot of messages. Please wait a minute before sending more.")))
        return False

    async def _button(self, ctx: Context) -> None:
        data = ctx.event.button_data or ""
        parts = data.split(":")
        route = ":".join(parts[:2])
        handler = self.buttons.get(route)
        if handler is None:
            raise UserError(_("This button no longer works."))
        ctx.action = route
        await ctx.permit()
        await handler(ctx, parts[2:])

    async def _message(self, ctx: Context) -> None:
        text = ctx.event.text or ""
        if len(text) > MAX_MESSAGE_CHARS:
            if parse_command(text[:100], ctx.transport.command_prefixes) or ctx.event.is_private:
                raise UserError(ngettext("That message is too long for me ({count} character).",
                                         "That message is too long for me ({count} characters).",
                                         len(text)).format(count=format_number(len(text))))
            return
        parsed = parse_command(text, ctx.transport.command_prefixes)
        if parsed is None:
            if any(trigger(text) for trigger in self.triggers) and not await self._admitted(ctx):
                return
            for feature in self.features:
                if feature.on_message and await feature.on_message(ctx):
                    return
            return
        if parsed.addressee and parsed.addressee.lower() != (ctx.transport.bot_username or "").lower():
            return  # /cmd@otherbot
        if not await self._admitted(ctx):
            return
        cmd = self.commands.get(parsed.name)
        if cmd is None:
            raise UserError(
                _("I don't know the command {command}. Send {help} to see what I can do.").format(
                    command=parsed.prefix + parsed.name, help=ctx.cmd("help")
                )
            )
        ctx.command = cmd
        target, rest = cmd.pick(parsed.args) if cmd.subcommands else (None, parsed.args)
        ctx.subcommand = target
        declared = target or cmd
        if declared.handler is None:
            word = rest.split()[0] if rest.split() else ""
            raise UserError(_("I don't know what {word} means here.").format(word=word[:40]), show_usage=True)
        for need in (cmd, declared):
            if need.private_only and not ctx.event.is_private:
                raise UserError(_("Send this command to me in a private chat."))
        ctx.action = command_action(cmd, target)
        await ctx.permit()  # the permission table; an owner's entry is checked again by the handler
        try:
            args = declared.parse(rest)
        except UserError as err:
            err.show_usage = True
            raise
        await declared.handler(ctx, args)
