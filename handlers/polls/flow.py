"""Polls: create with settings in one message, manage one (close, extend, cancel), the chat's
setting of who may start polls, show and list them."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from core.events import PollOutcome, PollSpec
from core.i18n import _, format_datetime
from core.markup import b, esc
from handlers.base import Context, UserError
from handlers.polls.area import cancel_copies, create_area
from handlers.polls.jobs import finish
from handlers.polls.keys import CLOSE
from handlers.polls.parse import NewPoll, PollNumber, close_time, example, extended_close, extension
from handlers.polls.render import outcome_text, render_open, render_result, settings_line, title, vote_buttons
from handlers.polls.voting import accepting, refresh
from storage import audit
from storage import ideas as idea_store
from storage import polls as store
from storage.core import cancel_job, effect_of, ensure_chat, record_effect, schedule_job, set_chat_setting

log = logging.getLogger(__name__)


RECENT = timedelta(days=14)
SETTING = "polls.create"  # chat setting: "everyone" | "admins" (the permission table reads it)


async def _new_poll(ctx: Context, new: NewPoll, now: datetime, close_at: datetime) -> store.Poll:
    """The poll and its close, in one transaction with the record that this event made it."""
    async with ctx.db.transaction() as session:
        idea_id = None
        if new.idea_number is not None:
            idea = await idea_store.by_number(session, ctx.chat_key, new.idea_number)
            if idea is None or idea.status == "withdrawn":
                raise UserError(_("There is no idea #{number} in this chat.").format(number=new.idea_number))
            idea_id = idea.id
        poll = await store.create_poll(
            session, chat_key=ctx.chat_key, question=new.question, options=_json(new.options),
            multiple=new.multiple, max_choices=new.max_choices, anonymous=new.anonymous,
            hide_results=new.hide_results, lang=ctx.lang, creator_key=ctx.sender_key,
            creator_name=ctx.event.sender_name[:255], idea_id=idea_id, created_at=now, close_at=close_at,
        )
        await schedule_job(session, CLOSE.kind, close_at, chat_key=ctx.chat_key, payload={"poll": poll.id},
                           dedup_key=CLOSE.key(poll=poll.id))
        record_effect(session, ctx.event.event_key, "polls.create", poll.id, now)
    return poll


async def create(ctx: Context, new: NewPoll) -> None:
    """A new poll. Who may start one here (a chat setting) is the permission table's: the router checked."""
    now = ctx.now()
    close_at = close_time(new.close_text, now, ctx.lang)
    async with ctx.db.session() as session:
        earlier = await effect_of(session, ctx.event.event_key, "polls.create")
        poll = await store.by_id(session, int(earlier)) if earlier is not None else None
    if poll is not None:  # this command was handled before a restart: the same poll (its sends are keyed)
        close_at = poll.close_at
    else:
        poll = await _new_poll(ctx, new, now, close_at)
    ctx.services.wake(close_at)
    try:
        spec = PollSpec(question=new.question, options=new.options, multiple=new.multiple,
                        max_choices=new.max_choices, anonymous=new.anonymous, hide_results=new.hide_results)
        # Anonymous polls always use buttons: a platform's anonymous native poll (Telegram) tells the
        # bot no votes at all, and with buttons the one-vote-per-person hash stays ours.
        ref = None if new.anonymous else await ctx.transport.send_poll(ctx.event.chat_id, spec)
        if ref is not None:
            info = "📊 " + b(title(poll)) + " · " + esc(settings_line(poll)) + "\n" + esc(
                _("Closes {when}. Results are posted here then.").format(when=format_datetime(close_at)))
            message_id = await ctx.reply(info)
        else:
            message_id = await ctx.reply(render_open(poll, [0] * len(new.options), 0), vote_buttons(poll))
    except Exception:
        # Nobody saw the poll: do not close it later either.
        async with ctx.db.transaction() as session:
            await store.cancel(session, poll.id, ctx.now(), ctx.sender_key)
            await cancel_job(session, CLOSE.key(poll=poll.id))  # not poll 12 with 1
        raise
    async with ctx.db.transaction() as session:
        row = await store.by_id(session, poll.id)
        row.native_ref, row.message_id = ref, message_id
        session.add(row)


