"""A time poll that becomes the meeting: ``/kokous ehdota ti 8.12. klo 18 Kokous @ talo | ke 9.12. klo 17``
offers times; everyone answers yes / if need be / no per time with buttons (a later answer replaces
the earlier); at the close (a durable job) or when an admin picks (``/kokous valitse 1 2``) the best
time — most yes, then most if-need-be, then the earliest — becomes a meeting through the meetings'
own creation path (reminders, RSVP, .ics), announced in the chat by ``announce``.

The close: ``sulkeutuu <time>`` (``stänger``, ``closes``) anywhere after the times; by default
48 hours after the poll is made, but no later than 24 hours before the earliest time (and at least
an hour before it). A time already past at the close is not picked; when no time got a yes or an
if-need-be no meeting is made, and the chat is told so.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.events import Button, Reply
from core.i18n import _, format_datetime, format_number, ngettext, resolve_language
from core.markup import b, esc
from core.scope import send_scope
from handlers.areas import COPIES_RETRY, edit_every, group_chats, require_area
from handlers.base import Context, Services, UserError
from handlers.meetings.flow import make_meeting, scheduled_html
from handlers.meetings.keys import (
    ANNOUNCE_TIME_POLL,
    ANNOUNCE_TIME_POLL_IN,
    CLOSE_TIME_POLL,
    REFRESH_TIME_POLL,
    TIME,
    TIME_POLL_COPIES,
    TIME_POLL_COPY_IN,
)
from handlers.meetings.occurrences import occurrences, to_local, wall
from handlers.meetings.parse import DEFAULT_DURATION, DIGITS, MeetingSpec, parse_meeting
from handlers.meetings.reminders import offsets_to_come, wake_next
from handlers.meetings.render import rsvp_buttons
from handlers.when import parse_duration, parse_when, split_when
from storage import audit
from storage import meetings as store
from storage.core import Chat, Job, cancel_job, effect_of, record_effect, schedule_job

log = logging.getLogger(__name__)

MIN_OPTIONS = 2

MAX_OPTIONS = 10

#: the default close: this long after the poll is made …
DEFAULT_OPEN = timedelta(hours=48)
#: … but no later than this before the earliest time …
CLOSE_BEFORE_FIRST = timedelta(hours=24)
#: … and at least this before it
LAST_CLOSE_BEFORE_FIRST = timedelta(hours=1)

#: the word that starts the closing time, in any of the languages
_CLOSES = re.compile(r"(?<!\w)(?:sulkeutuu|suljetaan|stänger|stängs|closes|closing)(?!\w)[:\s]*", re.IGNORECASE)

#: a run that finds the poll closed but not announced announces only this long after the close (the
#: run that closed it announces; the announce job, due then, takes over when that one died first)
ANNOUNCE_GRACE = timedelta(minutes=2)

#: an area time poll's messages show new counts at most this often, or less often where its chats
#: need it (handlers/areas.edit_every: several Matrix rooms share one account's rate)
REFRESH_EVERY = timedelta(seconds=10)

ANSWER_EMOJI = {"yes": "✅", "maybe": "🤔", "no": "❌"}


@dataclass(frozen=True)
class Proposal:
    title: str
    place: str
    duration_minutes: int
    starts: list[datetime]  # in order, aware
    closes_at: datetime


def _one_time(text: str, now: datetime, lang: str) -> datetime:
    return parse_when(text, now, lang, default_time=None)  # a WhenError tells the person what is wrong


def parse_proposal(text: str, now: datetime, lang: str) -> Proposal:
    """``<time> [title] [@ place] | <time> | … [closes <time>]`` (pure)."""
    text = " ".join("".join(ch for ch in text if ch.isprintable()).split())
    closes_text = ""
    m = _CLOSES.search(text)
    if m is not None:
        text, closes_text = text[:m.start()].strip().rstrip("|").strip(), text[m.end():].strip()
    parts = [p.strip() for p in text.split("|")]
    if any(not p for p in parts) or len(parts) < MIN_OPTIONS:
        raise UserError(_("Give at least two times separated by |, for example: {example}").format(
            example=_("tue 8.12. at 18 Kehrä meeting @ Maunula house | wed 9.12. at 17")), show_usage=True)
    if len(parts) > MAX_OPTIONS:
        raise UserError(ngettext("At most {count} time in one poll.", "At most {count} times in one poll.",
                                 MAX_OPTIONS).format(count=format_number(MAX_OPTIONS)))
    first = parts[0]
    title, place, duration = "", "", DEFAULT_DURATION
    head = first.partition("@")[0].strip()
    start, rest = split_when(head, now, lang, default_time=None)
    if rest or "@" in first:
        spec = parse_meeting(first if rest else f"{head} {_('Meeting')} @ {first.partition('@')[2]}", now, lang)
        if spec.rrule:
            raise UserError(_("A time poll offers single times, not a series."), show_usage=True)
        start, title, place, duration = spec.start, spec.title if rest else "", spec.place, spec.duration_minutes
    starts = [start] + [_one_time(p, now, lang) for p in parts[1:]]
    if len({s.astimezone(UTC) for s in starts}) < len(starts):
        raise UserError(_("The same time is offered twice."))
    starts.sort()
    earliest = starts[0]
    if closes_text:
        delta = parse_duration(closes_text)
        closes = now + delta if delta is not None else _one_time(closes_text, now, lang)
        if closes > earliest:
            raise UserError(_("The poll must close before the earliest time, {when}.").format(
                when=format_datetime(earliest)))
    else:
        closes = min(now + DEFAULT_OPEN, earliest - CLOSE_BEFORE_FIRST)
        if closes < now + LAST_CLOSE_BEFORE_FIRST:
            closes = earliest - LAST_CLOSE_BEFORE_FIRST
    if closes <= now + timedelta(minutes=5):
        raise UserError(_("The earliest time is too soon for a poll: offer times at least two hours away, "
                          "or say when the poll closes."))
    return Proposal(title=title, place=place, duration_minutes=duration, starts=starts,
                    closes_at=closes.astimezone(UTC).replace(microsecond=0))


def parse_pick(args: str) -> tuple[int, int | None]:
    """``<poll number> [<time number>]``."""
    words = args.replace("#", " ").split()
    if not 1 <= len(words) <= 2 or not all(DIGITS.fullmatch(w) for w in words):
        raise UserError(_("Give the poll's number and the time's number, for example: {example}").format(
            example="1 2"), show_usage=True)
    return int(words[0]), int(words[1]) if len(words) == 2 else None


def best_option(starts: list[datetime], counts: list[dict[str, int]], now: datetime) -> int | None:
    """Most yes, then most if-need-be, then the earliest; only times still ahead and with at least
    one yes or if-need-be; None when there is none."""
    ahead = [i for i, s in enumerate(starts) if s > now and counts[i]["yes"] + counts[i]["maybe"] > 0]
    if not ahead:
        return None
    return min(ahead, key=lambda i: (-counts[i]["yes"], -counts[i]["maybe"], starts[i]))


def _starts(poll: store.TimePoll) -> list[datetime]:
    return [wall(o) for o in poll.option_list()]


def _counts_text(c: dict[str, int]) -> str:
    return " · ".join(f"{ANSWER_EMOJI[a]} {format_number(c[a])}" for a in store.TIME_ANSWERS)


def poll_html(poll: store.TimePoll, counts: list[dict[str, int]], pick_command: str | None, *,
              origin: bool = True) -> str:
    """The poll's message in the current language: the times with their counts (``pick_command``
    None: where it cannot be picked). An area poll's number is its own chat's: in the area's other
    chats (``origin`` False) it has none, as their numbers are their own polls'."""
    title = poll.title or _("Meeting")
    if poll.area and not origin:
        head = _("Time poll of the area {area}: {title}").format(area=poll.area, title=title)
    elif poll.area:
        head = _("Time poll #{number} of the area {area}: {title}").format(number=poll.number, area=poll.area,
                                                                            title=title)
    else:
        head = _("Time poll #{number}: {title}").format(number=poll.number, title=title)
    lines = ["🗓 " + b(head)]
    if poll.place:
        lines.append("📍 " + esc(poll.place))
    for i, (start, c) in enumerate(zip(_starts(poll), counts, strict=True)):
        mark = " 🏆" if poll.closed_at is not None and poll.picked == i else ""
        lines.append(esc(f"{i + 1}. {format_datetime(start)} — {_counts_text(c)}") + mark)
    if poll.closed_at is None:
        lines.append(esc(_("Answer for each time: ✅ yes, 🤔 if need be, ❌ no. A new answer replaces your earlier one.")))
        when, command = format_datetime(poll.closes_at), f"{pick_command} {poll.number} <n>"
        if not poll.area:
            lines.append(esc(_("Closes {when}; then the best time becomes the meeting (an admin may pick earlier: "
                               "{command}).").format(when=when, command=command)))
        elif pick_command:
            lines.append(esc(_("Closes {when}; then the best time becomes the meeting in every chat of the area "
                               "(an admin here may pick earlier: {command}).").format(when=when, command=command)))
        else:
            lines.append(esc(_("Closes {when}; then the best time becomes the meeting in every chat of the "
                               "area.").format(when=when)))
    elif poll.picked is None:
        lines.append(esc(_("Closed: no time suited anyone.")))
    else:
        lines.append(esc(_("Closed: time {n} was chosen.").format(n=format_number(poll.picked + 1))))
    return "\n".join(lines)


