"""Support for an idea: by command, by its 👍 button, by a 👍 reaction on its card or on the
message that posted it (once per person: a reaction taken away withdraws the support when the
person has no 👍 left on the other).
Each handler stores first and closes its session before talking to the platform."""

from __future__ import annotations

from core.i18n import _, format_number
from core.markup import esc
from handlers.base import Context, UserError
from handlers.ideas import routing
from handlers.ideas.cards import refresh_card
from handlers.ideas.flow import get_idea
from handlers.ideas.keys import SUPPORT
from handlers.ideas.render import status_label
from storage import idea_threads as threads_store
from storage import ideas as store

SUPPORT_REACTIONS = frozenset({"👍", "+1", ":+1:", "👍️"})


async def _support(ctx: Context, idea: store.Idea, session) -> bool:
    if idea.status in ("archived", "withdrawn", "done"):
        raise UserError(_("Idea #{number} is {status} and cannot be supported any more.").format(
            number=idea.number, status=status_label(idea.status)))
    added = await store.add_support(session, idea, ctx.sender_key, ctx.now())
    if added:
        await routing.supported(ctx, session, idea)  # the support threshold (handlers/ideas/routing.py)
    return added


def _again(ctx: Context) -> bool:
    """The event is handled again (its handling was cut short by a stop): a change found made
    already was most likely made by it, so it is answered as the first time."""
    return ctx.event.replay


async def support_cmd(ctx: Context, number: int) -> None:
    async with ctx.db.transaction() as session:
        idea = await get_idea(ctx, session, number)
        added = await _support(ctx, idea, session) or _again(ctx)
    if added:
        await ctx.reply(esc(_("👍 You support idea #{number}. Supporters: {count}.").format(number=number, count=format_number(idea.support_count))))
        await refresh_card(ctx, idea)
    else:
        await ctx.reply(esc(_("You already support idea #{number}.").format(number=number)))


async def unsupport_cmd(ctx: Context, number: int) -> None:
    async with ctx.db.transaction() as session:
        idea = await get_idea(ctx, session, number)
        removed = await store.remove_support(session, idea, ctx.sender_key) or _again(ctx)
    if removed:
        await ctx.reply(esc(_("You no longer support idea #{number}. Supporters: {count}.").format(number=number, count=format_number(idea.support_count))))
        await refresh_card(ctx, idea)
    else:
        await ctx.reply(esc(_("You were not supporting idea #{number}.").format(number=number)))


async def support_button(ctx: Context, args: list[str]) -> None:
    idea_id = SUPPORT.read(args)["idea"]
    async with ctx.db.transaction() as session:
        idea = await store.by_id(session, idea_id)
        if idea is None or idea.chat_key != ctx.chat_key or idea.status == "withdrawn":
            raise UserError(_("This idea is no longer available."))
        added = await _support(ctx, idea, session) or _again(ctx)
    if added:
        await ctx.acknowledge(_("👍 You support idea #{number}.").format(number=idea.number))
        if ctx.event.target_id:
            await refresh_card(ctx, idea, ctx.event.target_id)
    else:
        await ctx.acknowledge(_("You already support idea #{number}.").format(number=idea.number))


async def on_reaction(ctx: Context) -> None:
    key = (ctx.event.reaction or "").replace("\ufe0f", "")
    if not any(key.startswith(r) for r in SUPPORT_REACTIONS) or not ctx.event.target_id:
        return
    async with ctx.db.transaction() as session:
        idea = await store.by_message(session, ctx.chat_key, ctx.event.target_id)
        if idea is None or idea.status in ("archived", "withdrawn", "done"):
            return
        if ctx.event.reaction_removed:  # withdrawn, unless their 👍 on the idea's other message stays
            still = await threads_store.drop_reaction(session, idea.id, ctx.sender_key, ctx.event.target_id)
            changed = not still and await store.remove_support(session, idea, ctx.sender_key)
        else:
            await threads_store.add_reaction(session, idea.id, ctx.sender_key, ctx.event.target_id, ctx.now())
            changed = await _support(ctx, idea, session)
    if changed or _again(ctx):  # handled again: the first run may have stopped before the edit
        await refresh_card(ctx, idea)
