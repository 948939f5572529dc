"""A round's life, the admin's side: the checklists there are, start a round (with its reminder
and close jobs), close it and post its profile, answer in the group or in private, share the area's
figures."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.events import Button, Incoming
from core.i18n import _, format_datetime, format_number, ngettext
from core.markup import b, esc
from core.scope import send_scope
from handlers.base import Context, Services, UserError
from handlers.checklist.flow import send
from handlers.checklist.format import DEFAULT_CHECKLIST, directories, from_json, load_all
from handlers.checklist.keys import CLOSE, GO, REMIND
from handlers.checklist.parse import GROUP_WORDS, OFF_WORDS, ON_WORDS, PRIVATE_WORDS, Args, parse_start
from handlers.checklist.render import area_of, profile_html, tr
from handlers.checklist.views import chat_here, round_profiles
from storage import audit
from storage import checklist as store
from storage.core import Chat, cancel_job, cancel_jobs, schedule_job, set_chat_setting

REMIND_AFTER = timedelta(days=1)


async def list_cmd(ctx: Context, args: Args) -> None:
    found = await asyncio.to_thread(load_all, directories(ctx.services.data_dir))
    lines = [b(_("Checklists:"))]
    for cid, cl in sorted(found.items()):
        lines.append(esc(ngettext("{id}: {title} ({count} question)", "{id}: {title} ({count} questions)",
                                  len(cl.questions)).format(id=cid, title=tr(cl.title),
                                                            count=format_number(len(cl.questions)))))
    await ctx.reply("\n".join(lines))


async def start_round(ctx: Context, args: Args) -> None:
    if ctx.event.is_private:
        raise UserError(_("Start a self-assessment round in the group chat of your area."))
    name, closes = parse_start(args.words, ctx.now())
    found = await asyncio.to_thread(load_all, directories(ctx.services.data_dir))
    cl = found.get(name or DEFAULT_CHECKLIST)
    if cl is None:
        raise UserError(_("There is no checklist called {name}. Available: {names}.").format(
            name=name, names=", ".join(sorted(found)) or "–"))
    async with ctx.db.transaction() as session:
        rd = await store.open_round(session, ctx.chat_key)
        if rd is not None and not (ctx.event.replay and rd.started_by == ctx.sender_key):
            raise UserError(_("A self-assessment round is already open here. Close it first with {command}.")
                            .format(command=ctx.cmd("checklist") + " " + _("close")))
        if rd is not None:
            # this very start handled again (cut short by a stop): its round, answered as the first time
            cl, closes, remind_at = from_json(rd.definition), rd.closes_at, None
        else:
            chat = await chat_here(ctx, session)
            now = ctx.now()
            rd = store.ChecklistRound(
                chat_key=ctx.chat_key, area=area_of(chat, ctx.chat_key), checklist_id=cl.id,
                checklist_version=cl.version, definition=cl.to_json(), started_by=ctx.sender_key, started_at=now,
                closes_at=closes, in_group=bool(chat and chat.setting("checklist.in_group", False)))
            session.add(rd)
            await session.flush()
            await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="checklist.start", target=f"round:{rd.id}",
                               after={"checklist": cl.id, "closes_at": closes}, at=now)
            if closes is not None:
                await schedule_job(session, CLOSE.kind, closes, chat_key=ctx.chat_key,
                                   payload={"round": rd.id}, dedup_key=CLOSE.key(round=rd.id))
            remind_at = now + REMIND_AFTER
            await schedule_job(session, REMIND.kind, remind_at, chat_key=ctx.chat_key,
                               payload={"round": rd.id},
                               dedup_key=REMIND.key(round=rd.id, day=remind_at.date().isoformat()))
    if closes is not None:
        ctx.services.wake(closes)
    if remind_at is not None:
        ctx.services.wake(remind_at)
    count = len(cl.visible({}))
    lines = [b(_("Self-assessment started: {title}").format(title=tr(cl.title))),
             esc(_("Area: {area}").format(area=rd.area)),
             esc(ngettext("{count} question, one at a time. Stop whenever you like and continue later.",
                          "{count} questions, one at a time. Stop whenever you like and continue later.", count)
                 .format(count=format_number(count)))]
    if closes is not None:
        lines.append(esc(_("Closes {when}.").format(when=format_datetime(closes))))
    lines.append(esc(_("Press the button to answer in the group.") if rd.in_group
                     else _("Press the button and I will ask you the questions in a private chat.")))
    await ctx.reply("\n".join(lines), ((Button(_("✍ Answer"), GO.data(round=rd.id)),),))


async def close_cmd(ctx: Context, args: Args) -> None:
    async with ctx.db.session() as session:
        rd = await store.open_round(session, ctx.chat_key)
        if rd is None and ctx.event.replay:
            # this very close handled again (cut short by a stop): the round it closed, answered
            # as the first time (the closing message is keyed by the round: it goes out once)
            rd = next((r for r in reversed(await store.rounds_of_chat(session, ctx.chat_key))
                       if r.closed_at is not None), None)
    if rd is None:
        raise UserError(_("No self-assessment round is open here."))
    await close_round(ctx.services, rd.id, lang=ctx.lang, again=ctx.event.replay, actor=ctx.event)


async def close_round(services: Services, round_id: int, *, lang: str | None = None, again: bool = False,
                      by_job: bool = False, actor: Incoming | None = None) -> bool:
    """Close the round and post its closing profile; False if it was closed already. ``again``
    (the close handled or run again after a stop): a round found closed has its closing message
    posted as the first time, which the delivery log sends once, whoever closed it. ``by_job``:
    the close job itself, which is not cancelled under its own feet (its retry posts the message
    a failed or cut-short run did not). ``actor``: the event of the person who closed it, recorded in
    the audit log with the close."""
    async with services.db.transaction() as session:
        closed = await store.close_round(session, round_id, services.clock.now())
        if not closed and not again:
            return False
        rd = await store.get_round(session, round_id)
        if rd is None or rd.closed_at is None:
            return False
        if closed and actor is not None:
            await audit.record(session, chat_key=rd.chat_key, actor=actor, action="checklist.close", target=f"round:{rd.id}",
                               before={"open": True}, after={"open": False}, at=services.clock.now())
        if closed:
            await cancel_jobs(session, REMIND.prefix(round=round_id))
            if not by_job:
                await cancel_job(session, CLOSE.key(round=round_id))  # not round 12 when closing 1
        area = area_of(await session.get(Chat, rd.chat_key), rd.chat_key)
        profile = (await round_profiles(session, [rd], services.limits.min_respondents))[0]
    with services.locale(lang or await services.chat_language(rd.chat_key)):
        cl = from_json(rd.definition)
        html = (b(_("Self-assessment closed: {title}").format(title=tr(cl.title))) + "\n"
                + profile_html(rd, cl, profile, area))
        with send_scope(f"checklist:{round_id}:closed", replay=True):  # once, whoever closes it
            await send(services, rd.chat_key, html)
    return True


async def mode_cmd(ctx: Context, args: Args) -> None:
    word = args.words[0].casefold() if args.words else ""
    if word not in GROUP_WORDS + PRIVATE_WORDS:
        raise UserError(_("Say where to answer: group or private."), show_usage=True)
    in_group = word in GROUP_WORDS
    async with ctx.db.transaction() as session:
        chat = await chat_here(ctx, session)
        before = bool(chat and chat.setting("checklist.in_group", False))
        await set_chat_setting(session, chat, "checklist.in_group", in_group)
        await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="checklist.mode", target="chat",
                           before={"in_group": before}, after={"in_group": in_group}, at=ctx.now())
        rd = await store.open_round(session, ctx.chat_key)
        if rd is not None:
            rd.in_group = in_group
            session.add(rd)
    await ctx.reply(esc(_("Members now answer the self-assessment here in the group.") if in_group
                        else _("Members now answer the self-assessment in a private chat with me.")))


async def share_cmd(ctx: Context, args: Args) -> None:
    word = args.words[0].casefold() if args.words else ""
    if word not in ON_WORDS + OFF_WORDS:
        raise UserError(_("Say on or off."), show_usage=True)
    share = word in ON_WORDS
    async with ctx.db.transaction() as session:
        area = area_of(await chat_here(ctx, session), ctx.chat_key)
        before = await store.area_shares(session, area)
        await store.set_area_share(session, area, share, ctx.sender_key, ctx.now())
        await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="checklist.share", target=f"area:{area}",
                           before={"share": before}, after={"share": share}, at=ctx.now())
    await ctx.reply(esc(_("The profile of {area} is now shared with other areas that share theirs.") if share
                        else _("The profile of {area} is no longer shared with other areas.")).format(area=esc(area)))
