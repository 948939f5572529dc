"""Calendars to subscribe to: each chat and each area has a secret iCalendar feed URL served by the
bot's HTTP server (``[http] public_url`` is how the world reaches it), so Google, Apple and Outlook
calendars follow the meetings, their moves and cancellations (stable UIDs, SEQUENCE, STATUS).

``/kalenteri tilaa`` (``[alue]``) in a group sends the person the link in a private chat (the
group is the chat whose calendar they want; nobody else sees the link); in a private chat it says
to ask in the group. ``/kalenteri uusi`` (admins) makes a new secret: the old URL then answers 404.
A published area (``/julkaise … meetings``) also has a public feed, without descriptions.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import select

from core.i18n import _, resolve_language
from core.markup import b, esc
from handlers.base import Context, HttpRoute, Services, UserError
from handlers.meetings.ics import build_ics
from storage import audit
from storage import digest as digest_store
from storage import meetings as store
from storage.core import Chat

log = logging.getLogger(__name__)

FEED_PATH = "/calendar/{secret}.ics"

PUBLIC_PATH = "/calendar/public/{area}.ics"

#: a cancelled meeting stays in the feed (struck out) this long; past meetings this long
KEEP_CANCELLED = timedelta(days=30)
KEEP_PAST = timedelta(days=90)

#: the word after the subcommand that asks for the area's feed
AREA_WORDS = frozenset({"alue", "alueen", "område", "omrade", "området", "area"})

NOT_FOUND = (404, "text/plain; charset=utf-8", b"not found\n")


def _scope(ctx_area: str | None, chat_key: str, args: str) -> str:
    if args.strip().casefold() in AREA_WORDS:
        if not ctx_area:
            raise UserError(_("This chat belongs to no area."))
        return f"area:{ctx_area}"
    if args.strip():
        raise UserError(_("Say nothing after it for this chat's calendar, or “{word}” for the area's.").format(
            word=_("area")), show_usage=True)
    return f"chat:{chat_key}"


def _subcommand(ctx: Context, name: str) -> str:
    return ctx.cmd("calendar") + " " + ctx.services.command("calendar").subcommand(name).shown_name(ctx.lang)


def feed_url(services: Services, secret: str) -> str:
    return services.public_url + FEED_PATH.replace("{secret}", secret)


def public_url(services: Services, area: str) -> str:
    return services.public_url + PUBLIC_PATH.replace("{area}", quote(area, safe=""))


def _require_feeds(services: Services) -> None:
    if not services.public_url:
        raise UserError(_("Calendar feeds are not enabled: the bot's operator has not given its web address."))


async def subscribe_cmd(ctx: Context, args: str) -> None:
    _require_feeds(ctx.services)
    if ctx.event.is_private:
        raise UserError(_("Send {command} in the group whose calendar you want: I will send you its link here, "
                          "in private.").format(command=_subcommand(ctx, "subscribe")))
    async with ctx.db.transaction() as session:
        chat = await session.get(Chat, ctx.chat_key)
        area = chat.area if chat else None
        scope = _scope(area, ctx.chat_key, args)
        secret = await store.feed_secret(session, scope, secrets.token_urlsafe(24), ctx.now())
        published = area is not None and "meetings" in (await digest_store.publications(session)).get(area, [])
    name = area if scope.startswith("area:") else (chat.title if chat and chat.title else ctx.chat_key)
    lines = ["🗓 " + b(_("The calendar of {name}").format(name=name)), esc(feed_url(ctx.services, secret)),
             esc(_("Add it in your calendar app as a subscription (Google: Other calendars → From URL; Apple: "
                   "New Calendar Subscription; Outlook: Add calendar → Subscribe from web). Meetings, moves and "
                   "cancellations then show up by themselves.")),
             esc(_("Keep the link to yourself: anyone with it sees the meetings. An admin can make a new one "
                   "with {command}.").format(command=_subcommand(ctx, "new")))]
    if published:
        lines.append(esc(_("The area's public calendar: {url}").format(url=public_url(ctx.services, area))))
    private = await ctx.transport.private_chat(ctx.event.sender_id)
    sent = None
    if private is not None:
        try:
            sent = await ctx.services.send(f"{ctx.transport.platform}:{private}", "\n".join(lines))
        except Exception:  # e.g. Telegram refuses until the person has started a private chat
            log.info("could not send the calendar link to %s in private", ctx.sender_key, exc_info=True)
    if private is None or sent is None:
        raise UserError(_("I could not write to you in private: open a private chat with me first, then ask "
                          "again here."))
    await ctx.reply(esc(_("I sent you the calendar link in a private chat.")))


async def new_cmd(ctx: Context, args: str) -> None:
    """A new secret for the chat's (or the area's) feed; the old URL stops working (admins)."""
    async with ctx.db.transaction() as session:
        chat = await session.get(Chat, ctx.chat_key)
        scope = _scope(chat.area if chat else None, ctx.chat_key, args)
        had = await store.rotate_feed(session, scope, secrets.token_urlsafe(24), ctx.now())
        await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="calendar.rotate",
                           target=scope.split(":", 1)[0], before={"feed": "old" if had else None},
                           after={"feed": "new", "at": ctx.now()}, at=ctx.now())
    await ctx.reply("🔑 " + esc(_("The calendar has a new link; the old one no longer works. Get the new one with "
                                 "{command}.").format(command=_subcommand(ctx, "subscribe"))))


# --- served over HTTP ----------------------------------------------------------------------


def _one_of_each(meetings: list[store.Meeting], exc: dict, made_by: dict[int, int]) -> list[store.Meeting]:
    """An area time poll made the same meeting in each chat of the area: the area's feed shows it
    once (while the chats have not changed their copies differently)."""
    seen, kept = set(), []
    for m in meetings:
        if m.id in made_by:
            twin = (made_by[m.id], m.title, m.place, m.dtstart_local, m.duration_minutes, m.cancelled_at is None,
                    tuple(sorted(exc[m.id].items(), key=lambda kv: kv[0])))
            if twin in seen:
                continue
            seen.add(twin)
        kept.append(m)
    return kept


async def _feed(services: Services, chat_keys: list[str], name: str, *, public: bool) -> bytes:
    now = services.clock.now()
    async with services.db.session() as session:
        meetings = [m for m in await store.active_meetings(session, chat_keys, include_cancelled=True)
                    if (m.cancelled_at is None or m.cancelled_at > now - KEEP_CANCELLED)
                    and (m.rrule and (m.last_start is None or m.last_start > now - KEEP_PAST)
                         or m.first_start > now - KEEP_PAST)]
        exc = await store.exceptions_of(session, [m.id for m in meetings])
        meetings = _one_of_each(meetings, exc, await store.from_area_time_polls(session, [m.id for m in meetings]))
        languages = [c.language for c in (await session.execute(
            select(Chat).where(Chat.key.in_(chat_keys)))).scalars()] if chat_keys else []
    lang = resolve_language(languages[0] if languages else None)
    platform = chat_keys[0].split(":", 1)[0] if chat_keys else ""
    with services.locale(lang):
        rsvp = services.command_text("rsvp", platform, lang)
        return build_ics(meetings, exc, now, name, rsvp, feed=True, public=public)


async def serve_feed(services: Services, params: dict[str, str]) -> tuple[int, str, bytes]:
    secret = params.get("secret", "")
    if not secret or len(secret) > 64:
        return NOT_FOUND
    async with services.db.session() as session:
        scope = await store.feed_scope(session, secret)
        if scope is None:
            return NOT_FOUND
        kind, _sep, key = scope.partition(":")
        if kind == "area":
            chat_keys = list((await session.execute(select(Chat.key).where(Chat.area == key))).scalars())
            name = key
        else:
            chat = await session.get(Chat, key)
            chat_keys, name = [key], (chat.title if chat and chat.title else key.split(":", 1)[-1])
    return 200, "text/calendar; charset=utf-8", await _feed(services, chat_keys, name, public=False)


async def serve_public(services: Services, params: dict[str, str]) -> tuple[int, str, bytes]:
    area = params.get("area", "")
    async with services.db.session() as session:
        if "meetings" not in (await digest_store.publications(session)).get(area, []):
            return NOT_FOUND
        chat_keys = list((await session.execute(select(Chat.key).where(Chat.area == area))).scalars())
    return 200, "text/calendar; charset=utf-8", await _feed(services, chat_keys, area, public=True)


ROUTES = [HttpRoute("GET", FEED_PATH, serve_feed), HttpRoute("GET", PUBLIC_PATH, serve_public)]