def _json(options: tuple[str, ...]) -> str:
    return json.dumps(list(options), ensure_ascii=False)


async def _managed(ctx: Context, session, number: int, *, closing: bool = False) -> store.Poll:
    """The poll an admin or its creator manages; ``closing`` also takes a closed poll whose
    result never got posted (the platform failed for too long): closing it again posts it.
    Who may is the permission table's (the router asked the role before the transaction)."""
    poll = await store.by_number(session, ctx.chat_key, number)
    if poll is None:
        raise UserError(_("There is no poll #{number} in this chat.").format(number=number))
    await ctx.permit(owner=poll.creator_key == ctx.sender_key)
    if poll.status == store.CANCELLED:
        raise UserError(_("Poll #{number} was cancelled.").format(number=number))
    if poll.status != store.OPEN and not (closing and poll.status == store.CLOSED and poll.result_posted_at is None):
        raise UserError(_("Poll #{number} is already closed.").format(number=number))
    return poll


async def poll_cmd(ctx: Context, parsed: NewPoll | PollNumber) -> None:
    """``/poll <question> | <option> | …`` starts a poll (``/poll 3`` is the show subcommand)."""
    if isinstance(parsed, PollNumber):
        await show(ctx, parsed.number)
    else:
        await create(ctx, parsed)


async def area_cmd(ctx: Context, new: NewPoll) -> None:
    """``/poll area <question> | …``: one poll in every chat of this chat's area (admins)."""
    await create_area(ctx, new)


async def show_cmd(ctx: Context, ref: PollNumber) -> None:
    await show(ctx, ref.number)


async def close_cmd(ctx: Context, ref: PollNumber) -> None:
    async with ctx.db.transaction() as session:
        poll = await _managed(ctx, session, ref.number, closing=True)
        # close now: the job stays as a fallback in case posting fails
        await schedule_job(session, CLOSE.kind, ctx.now(), chat_key=ctx.chat_key, payload={"poll": poll.id},
                           dedup_key=CLOSE.key(poll=poll.id))
    if not await finish(ctx.services, poll.id, by=ctx.sender_key, actor=ctx.event):
        await ctx.reply(esc(_("Poll #{number} is already closed.").format(number=poll.number)))


async def extend_cmd(ctx: Context, ref: PollNumber) -> None:
    async with ctx.db.transaction() as session:
        poll = await _managed(ctx, session, ref.number)
        text = extension(ref.rest)
        if not text:
            raise UserError(_("Say until when, for example: {example}").format(
                example=_("{command} extend {number} 2 days").format(command=ctx.cmd("poll"), number=ref.number)))
        if await effect_of(session, ctx.event.event_key, "polls.extend") is not None:
            when = poll.close_at  # this very extension handled again: made already, not added twice
        else:
            when = extended_close(text, poll, ctx.now(), ctx.lang)
            before = poll.close_at
            await store.extend(session, poll, when)
            record_effect(session, ctx.event.event_key, "polls.extend", poll.id, ctx.now())
            await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="poll.extend",
                               target=f"poll:{poll.number}", before={"close_at": before}, after={"close_at": when}, at=ctx.now())
        await schedule_job(session, CLOSE.kind, when, chat_key=ctx.chat_key, payload={"poll": poll.id},
                           dedup_key=CLOSE.key(poll=poll.id))
    ctx.services.wake(when)
    await ctx.reply(esc(_("Poll #{number} now closes {when}.").format(
        number=poll.number, when=format_datetime(when))))
    if not poll.native_ref:  # the poll message says when it closes
        await refresh(ctx.services, poll.id)