def poll_buttons(poll: store.TimePoll) -> tuple:
    if poll.closed_at is not None:
        return ()
    return tuple(tuple(Button(
        f"{i + 1} {ANSWER_EMOJI[a]}", TIME.data(poll=poll.id, option=i, answer=a)) for a in store.TIME_ANSWERS)
        for i in range(len(poll.option_list())))


def _pick_command(services: Services, chat_key: str, lang: str) -> str:
    return (services.command_text("meeting", chat_key.split(":", 1)[0], lang) + " "
            + services.command("meeting").subcommand("pick").shown_name(lang))


# --- commands and the button ---------------------------------------------------------------

#: the word after ``ehdota`` that makes the poll the whole area's
AREA_WORDS = frozenset({"alue", "område", "omrade", "area"})


def split_area(args: str) -> tuple[bool, str]:
    """``alue <times>`` → (True, ``<times>``)."""
    word, _sep, rest = args.strip().partition(" ")
    return (True, rest) if word.casefold() in AREA_WORDS else (False, args)


async def propose_cmd(ctx: Context, args: str) -> None:
    """``/kokous ehdota [alue] <time> [title] [@ place] | <time> | … [sulkeutuu <time>]`` (admins);
    with ``alue`` the poll is posted in every chat of the chat's area."""
    area_wide, args = split_area(args)
    proposal = parse_proposal(args, ctx.now(), ctx.lang)
    area, chats = None, [ctx.chat_key]
    if area_wide:
        async with ctx.db.session() as session:
            area = await require_area(ctx, session)
            chats = await group_chats(ctx.services, session, area, ctx.chat_key)
    async with ctx.db.transaction() as session:
        earlier = await effect_of(session, ctx.event.event_key, "meetings.timepoll")
        if earlier is not None:  # handled before a restart: the same poll
            poll = await session.get(store.TimePoll, int(earlier))
        else:
            _fits_buttons(ctx.services, chats, len(proposal.starts))
            poll = store.TimePoll(
                chat_key=ctx.chat_key, number=0, title=proposal.title, place=proposal.place,
                duration_minutes=proposal.duration_minutes, options=" ".join(to_local(s) for s in proposal.starts),
                created_by=ctx.sender_key, created_by_name=ctx.event.sender_name[:255], created_at=ctx.now(),
                closes_at=proposal.closes_at, area=area)
            await store.create_time_poll(session, poll)
            await schedule_job(session, CLOSE_TIME_POLL.kind, poll.closes_at, chat_key=ctx.chat_key,
                               payload={"poll": poll.id}, dedup_key=CLOSE_TIME_POLL.key(poll=poll.id))
            record_effect(session, ctx.event.event_key, "meetings.timepoll", poll.id, ctx.now())
            await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="timepoll.create",
                               target=f"timepoll:{poll.number}", after={"title": poll.title, "times": poll.options,
                                                                         "closes": poll.closes_at, "area": area},
                               at=ctx.now())
    ctx.services.wake(poll.closes_at)
    missing = []
    for chat_key in chats:
        try:  # where it was started, as the answer to the command (its thread); elsewhere a message
            await _post(ctx.services, poll, chat_key, ctx.reply if chat_key == ctx.chat_key else None)
        except Exception:
            if chat_key == ctx.chat_key:
                raise
            log.warning("time poll %s: posting in %s failed; tried again later", poll.id, chat_key, exc_info=True)
            missing.append(chat_key)
    if area is None:
        return
    if missing:  # that chat's platform is down: a job of that chat posts it there when it is back
        at = ctx.now() + COPIES_RETRY
        async with ctx.db.transaction() as session:
            for chat_key in missing:
                await schedule_job(session, TIME_POLL_COPIES.kind, at, chat_key=chat_key,
                                   payload={"poll": poll.id, "chats": [chat_key]},
                                   dedup_key=TIME_POLL_COPY_IN.key(poll=poll.id, chat=chat_key))
        ctx.services.wake(at)
    posted = len(chats) - len(missing)
    await ctx.reply(key=f"meetings:timepoll:{poll.id}:posted", html=esc(ngettext("Area time poll #{number} is in {count} chat of the area {area}.",
                                 "Area time poll #{number} is in {count} chats of the area {area}.", posted).format(
        number=poll.number, count=format_number(posted), area=area)))


