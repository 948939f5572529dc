"""What the features that reach a whole area (area polls, area time polls) share: the chat's area,
and the area's group chats this process can post to."""

from __future__ import annotations

from core.i18n import _
from handlers.base import Context, Services, UserError
from storage import digest as area_store
from storage.core import Chat


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