async def cancel_cmd(ctx: Context, ref: PollNumber) -> None:
    async with ctx.db.transaction() as session:
        poll = await _managed(ctx, session, ref.number)
        if await store.cancel(session, poll.id, ctx.now(), ctx.sender_key):
            await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="poll.cancel",
                               target=f"poll:{poll.number}", before={"status": "open"}, after={"status": "cancelled"}, at=ctx.now())
        await cancel_job(session, CLOSE.key(poll=poll.id))  # not poll 12 with 1
    if poll.area:
        await cancel_copies(ctx.services, poll)
    elif poll.native_ref:
        outcome = PollOutcome(tuple(poll.option_list()), (0,) * len(poll.option_list()), ())
        try:
            await ctx.transport.close_poll(ctx.event.chat_id, poll.native_ref, outcome)
        except Exception:
            log.warning("closing cancelled native poll %s failed", poll.native_ref, exc_info=True)
    elif poll.message_id:
        try:
            await ctx.edit(poll.message_id, "📊 " + b(title(poll)) + " " + b(poll.question) + "\n"
                           + esc(_("Cancelled.")))
        except Exception:
            log.warning("could not update cancelled poll %s", poll.id, exc_info=True)
    await ctx.reply(esc(_("Poll #{number} was cancelled; no result will be posted.").format(
        number=poll.number)))


async def settings_cmd(ctx: Context, who: str | None) -> None:
    """Who may start polls here (admins only: the command table says so)."""
    async with ctx.db.transaction() as session:
        chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
        if who is None:
            current = chat.setting(SETTING, "everyone")
            raise UserError(_("Who may start polls here: {current}. Change it with {example}.").format(
                current=_("everyone") if current == "everyone" else _("admins only"),
                example=ctx.cmd("poll") + " " + _("settings everyone|admins")))
        before = chat.setting(SETTING, "everyone")
        await set_chat_setting(session, chat, SETTING, who)
        await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="poll.settings", target="chat",
                           before={"who_may_start": before}, after={"who_may_start": who}, at=ctx.now())
    await ctx.reply(esc(_("From now on everyone may start polls here.") if who == "everyone"
                        else _("From now on only admins may start polls here.")))


# --- listing ------------------------------------------------------------------------------------------


async def show(ctx: Context, number: int | None) -> None:
    async with ctx.db.session() as session:
        poll = await store.by_number(session, ctx.chat_key, number or 0)
        if poll is None:
            raise UserError(_("There is no poll #{number} in this chat.").format(number=number))
        if poll.status == store.CANCELLED:
            raise UserError(_("Poll #{number} was cancelled.").format(number=number))
        closed = poll.status == store.CLOSED and poll.counts is not None
        merged = 0
        if poll.area:  # one tally over the area's chats
            tally = await store.area_tally(session, poll)
            counts, voters, merged = tally.counts, tally.voters, tally.merged
        elif not closed:
            counts, voters, _names = await store.tally(session, poll)
    if closed:
        await ctx.reply(render_result(poll, poll.count_list(), poll.voters, poll.members, merged=merged))
        return
    buttons = vote_buttons(poll) if not poll.native_ref and accepting(poll, ctx.now()) else ()
    await ctx.reply(render_open(poll, counts, voters, minimum=ctx.services.limits.min_respondents, merged=merged),
                    buttons)


async def polls_cmd(ctx: Context, args: str) -> None:
    async with ctx.db.session() as session:
        polls = await store.list_polls(session, ctx.chat_key, ctx.now() - RECENT)
    if not polls:
        await ctx.reply(esc(_("No open or recent polls. Start one with {command} {example}").format(
            command=ctx.cmd("poll"), example=example())))
        return
    open_lines, closed_lines = [], []
    for poll in polls:
        number = f"{poll.number} · {poll.area}" if poll.area else poll.number  # an area poll: its area too
        if poll.status == store.OPEN:
            open_lines.append(esc(_("#{number} {question} — closes {when}").format(
                number=number, question=poll.question, when=format_datetime(poll.close_at))))
        else:
            outcome = outcome_text(poll.option_list(), poll.count_list() or [])
            closed_lines.append(esc(_("#{number} {question} — {outcome}").format(
                number=number, question=poll.question, outcome=outcome)))
    lines = []
    if open_lines:
        lines += [b(_("Open polls")), *open_lines]
    if closed_lines:
        lines += [b(_("Recently closed")), *closed_lines]
    lines.append(esc(_("Details: {command} <number>").format(command=ctx.cmd("poll"))))
    await ctx.reply("\n".join(lines))
