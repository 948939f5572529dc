"""The handlers: /mydata sends the file and the summary; /forgetme asks, a button or the
confirm word within ``CONFIRM_MINUTES`` erases (storage/privacy.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.events import Button, FileOut, Reply
from core.i18n import LANGUAGES, _, resolve_language
from handlers.base import Context, UserError
from handlers.digest.activity import state_of
from handlers.ideas.cards import CLOSED
from handlers.ideas.render import card_text, support_buttons
from handlers.polls import voting
from handlers.privacy import render
from handlers.privacy.keys import CONFIRM
from storage import privacy as store
from storage.core import ensure_chat, set_chat_setting
from storage.ideas import Idea

log = logging.getLogger("handlers.privacy")

CONFIRM_MINUTES = 10
#: a setting of the person's private chat: until when (epoch seconds) a /forgetme may be confirmed
PENDING_SETTING = "privacy.forget_until"


async def _flush_activity(ctx: Context) -> None:
    """Store the activity marks still in memory, so that they are reported and erased too."""
    state = state_of(ctx.services)
    if state is not None:
        await state.activity.flush(ctx.services)


async def mydata_cmd(ctx: Context, args: str) -> None:
    await _flush_activity(ctx)
    async with ctx.db.session() as session:
        data = await store.collect(session, ctx.sender_key, ctx.event.sender_id, ctx.chat_key)
        # a linked identity on another platform (storage/links.py) is the same person: theirs too
        data["linked_identities"] = {
            key: await store.collect(session, key, key.split(":", 1)[1]) for key in data.get("links", [])}
    data = {"generated_at": ctx.now().isoformat(), **data}
    await ctx.send_file(FileOut("kehrabot-my-data.json", render.data_file(data), "application/json"))
    await ctx.reply(render.summary(data, ctx.chat_key))


def _confirm_text(ctx: Context) -> str:
    cmd = ctx.services.command("forgetme")
    return f"{ctx.cmd('forgetme')} {cmd.subcommand('confirm').shown_name(ctx.lang)}"


async def forget_cmd(ctx: Context, args: str) -> None:
    until = int((ctx.now() + timedelta(minutes=CONFIRM_MINUTES)).timestamp())
    async with ctx.db.transaction() as session:
        chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
        await set_chat_setting(session, chat, PENDING_SETTING, until)
    button = Button(_("Erase my data"), CONFIRM.data(until=until))
    await ctx.reply(render.forget_question(_confirm_text(ctx), CONFIRM_MINUTES), buttons=((button,),))


async def confirm_cmd(ctx: Context, args: str) -> None:
    await _forget(ctx, None)


async def confirm_button(ctx: Context, args: list[str]) -> None:
    until = CONFIRM.read(args)["until"]
    if not ctx.event.is_private:
        raise UserError(_("Send this command to me in a private chat."))
    await _forget(ctx, until)


async def _forget(ctx: Context, button_until: int | None) -> None:
    now = ctx.now()
    await _flush_activity(ctx)
    labels = {}
    forgotten: store.Forgotten | None = None
    for code in LANGUAGES:
        with ctx.services.locale(code):
            labels[code] = _("a former member")
    async with ctx.db.transaction() as session:
        chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, now)
        pending = chat.setting(PENDING_SETTING)
        if not pending or (button_until is not None and button_until != pending):
            pending = None
        expired = pending is not None and datetime.fromtimestamp(int(pending), UTC) < now
        if pending is not None and not expired:
            session.expunge(chat)  # its row is deleted with the rest
            forgotten = await store.forget(
                session, ctx.sender_key, ctx.event.sender_id, names={ctx.event.sender_name},
                private_chat=ctx.chat_key, label=lambda lang: labels[resolve_language(lang)])
            changed = forgotten.changed
        elif pending is None and ctx.event.replay:
            changed = {}  # forgotten the first time this event was handled: answer as then
            session.expunge(chat)
        else:
            if expired:
                await set_chat_setting(session, chat, PENDING_SETTING, None)
            changed = None
    if changed is None:
        raise UserError(_("There is no request to erase your data waiting, or it expired. Send {cmd} to start again.")
                        .format(cmd=ctx.cmd("forgetme")))
    log.info("forgot a person: %s", ", ".join(f"{t} {n}" for t, n in sorted(changed.items())) or "nothing")
    ctx.services.forget_languages()
    ctx.services.known_chats.discard(ctx.chat_key)  # its row went too: made again by the next message
    await ctx.reply(render.forgotten())
    if forgotten is not None:
        await _refresh_counts(ctx, forgotten)


async def _refresh_counts(ctx: Context, forgotten: store.Forgotten) -> None:
    """The messages that show counts her support or vote was in: ideas' cards, open polls."""
    for poll_id in forgotten.polls:
        await voting.refresh(ctx.services, poll_id)
    if not forgotten.ideas:
        return
    async with ctx.db.session() as session:
        found = (await session.execute(select(Idea).where(Idea.id.in_(forgotten.ideas)))).scalars().all()
    for idea in found:
        if not idea.bot_message_id:
            continue
        with ctx.services.locale(idea.card_language or await ctx.services.chat_language(idea.chat_key)):
            html = card_text(idea)
            buttons = support_buttons(idea) if idea.status not in CLOSED else ()
        try:
            await ctx.services.transport_for(idea.chat_key).edit(
                idea.chat_key.split(":", 1)[1], idea.bot_message_id, Reply(html=html, buttons=buttons))
        except Exception:  # the card may be gone; the count is right in the store
            log.info("could not refresh idea card %s in %s", idea.bot_message_id, idea.chat_key, exc_info=True)
