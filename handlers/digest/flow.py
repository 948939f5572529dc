"""The digest's commands: parse → store → render → reply. This week so far and the weekly
digest's day and time (or off/on), the chat's area, what the area publishes as open data, and
the coordinators' files of a week."""

from __future__ import annotations

from datetime import timedelta

from core.events import FileOut
from core.i18n import _, format_number, ngettext
from core.markup import esc
from handlers.base import Context, UserError
from handlers.digest.activity import flush_activity
from handlers.digest.documents import render_export
from handlers.digest.parse import resolve_week
from handlers.digest.render import publish_label, render, schedule_text
from handlers.digest.schedule import chat_schedule, slot
from handlers.digest.weekly import collect, plan_sweep
from storage import audit
from storage import digest as store
from storage.core import ensure_chat, set_chat_setting


async def digest_show(ctx: Context, _args: None) -> None:
    now = ctx.now()
    week = store.week_of(now)
    start, end = store.week_bounds(week)
    await flush_activity(ctx.services)
    sections = await collect(ctx.services, ctx.chat_key, start, min(end, now + timedelta(seconds=1)))
    await ctx.reply(render(ctx.services, sections, week, start, end, so_far=True))


async def digest_on(ctx: Context, _args: None) -> None:
    await _set_schedule(ctx, {"digest.off": False})


async def digest_off(ctx: Context, _args: None) -> None:
    await _set_schedule(ctx, {"digest.off": True})


async def digest_time(ctx: Context, parsed: tuple[int | None, str | None]) -> None:
    """``/kooste pe 16:00`` (the command's own handler: its first word is a weekday or a time)."""
    day, hhmm = parsed
    settings: dict[str, object] = {"digest.off": False}
    if day is not None:
        settings["digest.day"] = day
    if hhmm is not None:
        settings["digest.time"] = hhmm
    await _set_schedule(ctx, settings)


async def _set_schedule(ctx: Context, settings: dict[str, object]) -> None:
    async with ctx.db.transaction() as session:
        chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
        before = dict(zip(("on", "day", "time"), chat_schedule(chat), strict=True))
        for key, value in settings.items():
            await set_chat_setting(session, chat, key, value)
        await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="digest.settings", target="chat",
                           before=before, after=dict(zip(("on", "day", "time"), chat_schedule(chat), strict=True)), at=ctx.now())
    on, day_, hhmm_ = chat_schedule(chat)
    if on:
        now = ctx.now()
        due = slot(store.shift_week(store.week_of(now), -1), day_, hhmm_)
        plan_sweep(ctx.services, due if due > now else slot(store.week_of(now), day_, hhmm_))
    await ctx.reply(esc(schedule_text(chat)))


async def area_show(ctx: Context, _args: None) -> None:
    """``/alue``: the chat's area."""
    await area_cmd(ctx, None)


async def area_cmd(ctx: Context, name: str | None) -> None:
    """``/alue <name>`` sets the chat's area (admins); with None it is shown."""
    async with ctx.db.transaction() as session:
        chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
        if name is None:
            count = await store.area_chat_count(session, chat.area) if chat.area else 0
        else:
            # Same spelling as an existing area (case-insensitively) joins that area.
            for existing in (await store.chats_by_area(session)):
                if existing and existing.casefold() == name.casefold():
                    name = existing
            await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="chat.area", target="chat",
                               before={"area": chat.area}, after={"area": name}, at=ctx.now())
            chat.area = name
            session.add(chat)
    if name is not None:
        await ctx.reply(esc(_("This chat now belongs to the area {area}.").format(area=name)))
    elif chat.area:
        await ctx.reply(esc(ngettext("This chat belongs to the area {area} ({count} chat in it).",
                                     "This chat belongs to the area {area} ({count} chats in it).",
                                     count).format(area=chat.area, count=format_number(count))))
    else:
        await ctx.reply(esc(_("This chat has no area yet. An admin sets it with {command} <name>.").format(
            command=ctx.cmd("area"))))


async def area_none(ctx: Context, _args: None) -> None:
    async with ctx.db.transaction() as session:
        chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
        await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="chat.area", target="chat",
                           before={"area": chat.area}, after={"area": None}, at=ctx.now())
        chat.area = None
        session.add(chat)
    await ctx.reply(esc(_("This chat no longer belongs to an area.")))


async def publish_show(ctx: Context, _args: None) -> None:
    """``/julkaise``: the area's choices."""
    await publish_cmd(ctx, None)


async def publish_cmd(ctx: Context, choices: list[str] | None) -> None:
    """``/julkaise ideat kyselyt`` sets the area's choices and ``/julkaise ei`` clears them
    (admins); with None they are shown."""
    async with ctx.db.transaction() as session:
        chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
        if not chat.area:
            raise UserError(_("Set the chat's area first with {command} <name>.").format(command=ctx.cmd("area")))
        if choices is None:
            current = (await store.publications(session)).get(chat.area, [])
        else:
            before = (await store.publications(session)).get(chat.area, [])
            await store.set_publication(session, chat.area, choices, ctx.sender_key, ctx.now())
            await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="area.publish", target=f"area:{chat.area}",
                               before={"publish": before}, after={"publish": choices}, at=ctx.now())
            current = choices
    if current:
        text = _("The area {area} publishes as open data: {choices}.").format(
            area=chat.area, choices=", ".join(publish_label(c) for c in current))
    else:
        text = _("The area {area} publishes nothing as open data.").format(area=chat.area)
    await ctx.reply(esc(text))


async def summary_cmd(ctx: Context, arg: str | None) -> None:
    week = resolve_week(arg, ctx.now())
    async with ctx.db.session() as session:
        count = len(await store.load_digests(session, week, week))
    if not count:
        await ctx.reply(esc(_("No digests are stored for week {week}.").format(week=week)))
        return
    for fmt, mime in (("md", "text/markdown"), ("csv", "text/csv"), ("json", "application/json")):
        data = await render_export(ctx.services, "digests", fmt, first=week, last=week, lang=ctx.lang)
        await ctx.send_file(FileOut(f"kehrabot-digests-{week}.{fmt}", data, mime))
    await ctx.reply(esc(ngettext("Digests of week {week}: {count} chat.", "Digests of week {week}: {count} chats.",
                                 count).format(week=week, count=format_number(count))))
