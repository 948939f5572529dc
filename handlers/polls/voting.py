"""Votes: a press of a vote button, a vote in a platform's native poll, and the poll message
kept current (at most one edit per EDIT_EVERY)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from core.events import Reply
from core.i18n import _, format_number, ngettext
from handlers.base import Context, Services, UserError
from handlers.polls.area import refresh_copies
from handlers.polls.keys import REFRESH, VOTE
from handlers.polls.render import invalid_vote, render_open, vote_buttons, vote_note
from storage import links
from storage import polls as store
from storage.core import languages_for, schedule_job

log = logging.getLogger(__name__)


EDIT_EVERY = timedelta(seconds=5)


def accepting(poll: store.Poll, now: datetime) -> bool:
    return poll.status == store.OPEN and now < poll.close_at


async def vote_button(ctx: Context, args: list[str]) -> None:
    pressed = VOTE.read(args)
    poll_id, choice = pressed["poll"], pressed["option"]
    async with ctx.db.transaction() as session:
        poll = await store.by_id(session, poll_id)
        here = poll is not None and (poll.chat_key == ctx.chat_key if not poll.area
                                     else await store.copy_in(session, poll.id, ctx.chat_key) is not None)
        if poll is None or not here or poll.status == store.CANCELLED:
            raise UserError(_("This poll is no longer available."))
        if not accepting(poll, ctx.now()):
            raise UserError(_("This poll is closed."))
        options = poll.option_list()
        if choice >= len(options):
            raise UserError(_("This button no longer works."))
        voter = await voter_key(session, poll, ctx.sender_key)
        current = await store.get_vote(session, poll, voter) or ()
        chosen: tuple[int, ...] | None = None
        unchanged = False
        if ctx.event.replay and await store.vote_counted(session, poll, ctx.event.event_key):
            # handled again after a stop: counted already; answer as the first time, change nothing
            if not poll.multiple:
                note = _("Your vote: “{option}”.").format(option=options[choice])
            elif choice in current:
                note = _("Added “{option}” to your choices.").format(option=options[choice])
            else:
                note = _("Removed “{option}” from your choices.").format(option=options[choice])
        elif not poll.multiple:
            if current == (choice,):
                unchanged = True
                note = _("You already voted for “{option}”.").format(option=options[choice])
            else:
                chosen = (choice,)
                note = _("Your vote: “{option}”.").format(option=options[choice])
        elif choice in current:
            chosen = tuple(c for c in current if c != choice)
            note = _("Removed “{option}” from your choices.").format(option=options[choice])
        else:
            if len(current) >= poll.max_choices:
                raise UserError(ngettext("You can choose at most {count} option. Remove one first.",
                                         "You can choose at most {count} options. Remove one first.",
                                         poll.max_choices).format(count=format_number(poll.max_choices)))
            chosen = (*current, choice)
            note = _("Added “{option}” to your choices.").format(option=options[choice])
        if chosen is not None:
            await store.set_vote(session, poll, voter, ctx.event.sender_name, chosen, ctx.event.event_key,
                                 now=ctx.now())
    await ctx.acknowledge(note)
    if not unchanged:
        await refresh(ctx.services, poll.id)


async def voter_key(session, poll: store.Poll, person_key: str) -> str:
    """Whom a vote is kept under: the person, or for an anonymous area poll their link (its hash
    is kept, so a linked person has one vote; a named poll's tally merges links itself)."""
    if poll.area and poll.anonymous:
        return (await links.canonical(session, [person_key]))[person_key]
    return person_key


async def refresh(services: Services, poll_id: int) -> None:
    """Show the live counts in the poll message, at most once per EDIT_EVERY (Telegram allows a
    group about 20 messages a minute, edits included); a vote inside the window schedules one
    trailing edit at its end, so the message always ends up current. An area poll's copies:
    handlers/polls/area.py."""
    now = services.clock.now()
    async with services.db.session() as session:
        poll = await store.by_id(session, poll_id)
    if poll is not None and poll.area:
        await refresh_copies(services, poll_id)
        return
    trailing = None
    async with services.db.transaction() as session:
        poll = await store.by_id(session, poll_id)
        if poll is None or poll.status != store.OPEN or not poll.message_id:
            return
        if await store.claim_edit(session, poll_id, now, EDIT_EVERY):
            counts, voters, _names = await store.tally(session, poll)
            _person, chat_lang = await languages_for(session, "", poll.chat_key)
        else:
            trailing = poll.edited_at + EDIT_EVERY
            await schedule_job(session, REFRESH.kind, trailing, chat_key=poll.chat_key,
                               payload={"poll": poll_id}, dedup_key=REFRESH.key(poll=poll_id, at=int(trailing.timestamp())))
    if trailing is not None:
        services.wake(trailing)
        return
    with services.locale(chat_lang or poll.lang):  # the poll's language, not the voter's
        reply = Reply(html=render_open(poll, counts, voters, minimum=services.limits.min_respondents),
                      buttons=vote_buttons(poll))
    try:
        await services.transport_for(poll.chat_key).edit(poll.chat_key.split(":", 1)[1], poll.message_id, reply)
    except Exception:  # the vote is stored; a stale message is not worth an error
        log.warning("could not update poll message %s", poll.message_id, exc_info=True)


async def on_poll_vote(ctx: Context) -> None:
    ref = ctx.event.poll_ref
    if not ref:
        return
    async with ctx.db.transaction() as session:
        poll = await store.by_native_ref(session, ctx.chat_key, ref)
        if poll is None:
            found = await store.by_copy_ref(session, ctx.chat_key, ref)
            poll = found[0] if found else None
        if poll is None or not accepting(poll, ctx.now()):
            return  # not ours, or votes after the close are ignored
        choices = tuple(sorted(set(ctx.event.poll_choices)))
        size = len(poll.option_list())
        limit = poll.max_choices if poll.multiple else 1
        if any(c < 0 or c >= size for c in choices) or len(choices) > limit:
            log.info("refused an invalid native vote on poll %s: %s", poll.id, choices)
            raise UserError(invalid_vote(poll, ctx.event.sender_name or ctx.event.sender_id, limit))
        await store.set_vote(session, poll, await voter_key(session, poll, ctx.sender_key), ctx.event.sender_name,
                             choices, now=ctx.now())
    if poll.area:
        await refresh(ctx.services, poll.id)  # the area's other chats see the counts in the poll's messages
    # Telegram and Matrix show the person their own vote; where the platform does not (the
    # console), the bot says what it counted.
    if not ctx.transport.capabilities.shows_own_vote:
        await ctx.acknowledge(vote_note(poll, choices))
