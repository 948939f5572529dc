"""Linking: ``/link`` in a private chat gives a code valid 10 minutes; ``/link <code>`` in a
private chat on the other platform joins the two identities; ``/unlink`` undoes it."""

from __future__ import annotations

from core.i18n import _, format_datetime
from core.markup import b, esc
from handlers.base import Context, UserError
from storage import links as store

PLATFORM_NAMES = {"telegram": "Telegram", "matrix": "Matrix", "console": "console"}


def identity(key: str) -> str:
    platform, _sep, native = key.partition(":")
    return f"{PLATFORM_NAMES.get(platform, platform)} {native}"


async def link_cmd(ctx: Context, args: str) -> None:
    code = store.normalise_code(args)
    now = ctx.now()
    if not code:
        async with ctx.db.transaction() as session:
            code_row = None
            if ctx.event.replay:  # handled again after a stop: the code the person was given
                code_row = await store.current_code(session, ctx.sender_key, now)
            code, expires = (code_row.code, code_row.expires_at) if code_row else await store.new_code(
                session, ctx.sender_key, now)
            linked = await store.linked_keys(session, ctx.sender_key)
        lines = [esc(_("Your code: {code}")).format(code=b(code))]
        lines.append(esc(_("Within 10 minutes (until {when}), send {command} {code} to me in a private chat on "
                           "your other platform (Telegram or Matrix). Then you count once in area polls.").format(
            when=format_datetime(expires), command=ctx.cmd("link"), code=code)))
        if linked:
            lines.append(esc(_("Linked already with: {identities}.").format(
                identities=", ".join(identity(k) for k in linked))))
        await ctx.reply("\n".join(lines))
        return
    async with ctx.db.transaction() as session:
        result, other = await store.redeem(session, code, ctx.sender_key, now)
        if result is store.Redeemed.UNKNOWN and ctx.event.replay:
            linked = await store.linked_keys(session, ctx.sender_key)
            if linked:  # linked the first time this event was handled: answer as then
                result, other = store.Redeemed.LINKED, linked[0]
    if result is store.Redeemed.UNKNOWN:
        raise UserError(_("That code is unknown or has expired. Get a new one with {command} in a private chat "
                          "on your other platform.").format(command=ctx.cmd("link")))
    if result is store.Redeemed.SAME_PLATFORM:
        raise UserError(_("That code was made on this platform. Send it from your other platform."))
    if result is store.Redeemed.TAKEN:
        raise UserError(_("One of these accounts is linked with another account on this platform already. "
                          "Undo that link first with {command}.").format(command=ctx.cmd("unlink")))
    await ctx.reply(esc(_("Linked: you are also {identity}. In area polls and the area's figures you now count "
                          "once, by your latest vote. Undo it with {command}.").format(
        identity=identity(other or ""), command=ctx.cmd("unlink"))))


async def unlink_cmd(ctx: Context, args: str) -> None:
    async with ctx.db.transaction() as session:
        others = await store.unlink(session, ctx.sender_key)
    if not others:
        await ctx.reply(esc(_("Your account is not linked with another one.")))
        return
    await ctx.reply(esc(_("Link undone: you and {identities} count separately again.").format(
        identities=", ".join(identity(k) for k in others))))
