"""Closing: the result posted once however often it is asked for, the vote buttons tidied
away afterwards, the trailing refresh of a poll message."""

from __future__ import annotations

import logging
from datetime import timedelta

from core.events import Incoming, PollOutcome, Reply
from core.scope import send_scope
from handlers.base import Services
from handlers.polls.area import finish_area, tidy_copies
from handlers.polls.keys import TIDY
from handlers.polls.render import render_open, render_result, winners
from handlers.polls.voting import refresh
from storage import audit
from storage import polls as store
from storage.core import Job, languages_for, schedule_job

log = logging.getLogger(__name__)


TIDY_AFTER = timedelta(minutes=2)


async def _member_count(services: Services, chat_key: str) -> int | None:
    """Members of the chat if the transport can tell (``capabilities.member_count``)."""
    transport = services.transport_for(chat_key)
    if not transport.capabilities.member_count:
        return None
    try:
        count = await transport.member_count(chat_key.split(":", 1)[1])
    except Exception:
        log.warning("member count of %s failed", chat_key, exc_info=True)
        return None
    # the bot itself is a member but not a voter
    return count - 1 if count and count > 1 else None


async def finish(services: Services, poll_id: int, by: str | None = None, actor: Incoming | None = None) -> bool:
    """Close the poll (if open) and post its result once, however often it is asked for (the
    close job, an admin's close, either run again after a crash): the result is kept with the
    close, and its messages are keyed by the poll (bot/outbox.py), so a second post of them is
    not delivered. True unless the result was posted before this call. ``actor``: the event of
    a person who closed it (recorded in the audit log with the close)."""
    now = services.clock.now()
    async with services.db.transaction() as session:
        poll = await store.by_id(session, poll_id)
        if poll is None or poll.status == store.CANCELLED or poll.result_posted_at is not None:
            return False
        if poll.status == store.OPEN:
            await store.close(session, poll_id, now, by)
            if actor is not None:
                await audit.record(session, chat_key=poll.chat_key, actor=actor, action="poll.close",
                                   target=f"poll:{poll.number}", before={"status": "open"}, after={"status": "closed"}, at=now)
            await session.refresh(poll)
        if poll.area:  # one tally over the area's chats, a linked person once
            tally = await store.area_tally(session, poll)
            counts, voters, names = tally.counts, tally.voters, tally.names
        else:
            counts, voters, names = await store.tally(session, poll)
        person_lang, chat_lang = await languages_for(session, "", poll.chat_key)
    if poll.area:
        members = None  # the chats' members overlap: no turnout
    else:
        members = poll.members if poll.counts is not None else await _member_count(services, poll.chat_key)
    if poll.counts is None:  # kept before anything is posted: a retry posts the same figures
        async with services.db.transaction() as session:
            poll = await store.by_id(session, poll_id)
            await store.store_result(session, poll, counts, voters, members)
    if poll.area:
        await finish_area(services, poll)
        return True
    chat_id = poll.chat_key.split(":", 1)[1]
    transport = services.transport_for(poll.chat_key)
    with send_scope(f"polls:{poll_id}:result", replay=True):
        if poll.native_ref:
            outcome = PollOutcome(tuple(poll.option_list()), tuple(counts), tuple(winners(counts)))
            try:
                await transport.close_poll(chat_id, poll.native_ref, outcome)
            except Exception:  # e.g. closed already by an earlier attempt; the result still goes out
                log.warning("closing native poll %s failed", poll.native_ref, exc_info=True)
        with services.locale(chat_lang or poll.lang):
            html = render_result(poll, counts, voters, members, names)
            await transport.send(chat_id, Reply(html=html, reply_to_id=poll.message_id))  # raises: retried
    async with services.db.transaction() as session:
        await store.mark_result_posted(session, poll_id, services.clock.now())
    if poll.message_id and not poll.native_ref:
        # Removing the vote buttons is cosmetic (presses after the close are refused anyway): do it a
        # little later, so that when many polls close at once the results go out first.
        async with services.db.transaction() as session:
            await schedule_job(session, TIDY.kind, now + TIDY_AFTER, chat_key=poll.chat_key,
                               payload={"poll": poll.id}, dedup_key=TIDY.key(poll=poll.id))
        services.wake(now + TIDY_AFTER)
    return True


async def tidy_job(services: Services, job: Job) -> None:
    """Show the closed poll's final counts in its message, without buttons."""
    async with services.db.session() as session:
        poll = await store.by_id(session, int(job.data()["poll"]))
        person_lang, chat_lang = await languages_for(session, "", poll.chat_key) if poll else (None, None)
    if poll is not None and poll.area and poll.counts is not None:
        await tidy_copies(services, poll)
        return
    if poll is None or poll.counts is None or not poll.message_id:
        return
    with services.locale(chat_lang or poll.lang):
        html = render_open(poll, poll.count_list(), poll.voters, closed=True)
    try:
        await services.transport_for(poll.chat_key).edit(poll.chat_key.split(":", 1)[1], poll.message_id,
                                                         Reply(html=html))
    except Exception:  # the message may be gone; nothing to retry
        log.warning("could not remove the vote buttons of poll %s", poll.id, exc_info=True)


async def close_job(services: Services, job: Job) -> None:
    await finish(services, int(job.data()["poll"]))


async def refresh_job(services: Services, job: Job) -> None:
    await refresh(services, int(job.data()["poll"]))
