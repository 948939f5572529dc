"""A thread per idea: the chat setting (``/ideat aiheet päälle|pois``), the idea's card opening
its thread (a Telegram forum topic; on Matrix the card is the thread's root), the discussion
there counted as activity on the idea, and the word to admins when reactions cannot reach the bot."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from core.events import Button, Reply, Role
from core.i18n import _, format_number, ngettext
from core.markup import b, esc
from core.transport import TransportError
from handlers.base import Context, UserError
from handlers.ideas.render import short
from storage import audit
from storage import idea_threads as threads_store
from storage import ideas as store
from storage.core import Chat, set_chat_setting

log = logging.getLogger(__name__)

#: chat setting: "on" when each new idea opens a thread of its own
SETTING = "ideas.threads"
#: chat setting: when the bot last asked the platform whether reactions reach it here
REACTIONS_CHECKED = "ideas.reactions_checked"
#: how often that is asked again (an admin may have changed the bot's rights meanwhile)
RECHECK = timedelta(days=7)

THREAD_NAMES = {"fi": ("aiheet", "ketjut"), "sv": ("trådar", "tradar", "ämnen", "amnen"), "en": ("threads", "topics")}
ON_WORDS = ("päälle", "paalle", "på", "pa", "on")
OFF_WORDS = ("pois", "av", "off")


def parse_switch(rest: str) -> bool | None:
    """``päälle`` / ``pois`` (any language): True / False; nothing: None (show the setting)."""
    word = rest.strip().casefold()
    if not word:
        return None
    if word in ON_WORDS:
        return True
    if word in OFF_WORDS:
        return False
    raise UserError(_("Say on or off, for example: {example}").format(example="päälle / pois · på / av · on / off"),
                    show_usage=True)


async def threads_cmd(ctx: Context, on: bool | None) -> None:
    caps = ctx.transport.capabilities
    if not caps.threads:
        raise UserError(_("This chat platform has no threads, so ideas cannot have threads of their own here."))
    if ctx.event.is_private:
        raise UserError(_("Ideas can have threads of their own only in a group."))
    async with ctx.db.transaction() as session:
        chat = await session.get(Chat, ctx.chat_key)
        before = chat.setting(SETTING, "off") if chat is not None else "off"
        if on is not None and chat is not None:
            after = "on" if on else "off"
            await set_chat_setting(session, chat, SETTING, after)
            await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="ideas.threads", target="chat",
                               before={"threads": before}, after={"threads": after}, at=ctx.now())
    if on is not None:
        ctx.services.forget_chat_settings()  # the next idea here sees it (_threads_on)
    now_on = before == "on" if on is None else on
    if not now_on:
        text = _("New ideas get no thread of their own here; they are discussed in the chat.")
    elif caps.topics:
        text = _("Each new idea opens its own topic here. I need a group with topics and the admin right "
                 "to manage topics.")
    else:
        text = _("Each new idea's card starts a thread here; discuss the idea in its thread.")
    await ctx.reply(esc(text))
    await warn_if_reactions_blocked(ctx)


async def _threads_on(ctx: Context) -> bool:
    if ctx.event.is_private or not ctx.transport.capabilities.threads:
        return False
    return await ctx.cached_setting(SETTING, "off") == "on"  # no read per idea


async def post_card(ctx: Context, idea: store.NewIdea, text: str, html: str,
                    buttons: tuple[tuple[Button, ...], ...]) -> str | None:
    """Post the card of a new idea; where the chat gives each idea a thread, the card opens it
    (a forum topic the card is posted in; or, on Matrix, the card is the thread's root).
    Returns the card's message id."""
    topic = None
    on = await _threads_on(ctx)
    topics = ctx.transport.capabilities.topics
    if on and topics:
        async with ctx.db.session() as session:  # handled again after a stop: the topic it opened
            opened = await threads_store.thread_of(session, idea.id)
        if opened is not None:
            topic = opened.thread_id
        else:
            try:
                topic = await ctx.transport.open_topic(ctx.event.chat_id, f"#{idea.number} {short(text, 100)}")
            except TransportError:
                log.info("could not open a topic for idea %s in %s", idea.number, ctx.chat_key, exc_info=True)
                await ctx.reply(esc(_("I could not open a topic for idea #{number}: make me an admin with the "
                                      "right to manage topics.").format(number=idea.number)))
            if topic is not None:  # kept at once: a topic is opened once, even if the card is cut short
                async with ctx.db.transaction() as session:
                    await threads_store.add_thread(session, idea.id, ctx.chat_key, topic, ctx.now())
    if topic is not None:
        message_id = await ctx.transport.send(ctx.event.chat_id, Reply(html=html, buttons=buttons, thread_id=topic))
        await ctx.reply(esc(_("💡 Idea #{number} saved; it has its own topic for the discussion.").format(
            number=idea.number)), quote=True)
        thread = None  # kept already
    else:
        message_id = await ctx.reply(html, buttons, quote=True)
        # Matrix: a card on the main timeline roots the idea's thread (one in a thread cannot)
        thread = message_id if on and not topics and ctx.event.thread_id is None else None
    if thread is not None:
        async with ctx.db.transaction() as session:
            await threads_store.add_thread(session, idea.id, ctx.chat_key, thread, ctx.now())
    await warn_if_reactions_blocked(ctx)
    return message_id


async def on_thread_message(ctx: Context) -> bool:
    """A message in an idea's thread (no command): activity on the idea, not a new idea."""
    if ctx.event.thread_id is None:
        return False
    async with ctx.db.session() as session:
        idea_id = await threads_store.idea_of_thread(session, ctx.chat_key, ctx.event.thread_id)
    if idea_id is None:
        return False
    async with ctx.db.transaction() as session:
        await threads_store.add_activity(session, idea_id, ctx.now(), ctx.event.event_key)
    return True


async def activity_line(ctx: Context, idea: store.Idea) -> str | None:
    """``/idea N``: how much it has been discussed in its thread."""
    async with ctx.db.session() as session:
        thread = await threads_store.thread_of(session, idea.id)
        count = await threads_store.activity_count(session, idea.id)
    if thread is None and not count:
        return None
    return "💬 " + esc(ngettext("{count} message in its thread", "{count} messages in its thread", count).format(
        count=format_number(count)))


async def warn_if_reactions_blocked(ctx: Context) -> None:
    """Tell an admin who acts on ideas here (posts one, sets threads), at most once a week, when
    people's reactions cannot reach the bot (Telegram: the bot is no admin of the group), so that
    a 👍 would not count."""
    if ctx.event.is_private or not ctx.transport.capabilities.reactions_check:
        return
    now = ctx.now()
    async with ctx.db.session() as session:
        chat = await session.get(Chat, ctx.chat_key)
    if chat is None:
        return
    checked = chat.setting(REACTIONS_CHECKED)
    if checked and datetime.fromisoformat(checked) > now:  # stored as the time of the next check
        return
    if await ctx.role() < Role.ADMIN:
        return
    try:
        arrive = await ctx.transport.reactions_arrive(ctx.event.chat_id)
    except TransportError:
        log.info("could not ask whether reactions reach the bot in %s", ctx.chat_key, exc_info=True)
        return
    async with ctx.db.transaction() as session:
        chat = await session.get(Chat, ctx.chat_key)
        if chat is not None:
            await set_chat_setting(session, chat, REACTIONS_CHECKED, (now + RECHECK).isoformat())
    if not arrive:
        await ctx.reply(b(_("For the chat's admins:")) + " " + esc(_(
            "👍 reactions do not reach me in this group, so they do not count as support. Make me an admin of "
            "the group (no other rights are needed for this); until then, support ideas with the 👍 button or "
            "{command} <number>.").format(command=ctx.cmd("support"))))