def _fits_buttons(services: Services, chats: list[str], times: int) -> None:
    """Every time needs its three buttons in every chat (a Matrix message carries ten: three times)."""
    for platform in sorted({k.split(":", 1)[0] for k in chats} & set(services.transports)):
        most = services.transports[platform].capabilities.max_buttons
        if most is not None and times * len(store.TIME_ANSWERS) > most:
            fit = most // len(store.TIME_ANSWERS)
            raise UserError(ngettext(
                "On {platform} a message carries buttons for {count} time only: offer fewer times.",
                "On {platform} a message carries buttons for {count} times only: offer fewer times.",
                fit).format(platform=platform.capitalize(), count=format_number(fit)))


async def _poll_message(services: Services, poll: store.TimePoll, chat_key: str,
                        counts: list[dict[str, int]]) -> tuple[str, tuple]:
    lang = await services.chat_language(chat_key)  # the poll's message is the chat's
    with services.locale(lang):
        origin = chat_key == poll.chat_key
        pick = _pick_command(services, chat_key, lang) if origin else None
        return poll_html(poll, counts, pick, origin=origin), poll_buttons(poll)


async def _post(services: Services, poll: store.TimePoll, chat_key: str, reply=None) -> None:
    """Post the poll in one chat (``reply``: as the answer to the command) and keep its message;
    nothing if it is there already (a command handled again after a restart)."""
    async with services.db.session() as session:
        done = await session.get(store.TimePollCopy, (poll.id, chat_key)) if poll.area else None
        counts = await store.time_counts(session, poll.id, len(poll.option_list()))
    if (done.message_id if done is not None else chat_key == poll.chat_key and poll.message_id):
        return
    html, buttons = await _poll_message(services, poll, chat_key, counts)
    key = f"meetings:timepoll:{poll.id}:post@{chat_key}"  # the same in every run: posted once, a send of
    if reply is not None:                                 # unknown fate not repeated (the outbox)
        message_id = await reply(html, buttons, key=key)
    else:
        message_id = await services.transport_for(chat_key).send(
            chat_key.split(":", 1)[1], Reply(html=html, buttons=buttons, key=key))
    async with services.db.transaction() as session:
        if poll.area:
            await store.add_time_copy(session, poll.id, chat_key, message_id)
        if chat_key == poll.chat_key and message_id:
            row = await session.get(store.TimePoll, poll.id)
            row.message_id = message_id
            session.add(row)


