"""What the features that reach a whole area (area polls, area time polls) share: the chat's area,
and the area's group chats this process can post to."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from core.i18n import _
from handlers.base import Context, Services, UserError
from storage import digest as area_store
from storage.core import Chat

#: the least time between two edits of one chat's copy of an area poll. Telegram allows a group
#: about 20 messages a minute (edits count); Synapse's default rc_message is 0.2 a second with a
#: burst of 10 for the bot's whole account, so a Matrix copy is edited half as often, and with
#: several Matrix copies each one that much less often (``ACCOUNT_WIDE``): the edits of a poll
#: never take more than half the account's rate.
EDIT_EVERY = {"telegram": timedelta(seconds=5), "matrix": timedelta(seconds=10)}
DEFAULT_EDIT_EVERY = timedelta(seconds=5)
ACCOUNT_WIDE = frozenset({"matrix"})
#: a chat an area poll could not be posted or announced in (its platform down) is tried again this
#: much later (then with the scheduler's back-off, while the platform is connected)
COPIES_RETRY = timedelta(seconds=30)


def edit_every(chat_key: str, chat_keys: list[str] | None = None) -> timedelta:
    """How often the copy in ``chat_key`` may be edited, of a poll whose copies are in ``chat_keys``."""
    platform = chat_key.split(":", 1)[0]
    every = EDIT_EVERY.get(platform, DEFAULT_EDIT_EVERY)
    if platform in ACCOUNT_WIDE and chat_keys:
        every *= max(1, Counter(k.split(":", 1)[0] for k in chat_keys)[platform])
    return every


async def require_area(ctx: Context, session) -> str:
    """The area of the (group) chat the command came from; a UserError saying how to set one."""
    chat = await session.get(Chat, ctx.chat_key)
    area = chat.area if chat is not None else None
    if not area or ctx.event.is_private:
        raise UserError(_("This chat has no area yet. An admin sets it with {command} <name>.").format(
            command=ctx.cmd("area")))
    return area


async def group_chats(services: Services, session, area: str, first: str) -> list[str]:
    """The area's group chats this process can post to, ``first`` (the chat a command came from)
    first; a person's own chat with the bot is never one (handlers/digest)."""
    keys = (await area_store.chats_by_area(session)).get(area, [])
    out = []
    for key in keys:
        chat = await session.get(Chat, key)
        if chat is None or key.split(":", 1)[0] not in services.transports or chat.setting("chat.private", False):
            continue
        out.append(key)
    if first not in out:
        out.insert(0, first)
    out.sort(key=lambda k: k != first)
    return out
