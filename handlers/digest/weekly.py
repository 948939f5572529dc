"""Making the weekly digests: every feature's contribution collected, the record written once
per chat and week, the post claimed and sent; the sweep that finds what is due and missing.

Every chat gets a digest of each ISO week (Monday–Sunday, Helsinki) at its configured moment of the
following week (default Monday 09:00). A sweep (run from the scheduler's tick when planned, at
least hourly, and at every start) produces every digest that is due and missing: the record is inserted first (unique per chat and week, so two instances or a restart
cannot make a second one), then the post is claimed and sent. Weeks missed while the bot was down
are produced late; only the newest one is posted, older ones are stored only.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from time import monotonic

from core.i18n import resolve_language
from handlers.base import Services
from handlers.digest.activity import DigestState, flush_activity, is_private, state_of
from handlers.digest.render import render, section_name
from handlers.digest.schedule import chat_schedule, slot
from storage import digest as store
from storage.core import Chat

log = logging.getLogger("handlers.digest")

#: how far back missing digests are produced
MAX_BACKFILL_WEEKS = 12
#: a post that failed is retried while its record is younger than this
RETRY_POST_FOR = timedelta(days=6)
#: a sweep started by the scheduler works at most this long, then continues a second later
SWEEP_BUDGET_SECONDS = 2.0


def plan_sweep(services: Services, when: datetime) -> None:
    """Sweep at ``when`` at the latest (earlier plans stay)."""
    state = state_of(services)
    if state is None:
        return
    if state.next_sweep is None or when < state.next_sweep:
        state.next_sweep = when
    services.wake(when)


async def on_start(services: Services) -> None:
    services.extensions["digest"] = DigestState()  # next_sweep None: the first wake-up sweeps


async def on_tick(services: Services) -> None:
    state = state_of(services)
    if state is not None and (state.next_sweep is None or services.clock.now() >= state.next_sweep):
        await sweep(services)


async def on_stop(services: Services) -> None:
    await flush_activity(services)



async def collect(services: Services, chat_key: str, start: datetime, end: datetime) -> dict[str, dict]:
    """Every feature's contribution, in feature order; a failing hook raises."""
    sections = {}
    for feature in services.features:
        if feature.digest is None:
            continue
        data = await feature.digest(services, chat_key, start, end)
        if data:
            sections[section_name(feature)] = data
    return sections



async def produce(services: Services, chat: Chat, week: str, *, post: bool) -> store.Digest | None:
    """Write the record of one chat's week (once) and post it. None if it existed already."""
    start, end = store.week_bounds(week)
    sections = await collect(services, chat.key, start, end)
    lang = resolve_language(chat.language)
    with services.locale(lang):
        text = render(services, sections, week, start, end)
    content = {"schema_version": 1, "week": week, "start": start.isoformat(), "end": end.isoformat(),
               "sections": sections}
    now = services.clock.now()
    record = store.Digest(chat_key=chat.key, platform=chat.platform, title=chat.title, area=chat.area, week=week,
                          start=start, end=end, language=lang, content=json.dumps(content, ensure_ascii=False),
                          text=text, created_at=now)
    # Activity alone is stored but not worth a message; a private chat gets none (it is a
    # person's own talk with the bot, not a group with a week to sum up).
    private = is_private(chat)
    worth_posting = any(name != "activity" for name in sections) and not private
    async with services.db.transaction() as session:
        if not await store.insert_digest(session, record):
            return None
        if not worth_posting:
            await store.mark_skipped(session, record.id, now,
                                     "private" if private else "empty" if not sections else "quiet")
        elif not post:
            await store.mark_skipped(session, record.id, now, "late")
    if worth_posting and post:
        await post_digest(services, record)
    return record


async def post_digest(services: Services, record: store.Digest) -> bool:
    if record.platform not in services.transports:
        return False  # another instance (or a later start) with that transport posts it
    async with services.db.transaction() as session:
        if not await store.claim_post(session, record.id, services.clock.now()):
            return False
    try:
        with services.locale(record.language):
            await services.send(record.chat_key, record.text)
    except Exception as exc:
        log.warning("posting the digest of %s %s failed: %r", record.chat_key, record.week, exc)
        async with services.db.transaction() as session:
            await store.release_post(session, record.id, repr(exc))
        return False
    return True


async def sweep(services: Services, budget: float | None = SWEEP_BUDGET_SECONDS) -> int:
    """Produce every due and missing digest; retry failed posts; plan the next sweep.
    After ``budget`` seconds of work it stops and plans to continue a second later, so that
    other scheduled jobs are not held up on a Monday morning. Returns how many records were written."""
    now = services.clock.now()
    made = 0
    current = store.week_of(now)
    previous = store.shift_week(current, -1)
    next_at = now + timedelta(hours=1)
    try:
        await flush_activity(services)
        oldest = store.shift_week(current, -MAX_BACKFILL_WEEKS)
        async with services.db.session() as session:
            chats = await store.all_chats(session)
            have = await store.existing_weeks(session, since_week=oldest)
        # The budget is for the work on chats, and every sweep does one chat at least: reading the
        # chats and their weeks alone can take longer than the budget with thousands of chats
        # (then no sweep would ever make a digest).
        started, worked = monotonic(), False
        for chat in chats:
            on, day, hhmm = chat_schedule(chat)
            if not on:
                continue
            first = max(store.week_of(chat.created_at), oldest)
            due = [w for w in store.weeks_between(first, previous)
                   if (chat.key, w) not in have and slot(w, day, hhmm) <= now]
            if due and budget is not None and worked and monotonic() - started > budget:
                next_at = now  # more to do: continue at the next wake-up
                break
            worked = worked or bool(due)
            for week in due:
                try:
                    if await produce(services, chat, week, post=week == due[-1]):
                        made += 1
                except Exception:
                    log.exception("digest of %s %s failed; retried at the next sweep", chat.key, week)
                    break
            upcoming = slot(previous, day, hhmm)
            if upcoming <= now:
                upcoming = slot(current, day, hhmm)
            next_at = min(next_at, upcoming)
        async with services.db.session() as session:
            retry = await store.unposted(session, now - RETRY_POST_FOR)
        for record in retry:
            if record.platform in services.transports:
                await post_digest(services, record)
        async with services.db.transaction() as session:
            await store.forget_people(session, store.shift_week(current, -2))
    finally:
        state = state_of(services)
        if state is not None:
            state.next_sweep = None
        plan_sweep(services, max(next_at, now))
    return made
