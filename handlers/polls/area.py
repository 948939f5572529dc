"""Area polls: one poll for every chat of an area (``/kysely alue …``), posted in each chat —
natively where the platform has polls, with buttons elsewhere — with one tally (a linked person
counts once, storage/links.py), one close and its result posted in every chat.

One ``poll`` row (``area`` set; ``chat_key`` the chat it was started in, whose number it has)
and a ``poll_copy`` per chat. The live counts in each copy's message are edited at most once per
``handlers.areas.EDIT_EVERY`` of that platform per chat; votes inside the window are coalesced into one
trailing edit (a refresh job at the window's end)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta

from core.events import PollOutcome, PollSpec, Reply
from core.i18n import _, format_number, ngettext
from core.markup import b, esc
from core.scope import send_scope
from handlers.areas import COPIES_RETRY, edit_every, group_chats, require_area
from handlers.base import Context, Services
from handlers.polls.keys import CLOSE, COPIES, COPY_IN, REFRESH, RESULT_IN, TIDY
from handlers.polls.parse import NewPoll, close_time
from handlers.polls.render import render_open, render_result, title, vote_buttons, winners
from storage import polls as store
from storage.core import Job, cancel_job, effect_of, languages_for, record_effect, schedule_job

log = logging.getLogger(__name__)

TIDY_AFTER = timedelta(minutes=2)


def _native_id(chat_key: str) -> str:
    return chat_key.split(":", 1)[1]


async def create_area(ctx: Context, new: NewPoll) -> None:
    now = ctx.now()
    close_at = close_time(new.close_text, now, ctx.lang)
    async with ctx.db.session() as session:
        area = await require_area(ctx, session)
        earlier = await effect_of(session, ctx.event.event_key, "polls.create")
        poll = await store.by_id(session, int(earlier)) if earlier is not None else None
        chats = await group_chats(ctx.services, session, area, ctx.chat_key)
    if poll is None:
        async with ctx.db.transaction() as session:
            poll = await store.create_poll(
                session, chat_key=ctx.chat_key, question=new.question, options=json.dumps(list(new.options),
                                                                                           ensure_ascii=False),
                multiple=new.multiple, max_choices=new.max_choices, anonymous=new.anonymous,
                hide_results=new.hide_results, lang=ctx.lang, creator_key=ctx.sender_key,
                creator_name=ctx.event.sender_name[:255], created_at=now, close_at=close_at, area=area)
            await schedule_job(session, CLOSE.kind, close_at, chat_key=ctx.chat_key, payload={"poll": poll.id},
                               dedup_key=CLOSE.key(poll=poll.id))
            record_effect(session, ctx.event.event_key, "polls.create", poll.id, now)
    ctx.services.wake(poll.close_at)
    spec = PollSpec(question=new.question, options=new.options, multiple=new.multiple,
                    max_choices=new.max_choices, anonymous=new.anonymous, hide_results=new.hide_results)
    posted, missing = 0, []
    for chat_key in chats:
        try:
            origin = chat_key == ctx.chat_key
            await _post_copy(ctx.services, poll, chat_key, spec, len(chats),
                             transport=ctx.transport if origin else None, lang=ctx.lang if origin else None)
            posted += 1
        except Exception:
            if chat_key == ctx.chat_key:  # nobody saw it where it was started: no poll at all
                async with ctx.db.transaction() as session:
                    await store.cancel(session, poll.id, ctx.now(), ctx.sender_key)
                    await cancel_job(session, CLOSE.key(poll=poll.id))
                raise
            log.warning("area poll %s: posting in %s failed; tried again later", poll.id, chat_key, exc_info=True)
            missing.append(chat_key)
    if missing:  # the chat's platform is down: a job of that chat posts it there when it is back
        at = ctx.now() + COPIES_RETRY
        async with ctx.db.transaction() as session:
            for chat_key in missing:
                await schedule_job(session, COPIES.kind, at, chat_key=chat_key,
                                   payload={"poll": poll.id, "chats": [chat_key]},
                                   dedup_key=COPY_IN.key(poll=poll.id, chat=chat_key))
        ctx.services.wake(at)
    await ctx.reply(key=f"polls:{poll.id}:area-posted", html=esc(ngettext(
        "Area poll #{number} is in {count} chat of the area {area}.",
                                 "Area poll #{number} is in {count} chats of the area {area}.", posted).format(
        number=poll.number, count=format_number(posted), area=area)))


def _spec(poll: store.Poll) -> PollSpec:
    return PollSpec(question=poll.question, options=tuple(poll.option_list()), multiple=poll.multiple,
                    max_choices=poll.max_choices, anonymous=poll.anonymous, hide_results=poll.hide_results)


async def _post_copy(services: Services, poll: store.Poll, chat_key: str, spec: PollSpec, chats: int, *,
                     transport=None, lang: str | None = None) -> None:
    """Post the poll in one chat (in the chat's language, or ``lang``) and keep the copy."""
    async with services.db.session() as session:
        done = await store.copy_in(session, poll.id, chat_key)
        _person, chat_lang = await languages_for(session, "", chat_key)
    if done is not None and done.message_id:
        return  # posted before a restart
    transport = transport or services.transport_for(chat_key)
    chat_id = _native_id(chat_key)
    lang = lang or chat_lang or poll.lang
    with services.locale(lang):
        # anonymous polls use buttons (a platform's anonymous native poll tells the bot no votes)
        native = transport.capabilities.native_polls and not poll.anonymous
        # keyed by poll and chat, not by the send scope's count: a run again (the command after a
        # restart, the copies job) that skips chats done keeps each chat's keys, and a send of
        # unknown fate is not repeated blindly (bot/outbox.py)
        key = f"polls:{poll.id}:copy@{chat_key}"
        ref = await transport.send_poll(chat_id, replace(spec, key=key + ":poll")) if native else None
        html = render_open(poll, [0] * len(spec.options), 0, chats=chats)
        if ref is not None:
            html += "\n" + esc(_("Vote in the poll above."))
        message_id = await transport.send(chat_id, Reply(html=html, buttons=() if ref else vote_buttons(poll),
                                                         key=key))
    async with services.db.transaction() as session:
        await store.add_copy(session, poll.id, chat_key, message_id, ref)


async def copies_job(services: Services, job: Job) -> None:
    """Post an open area poll in the chats it could not be posted in when it started; raises while
    one is still out of reach (the job is retried with back-off)."""
    data = job.data()
    async with services.db.session() as session:
        poll = await store.by_id(session, int(data["poll"]))
        count = len(await store.copies(session, poll.id)) if poll else 0
    if poll is None or poll.status != store.OPEN:
        return
    failed: Exception | None = None
    for chat_key in data.get("chats", []):
        try:
            await _post_copy(services, poll, chat_key, _spec(poll), count + len(data["chats"]))
        except Exception as exc:
            log.warning("area poll %s: posting in %s failed again", poll.id, chat_key, exc_info=True)
            failed = exc
    if failed is not None:
        raise failed
    await refresh_copies(services, poll.id)  # the counts so far


async def _tally(services: Services, poll_id: int) -> tuple[store.Poll | None, store.AreaTally | None,
                                                              list[store.PollCopy]]:
    async with services.db.session() as session:
        poll = await store.by_id(session, poll_id)
        if poll is None:
            return None, None, []
        return poll, await store.area_tally(session, poll), await store.copies(session, poll_id)


async def refresh_copies(services: Services, poll_id: int) -> None:
    """Show the live counts in every copy, each chat at most once per its window; a copy inside
    its window gets one trailing edit at the window's end (votes in between ride along)."""
    now = services.clock.now()
    due: list[store.PollCopy] = []
    trailing: set[datetime] = set()
    async with services.db.transaction() as session:
        poll = await store.by_id(session, poll_id)
        if poll is None or poll.status != store.OPEN:
            return
        copies = await store.copies(session, poll_id)
        for copy in copies:
            if not copy.message_id:
                continue
            every = edit_every(copy.chat_key, [c.chat_key for c in copies])
            if await store.claim_copy_edit(session, poll_id, copy.chat_key, now, every):
                due.append(copy)
            else:
                trailing.add(copy.edited_at + every)
        for at in trailing:
            await schedule_job(session, REFRESH.kind, at, chat_key=poll.chat_key, payload={"poll": poll_id},
                               dedup_key=REFRESH.key(poll=poll_id, at=int(at.timestamp())))
        tally = await store.area_tally(session, poll) if due else None
        langs = {c.chat_key: (await languages_for(session, "", c.chat_key))[1] for c in due}
        count = len(await store.copies(session, poll_id))
    for at in trailing:
        services.wake(at)
    for copy in due:
        with services.locale(langs[copy.chat_key] or poll.lang):
            html = render_open(poll, tally.counts, tally.voters, minimum=services.limits.min_respondents,
                               merged=tally.merged, chats=count)
            if copy.native_ref:
                html += "\n" + esc(_("Vote in the poll above."))
            reply = Reply(html=html, buttons=() if copy.native_ref else vote_buttons(poll))
        try:
            await services.transport_for(copy.chat_key).edit(_native_id(copy.chat_key), copy.message_id, reply)
        except Exception:  # the vote is stored; a stale message is not worth an error
            log.warning("could not update area poll %s in %s", poll_id, copy.chat_key, exc_info=True)


async def finish_area(services: Services, poll: store.Poll, *, only: str | None = None) -> None:
    """Post the (stored) result in every copy's chat (``only``: that one) once. A chat that could
    not be reached gets a result job of its own, which waits while its platform is down; that job
    raises (and is retried) while the chat is still out of reach."""
    async with services.db.session() as session:
        tally = await store.area_tally(session, poll)
        copies = await store.copies(session, poll.id)
        langs = {c.chat_key: (await languages_for(session, "", c.chat_key))[1] for c in copies}
    counts = poll.count_list() or tally.counts
    failed: Exception | None = None
    missing: list[str] = []
    for copy in copies:
        if copy.result_posted_at is not None or only is not None and copy.chat_key != only:
            continue
        transport = services.transport_for(copy.chat_key)
        chat_id = _native_id(copy.chat_key)
        try:
            with send_scope(f"polls:{poll.id}:result:{copy.chat_key}", replay=True):
                if copy.native_ref:
                    outcome = PollOutcome(tuple(poll.option_list()), tuple(counts), tuple(winners(counts)))
                    try:
                        await transport.close_poll(chat_id, copy.native_ref, outcome)
                    except Exception:
                        log.warning("closing native poll %s failed", copy.native_ref, exc_info=True)
                with services.locale(langs[copy.chat_key] or poll.lang):
                    html = render_result(poll, counts, poll.voters, None, tally.names, merged=tally.merged)
                    await transport.send(chat_id, Reply(html=html, reply_to_id=copy.message_id))
        except Exception as exc:
            log.warning("area poll %s: posting the result in %s failed", poll.id, copy.chat_key, exc_info=True)
            failed = exc
            missing.append(copy.chat_key)
            continue
        async with services.db.transaction() as session:
            await store.mark_copy_posted(session, poll.id, copy.chat_key, services.clock.now())
    if only is not None and failed is not None:
        raise failed
    now = services.clock.now()
    if missing:
        at = now + COPIES_RETRY
        async with services.db.transaction() as session:
            for chat_key in missing:
                await schedule_job(session, RESULT_IN.kind, at, chat_key=chat_key,
                                   payload={"poll": poll.id, "chat": chat_key},
                                   dedup_key=RESULT_IN.key(poll=poll.id, chat=chat_key))
        services.wake(at)
        return
    async with services.db.transaction() as session:
        if any(c.result_posted_at is None for c in await store.copies(session, poll.id)):
            return  # a chat's result job is still to post it there
        await store.mark_result_posted(session, poll.id, now)
        await schedule_job(session, TIDY.kind, now + TIDY_AFTER, chat_key=poll.chat_key,
                           payload={"poll": poll.id}, dedup_key=TIDY.key(poll=poll.id))
    services.wake(now + TIDY_AFTER)


async def tidy_copies(services: Services, poll: store.Poll) -> None:
    """The final counts in every copy's message, without buttons."""
    poll_, tally, copies = await _tally(services, poll.id)
    async with services.db.session() as session:
        langs = {c.chat_key: (await languages_for(session, "", c.chat_key))[1] for c in copies}
    for copy in copies:
        if not copy.message_id:
            continue
        with services.locale(langs[copy.chat_key] or poll.lang):
            html = render_open(poll, poll.count_list() or [], poll.voters, closed=True, merged=tally.merged,
                               chats=len(copies))
        try:
            await services.transport_for(copy.chat_key).edit(_native_id(copy.chat_key), copy.message_id,
                                                             Reply(html=html))
        except Exception:
            log.warning("could not tidy area poll %s in %s", poll.id, copy.chat_key, exc_info=True)


async def cancel_copies(services: Services, poll: store.Poll) -> None:
    async with services.db.session() as session:
        copies = await store.copies(session, poll.id)
        langs = {c.chat_key: (await languages_for(session, "", c.chat_key))[1] for c in copies}
    for copy in copies:
        transport = services.transport_for(copy.chat_key)
        try:
            if copy.native_ref:
                await transport.close_poll(_native_id(copy.chat_key), copy.native_ref,
                                           PollOutcome(tuple(poll.option_list()), (0,) * len(poll.option_list()), ()))
            if copy.message_id:
                with services.locale(langs[copy.chat_key] or poll.lang):
                    html = "📊 " + b(title(poll)) + " " + b(poll.question) + "\n" + esc(_("Cancelled."))
                await transport.edit(_native_id(copy.chat_key), copy.message_id, Reply(html=html))
        except Exception:
            log.warning("could not cancel area poll %s in %s", poll.id, copy.chat_key, exc_info=True)


async def result_job(services: Services, job: Job) -> None:
    """The result of a closed area poll in one chat it could not be posted in at the close."""
    data = job.data()
    async with services.db.session() as session:
        poll = await store.by_id(session, int(data["poll"]))
    if poll is not None and poll.area and poll.counts is not None and poll.result_posted_at is None:
        await finish_area(services, poll, only=data["chat"])
