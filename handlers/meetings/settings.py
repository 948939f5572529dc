"""/kokousasetukset: the chat's reminder times and quiet hours, shown or changed (each change
reschedules the chat's meetings)."""

from __future__ import annotations

import re
from datetime import timedelta

from core.i18n import _
from handlers.base import Context, UserError
from handlers.meetings.parse import _OFF, _QUIET
from handlers.meetings.reminders import quiet_hours, reminder_offsets, schedule_next
from handlers.meetings.render import settings_html
from handlers.when import parse_duration
from storage import meetings as store
from storage.core import Chat, set_chat_setting


async def settings_cmd(ctx: Context, args: str) -> None:
    words = args.split(maxsplit=1)
    what = words[0].casefold() if words else ""
    value = words[1].strip() if len(words) > 1 else ""
    async with ctx.db.transaction() as session:
        chat = await session.get(Chat, ctx.chat_key)
        if what in ("reminders", "muistutukset", "muistutus", "påminnelser"):
            if value.casefold() in _OFF:
                offsets: list[int] = []
            else:
                offsets = []
                for token in re.split(r"\s*[,;]\s*|\s+(?=\d)", value):
                    d = parse_duration(token) if token else None
                    if d is None or d > timedelta(days=14) or d < timedelta(minutes=5):
                        raise UserError(_("I did not understand “{text}”. Give times before the meeting "
                                          "between 5 minutes and 14 days, for example: {example}").format(
                            text=token, example="1 d, 1 h"), show_usage=True)
                    offsets.append(int(d.total_seconds() // 60))
                if not offsets or len(offsets) > 5:
                    raise UserError(_("Give one to five reminder times, for example: {example}").format(
                        example="1 d, 1 h"), show_usage=True)
            await set_chat_setting(session, chat, "meetings.reminders", sorted(set(offsets), reverse=True))
        elif what in ("quiet", "hiljaisuus", "hiljainen", "tyst", "tysta"):
            if value.casefold() in _OFF:
                quiet: list[int] | None = None
            else:
                m = _QUIET.match(value)
                if not m or int(m[1]) > 23 or int(m[2]) > 23 or m[1] == m[2]:
                    raise UserError(_("Give the quiet hours as start-end, for example {example}, or “off”.").format(
                        example="21-8"), show_usage=True)
                quiet = [int(m[1]), int(m[2])]
            await set_chat_setting(session, chat, "meetings.quiet", quiet)
        elif what:
            raise UserError(_("Unknown setting “{word}”. Choose reminders or quiet.").format(word=what),
                            show_usage=True)
        if what:
            for meeting in await store.active_meetings(session, [ctx.chat_key]):
                await schedule_next(session, meeting, ctx.now())
        offsets_now = reminder_offsets(chat)
        quiet_now = quiet_hours(chat)
    await ctx.reply(settings_html(offsets_now, quiet_now))