async def copies_job(services: Services, job: Job) -> None:
    """Post an open area time poll in the chats it could not be posted in at first; raises while
    one is still out of reach (the job is retried with back-off)."""
    data = job.data()
    async with services.db.session() as session:
        poll = await session.get(store.TimePoll, int(data["poll"]))
    if poll is None or poll.closed_at is not None:
        return
    failed: Exception | None = None
    for chat_key in data.get("chats", []):
        try:
            await _post(services, poll, chat_key)
        except Exception as exc:
            log.warning("time poll %s: posting in %s failed again", poll.id, chat_key, exc_info=True)
            failed = exc
    if failed is not None:
        raise failed


def _window(now: datetime, every: timedelta) -> datetime:
    """The end of the refresh window ``now`` is in (windows ``every`` long)."""
    seconds = int(every.total_seconds())
    return datetime.fromtimestamp((int(now.timestamp()) // seconds + 1) * seconds, UTC)


def _refresh_every(copies: list[store.TimePollCopy]) -> timedelta:
    """One window for all the poll's messages: the longest any of its chats needs (handlers/areas)."""
    keys = [c.chat_key for c in copies]
    return max([REFRESH_EVERY, *(edit_every(k, keys) for k in keys)])


async def time_button(ctx: Context, args: list[str]) -> None:
    pressed = TIME.read(args)
    answer = pressed["answer"]
    if answer not in store.TIME_ANSWERS:
        raise UserError(_("This button no longer works."))
    refresh_at = None
    async with ctx.db.transaction() as session:
        poll = await session.get(store.TimePoll, pressed["poll"])
        here = poll is not None and (poll.chat_key == ctx.chat_key or poll.area is not None and await session.get(
            store.TimePollCopy, (poll.id, ctx.chat_key)) is not None)
        if not here or not 0 <= pressed["option"] < len(poll.option_list()):
            raise UserError(_("This button no longer works."))
        if poll.closed_at is not None or ctx.now() >= poll.closes_at:  # past its time, its job may be late
            raise UserError(_("This time poll is closed."))
        await store.set_time_answer(session, poll.id, pressed["option"], ctx.sender_key, answer, ctx.now())
        counts = await store.time_counts(session, poll.id, len(poll.option_list()))
        window = _window(ctx.now(), _refresh_every(await store.time_copies(session, poll.id))) if poll.area else None
        if window is not None and window < poll.closes_at:  # every chat's counts, once per window (the
            refresh_at = window                             # close's edit shows the last ones)
            await schedule_job(session, REFRESH_TIME_POLL.kind, refresh_at, chat_key=poll.chat_key,
                               payload={"poll": poll.id},
                               dedup_key=REFRESH_TIME_POLL.key(poll=poll.id, at=int(refresh_at.timestamp())))
    if refresh_at is not None:
        ctx.services.wake(refresh_at)
    start = _starts(poll)[pressed["option"]]
    said = {"yes": _("Your answer for {when}: yes."), "maybe": _("Your answer for {when}: if need be."),
            "no": _("Your answer for {when}: no.")}[answer]
    await ctx.acknowledge(said.format(when=format_datetime(start)) + " " + _counts_text(counts[pressed["option"]]))
    if poll.area is None and ctx.event.target_id and ctx.event.target_id == poll.message_id:
        html, buttons = await _poll_message(ctx.services, poll, ctx.chat_key, counts)
        try:
            await ctx.edit(poll.message_id, html, buttons)
        except Exception:  # the answer is stored; the message may be too old to edit
            log.info("could not refresh time poll %s", poll.id, exc_info=True)


async def refresh_job(services: Services, job: Job) -> None:
    """The live counts of an area time poll in every chat's message."""
    async with services.db.session() as session:
        poll = await session.get(store.TimePoll, int(job.data()["poll"]))
        if poll is None or poll.closed_at is not None or services.clock.now() >= poll.closes_at:
            return
        counts = await store.time_counts(session, poll.id, len(poll.option_list()))
        copies = await store.time_copies(session, poll.id)
    for copy in copies:
        if not copy.message_id or services.clock.now() >= poll.closes_at:
            continue
        html, buttons = await _poll_message(services, poll, copy.chat_key, counts)
        try:
            await services.transport_for(copy.chat_key).edit(copy.chat_key.split(":", 1)[1], copy.message_id,
                                                             Reply(html=html, buttons=buttons))
        except Exception:  # the answers are stored; a stale message is not worth an error
            log.warning("could not update time poll %s in %s", poll.id, copy.chat_key, exc_info=True)


async def pick_cmd(ctx: Context, parsed: tuple[int, int | None]) -> None:
    """``/kokous valitse <poll> [<time>]`` (admins): close now with that time (or the best one)."""
    number, option = parsed
    async with ctx.db.session() as session:
        poll = await store.time_poll_by_number(session, ctx.chat_key, number)
    if poll is None:
        raise UserError(_("There is no time poll #{number} in this chat.").format(number=number))
    if poll.closed_at is not None:
        raise UserError(_("Time poll #{number} is already closed.").format(number=number))
    if option is not None:
        if not 1 <= option <= len(poll.option_list()):
            raise UserError(_("Time poll #{number} has times 1–{count}.").format(
                number=number, count=format_number(len(poll.option_list()))))
        if _starts(poll)[option - 1] <= ctx.now():
            raise UserError(_("Time {n} is already past.").format(n=format_number(option)))
    await close_time_poll(ctx.services, poll.id, picked=None if option is None else option - 1, actor=ctx.event)


# --- the close -----------------------------------------------------------------------------


async def close_time_poll(services: Services, poll_id: int, *, picked: int | None = None,
                          actor=audit.SYSTEM, only: str | None = None) -> None:
    """Close the poll once (``picked``: the admin's 0-based choice, else the best time), make the
    meeting — in every chat of an area poll, one each — in the same transaction, then announce. Run
    again after a crash, it only announces."""
    now = services.clock.now()
    meeting_ids: list[int] = []
    async with services.db.transaction() as session:
        poll = await session.get(store.TimePoll, poll_id)
        if poll is None:
            return
        if poll.closed_at is None and await store.claim_close(session, poll_id, now):
            starts = _starts(poll)
            copies = await store.time_copies(session, poll.id) if poll.area else []
            counts = await store.time_counts(session, poll.id, len(starts))
            choice = picked if picked is not None else best_option(starts, counts, now)
            poll.closed_at, poll.picked = now, choice
            after: dict = {"picked": None if choice is None else choice + 1}
            if choice is not None:
                for chat_key in [c.chat_key for c in copies] or [poll.chat_key]:
                    spec = MeetingSpec(title=poll.title or _meeting_word(services, await _lang(session, chat_key)),
                                       place=poll.place, dtstart_local=to_local(starts[choice]), rrule="",
                                       start=starts[choice], last_start=None, duration_minutes=poll.duration_minutes)
                    meeting, _occ = await make_meeting(session, chat_key, spec, poll.created_by,
                                                       poll.created_by_name, now)
                    meeting_ids.append(meeting.id)
                    if chat_key == poll.chat_key:
                        poll.meeting_id = meeting.id
                        after["meeting"] = meeting.number
                    for copy in copies:
                        if copy.chat_key == chat_key:
                            copy.meeting_id = meeting.id
                            session.add(copy)
            session.add(poll)
            if picked is not None:  # an admin's pick: the close job has nothing left to do
                await cancel_job(session, CLOSE_TIME_POLL.key(poll=poll.id))
            if poll.area:  # a check per chat, which waits for that chat's platform (and only it)
                for copy in copies:
                    await schedule_job(session, ANNOUNCE_TIME_POLL.kind, now + ANNOUNCE_GRACE, chat_key=copy.chat_key,
                                       payload={"poll": poll.id, "chat": copy.chat_key},
                                       dedup_key=ANNOUNCE_TIME_POLL_IN.key(poll=poll.id, chat=copy.chat_key))
            else:
                await schedule_job(session, ANNOUNCE_TIME_POLL.kind, now + ANNOUNCE_GRACE, chat_key=poll.chat_key,
                                   payload={"poll": poll.id}, dedup_key=ANNOUNCE_TIME_POLL.key(poll=poll.id))
            await audit.record(session, chat_key=poll.chat_key, actor=actor, action="timepoll.close",
                               target=f"timepoll:{poll.number}", before={"closed": False}, after=after, at=now)
        elif poll.announced or poll.closed_at is None or now - poll.closed_at < ANNOUNCE_GRACE:
            return  # announced, or being closed and announced by another run right now
    services.wake(now + ANNOUNCE_GRACE)
    for meeting_id in meeting_ids:
        await wake_next(services, meeting_id)
    await announce(services, poll_id, only=only)


async def _lang(session, chat_key: str) -> str | None:
    chat = await session.get(Chat, chat_key)
    return chat.language if chat else None


def _meeting_word(services: Services, lang: str | None) -> str:
    with services.locale(resolve_language(lang)):
        return _("Meeting")


async def announce(services: Services, poll_id: int, *, only: str | None = None) -> None:
    """Tell every chat of the closed poll (``only``: that one) how it ended: its message shows the
    final counts, and the meeting made there (its card with the RSVP buttons) or that no time suited
    anyone. Raises (the announce job is retried) when a chat could not be reached, after trying the
    others; of an area poll only for ``only`` (each chat has its own announce job)."""
    async with services.db.session() as session:
        poll = await session.get(store.TimePoll, poll_id)
        if poll is None or poll.closed_at is None or poll.announced:
            return
        counts = await store.time_counts(session, poll.id, len(poll.option_list()))
        copies = await store.time_copies(session, poll.id) if poll.area else [store.TimePollCopy(
            poll_id=poll.id, chat_key=poll.chat_key, message_id=poll.message_id, meeting_id=poll.meeting_id)]
    failed: Exception | None = None
    for copy in copies:
        if copy.announced or only is not None and copy.chat_key != only:
            continue
        try:
            await _announce_in(services, poll, copy, counts)
            copy.announced = True
        except Exception as exc:
            log.warning("time poll %s: announcing in %s failed", poll.id, copy.chat_key, exc_info=True)
            if not poll.area or only is not None:
                failed = exc
    if failed is not None:
        raise failed
    if not all(c.announced for c in copies):
        return  # the chats left have their announce jobs
    async with services.db.transaction() as session:
        row = await session.get(store.TimePoll, poll.id)
        row.announced = True
        session.add(row)


async def _announce_in(services: Services, poll: store.TimePoll, copy: store.TimePollCopy,
                       counts: list[dict[str, int]]) -> None:
    async with services.db.session() as session:
        meeting = await session.get(store.Meeting, copy.meeting_id) if copy.meeting_id else None
        chat = await session.get(Chat, copy.chat_key)
        exc = (await store.exceptions_of(session, [meeting.id]))[meeting.id] if meeting else {}
    occ = next(iter(occurrences(meeting, exc, services.clock.now(), 1)), None) if meeting else None
    lang = await services.chat_language(copy.chat_key)
    platform, chat_id = copy.chat_key.split(":", 1)
    origin = copy.chat_key == poll.chat_key
    with services.locale(lang):
        final = poll_html(poll, counts, None, origin=origin)
        if meeting is None:
            html = "🗓 " + esc(_("Time poll #{number} closed: no time got a yes or an if-need-be, so no meeting "
                                "was scheduled.").format(number=poll.number) if origin else _(
                "The area's time poll closed: no time got a yes or an if-need-be, so no meeting was scheduled."))
            buttons: tuple = ()
        else:
            c, when = counts[poll.picked], format_datetime(wall(meeting.dtstart_local))
            head = "🗓 " + b(_("Time poll #{number} closed: {when} ({counts})").format(
                number=poll.number, when=when, counts=_counts_text(c)) if origin else _(
                "The area's time poll closed: {when} ({counts})").format(when=when, counts=_counts_text(c)))
            html = head + "\n" + scheduled_html(meeting, occ, offsets_to_come(chat, meeting, occ, services.clock.now()),
                                                services.command_text("rsvp", platform, lang))
            buttons = rsvp_buttons(meeting.id)
    # one key per poll and chat, whichever run (the close, its retry, the announce job, another
    # process) gets here: announced once, even when a run died between the send and its record
    with send_scope(f"meetings:timepoll:{poll.id}:announce:{copy.chat_key}", replay=True):
        if copy.message_id:
            try:
                await services.transport_for(copy.chat_key).edit(chat_id, copy.message_id, Reply(html=final))
            except Exception:
                log.info("could not show time poll %s closed in %s", poll.id, copy.chat_key, exc_info=True)
        message_id = await services.send(copy.chat_key, html, buttons)
    async with services.db.transaction() as session:
        if poll.area:
            row = await session.get(store.TimePollCopy, (poll.id, copy.chat_key))
            row.announced = True
            session.add(row)
        if meeting is not None:
            await store.add_message(session, copy.chat_key, message_id, meeting.id, occ.key if occ else "")


async def close_job(services: Services, job: Job) -> None:
    """The close at its time, and (``ANNOUNCE_TIME_POLL``) the check after it that it was announced
    (in one chat of an area poll, its ``chat``)."""
    data = job.data()
    await close_time_poll(services, data["poll"], only=data.get("chat"))

