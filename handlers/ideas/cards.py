"""An idea's card, the bot's message about it in the chat, kept showing the idea as it is."""

from __future__ import annotations

import logging

from handlers.base import Context
from handlers.ideas.render import card_text, support_buttons
from storage import ideas as store

log = logging.getLogger(__name__)


#: an idea in these states takes no more support: its card has no 👍 button
CLOSED = ("archived", "done", "withdrawn")


async def refresh_card(ctx: Context, idea: store.Idea, message_id: str | None = None) -> None:
    """Show the idea as it is now on its card (or on ``message_id``): text, status, supporters,
    and the 👍 button while it can be supported. The card is a message in the chat, so it stays
    in the language it was written in (older cards: the chat's), whoever acted."""
    message_id = message_id or idea.bot_message_id
    if not message_id:
        return
    if message_id == idea.bot_message_id:
        lang = idea.card_language or await ctx.services.chat_language(ctx.chat_key)
    else:
        lang = ctx.lang  # another message about it (/idea N) is the asker's
    with ctx.services.locale(lang):
        html, buttons = card_text(idea), (support_buttons(idea) if idea.status not in CLOSED else ())
    try:
        await ctx.edit(message_id, html, buttons)
    except Exception:  # the message may be gone; the support is stored anyway
        log.info("could not refresh idea message %s in %s", message_id, ctx.chat_key, exc_info=True)
