"""/kokousasetukset: the chat's reminder times and quiet hours. With no subcommand the settings
are shown; ``reminders`` and ``quiet`` (declared in ``commands``) change one and reschedule the
chat's meetings."""

from __future__ import annotations

from core.i18n import _
from handlers.base import Context, UserError
from handlers.meetings.reminders import quiet_hours, reminder_offsets, schedule_next
from handlers.meetings.render import settings_html
from storage import audit
from storage import meetings as store
from storage.core import Chat, set_chat_setting


async def settings_cmd(ctx: Context, args: str) -> None:
    """The settings as they are; a first word that names no setting is refused."""
    words = args.split()
    if words:
        raise UserError(_("Unknown setting “{word}”. Choose reminders or quiet.").format(word=words[0].casefold()),
                        show_usage=True)
    async with ctx.db.session() as session:
        chat = await session.get(Chat, ctx.chat_key)
    await ctx.reply(settings_html(reminder_offsets(chat), quiet_hours(chat)))


async def reminders_cmd(ctx: Context, offsets: list[int]) -> None:
    await _change(ctx, "meetings.reminders", offsets)


async def quiet_cmd(ctx: Context, quiet: list[int] | None) -> None:
    await _change(ctx, "meetings.quiet", quiet)


async def _change(ctx: Context, key: str, value: list[int] | None) -> None:
    async with ctx.db.transaction() as session:
        chat = await session.get(Chat, ctx.chat_key)
        before = {"reminders": reminder_offsets(chat), "quiet": quiet_hours(chat)}
        await set_chat_setting(session, chat, key, value)
        await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="meeting.settings", target="chat",
                           before=before, after={"reminders": reminder_offsets(chat), "quiet": quiet_hours(chat)}, at=ctx.now())
        for meeting in await store.active_meetings(session, [ctx.chat_key]):
            await schedule_next(session, meeting, ctx.now())
        offsets, quiet = reminder_offsets(chat), quiet_hours(chat)
    await ctx.reply(settings_html(offsets, quiet))
