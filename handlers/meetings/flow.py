"""The meeting commands, the RSVP button and reactions: parse → store → render → reply."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from core.events import Kind
from core.i18n import _, format_datetime, format_number, ngettext
from core.markup import b, esc
from handlers.base import Context, UserError
from handlers.meetings.keys import RSVP
from handlers.meetings.occurrences import (
    Occurrence,
    current_occurrence,
    find_occurrence,
    format_date_only,
    occurrences,
    to_local,
    upcoming_in_chat,
    wall,
)
from handlers.meetings.parse import REACTIONS, MeetingSpec, parse_meeting, split_move
from handlers.meetings.reminders import offsets_to_come, schedule_next, wake_next
from handlers.meetings.render import (
    ANSWER_EMOJI,
    ANSWER_LABELS,
    answer_text,
    card_html,
    counts_line,
    meeting_lines,
    offsets_text,
    rsvp_buttons,
)
from handlers.when import HELSINKI, parse_when
from storage import audit
from storage import meetings as store
from storage.core import Chat, effect_of, record_effect

log = logging.getLogger(__name__)

LIST_DAYS = 60

LIST_LIMIT = 15

LIST_PER_SERIES = 3  # a daily series shows its next three, so that it hides no other meeting


async def get_meeting(session, ctx: Context, number: int) -> store.Meeting:
    meeting = await store.by_number(session, ctx.chat_key, number)
    if meeting is None or meeting.cancelled_at is not None:
        raise UserError(_("There is no meeting #{number} in this chat.").format(number=number))
    return meeting


async def meeting_cmd(ctx: Context, args: str) -> None:
    """``/kokous <when> <title>`` schedules a meeting (admins; ``/kokous 3`` is the show subcommand)."""
    args = args.strip()
    if not args:
        raise UserError(_("Tell me when and what, for example: {example}").format(
            example=_("tue 1.12. at 18 Kehrä meeting @ Maunula house")), show_usage=True)
    spec = parse_meeting(args, ctx.now(), ctx.lang)
    async with ctx.db.transaction() as session:
        earlier = await effect_of(session, ctx.event.event_key, "meetings.create")
        if earlier is not None:  # this command was handled before a restart: the same meeting
            meeting = await session.get(store.Meeting, int(earlier))
            exc = (await store.exceptions_of(session, [meeting.id]))[meeting.id]
            upcoming = occurrences(meeting, exc, ctx.now(), 1)
            occ = upcoming[0] if upcoming else None
        else:
            meeting, occ = await make_meeting(session, ctx.chat_key, spec, ctx.sender_key, ctx.event.sender_name,
                                              ctx.now())
            record_effect(session, ctx.event.event_key, "meetings.create", meeting.id, ctx.now())
            await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="meeting.create", target=f"meeting:{meeting.number}",
                               after={"title": meeting.title, "start": meeting.first_start, "rrule": meeting.rrule}, at=ctx.now())
        chat = await session.get(Chat, ctx.chat_key)
        offsets = offsets_to_come(chat, meeting, occ, ctx.now())
    await wake_next(ctx.services, meeting.id)
    message_id = await ctx.reply(scheduled_html(meeting, occ, offsets, ctx.cmd("rsvp")), rsvp_buttons(meeting.id))
    async with ctx.db.transaction() as session:
        await store.add_message(session, ctx.chat_key, message_id, meeting.id, occ.key if occ else "")


async def make_meeting(session, chat_key: str, spec: MeetingSpec, created_by: str, created_by_name: str,
                       now: datetime) -> tuple[store.Meeting, Occurrence | None]:
    """Store a new meeting and schedule its reminders, in the caller's transaction (wake the
    scheduler with ``wake_next`` after the commit); the meeting and its next occurrence."""
    meeting = store.Meeting(
        uid=f"{uuid.uuid4().hex}@kehrabot", chat_key=chat_key, number=0, title=spec.title,
        place=spec.place, dtstart_local=spec.dtstart_local, rrule=spec.rrule, first_start=spec.start,
        last_start=spec.last_start, duration_minutes=spec.duration_minutes, created_by=created_by,
        created_by_name=created_by_name[:255], created_at=now,
    )
    await store.create_meeting(session, meeting)
    return meeting, await schedule_next(session, meeting, now, fresh=True)


def scheduled_html(meeting: store.Meeting, occ: Occurrence | None, offsets: list[int], rsvp_command: str) -> str:
    """The card of a meeting just scheduled, in the current language (``rsvp_command``: "/osallistun")."""
    lines = meeting_lines(meeting, occ)
    lines[0] = "📅 " + b(_("Meeting #{number} scheduled: {title}").format(number=meeting.number,
                                                                         title=meeting.title))
    if offsets:
        lines.append(esc(_("I will remind {offsets} before.").format(offsets=offsets_text(offsets))))
    lines.append(esc(_("Will you come? Answer with the buttons, react 👍 / 👎 / 🤔, or send {command}.").format(
        command=rsvp_command + f" {meeting.number} " + _("yes"))))
    return "\n".join(lines)


async def show_cmd(ctx: Context, number: int) -> None:
    await show_meeting(ctx, number)


async def show_meeting(ctx: Context, number: int) -> None:
    async with ctx.db.session() as session:
        meeting = await get_meeting(session, ctx, number)
        exc = (await store.exceptions_of(session, [meeting.id]))[meeting.id]
        upcoming = occurrences(meeting, exc, ctx.now() - timedelta(minutes=meeting.duration_minutes), 4)
        occ = upcoming[0] if upcoming else None
        answers = await store.rsvps(session, meeting.id, occ.key) if occ else []
    lines = meeting_lines(meeting, occ)
    if occ is None:
        lines.append(esc(_("No upcoming meetings in this series.")))
    if len(upcoming) > 1:
        lines.append(esc(_("Then: {dates}").format(dates=", ".join(format_datetime(o.start) for o in upcoming[1:]))))
    skipped = sorted(k for k, v in exc.items() if v is None and wall(k) > ctx.now())
    if skipped:
        lines.append(esc(_("Skipped: {dates}").format(dates=", ".join(format_date_only(wall(k)) for k in skipped))))
    if occ is not None:
        counts = dict.fromkeys(store.ANSWERS, 0)
        for a in answers:
            counts[a.answer] += 1
        lines.append(esc(counts_line(counts)))
        for answer in store.ANSWERS:
            names = [a.person_name or a.person_key.split(":", 1)[-1] for a in answers if a.answer == answer]
            if names:
                lines.append(f"{ANSWER_EMOJI[answer]} {esc(_(ANSWER_LABELS[answer]))}: {esc(', '.join(names))}")
    message_id = await ctx.reply("\n".join(lines), rsvp_buttons(meeting.id) if occ else ())
    if occ is not None:
        async with ctx.db.transaction() as session:
            await store.add_message(session, ctx.chat_key, message_id, meeting.id, occ.key)


async def list_cmd(ctx: Context, args: str) -> None:
    now = ctx.now()
    async with ctx.db.session() as session:
        every = await upcoming_in_chat(session, [ctx.chat_key], now, now + timedelta(days=LIST_DAYS))
        occs = _listed(every)
        counts = {(o.meeting.id, o.key): await store.rsvp_counts(session, o.meeting.id, o.key) for o in occs}
    if not occs:
        await ctx.reply(esc(ngettext("No meetings in the next {days} day. Schedule one with {command}.",
                                     "No meetings in the next {days} days. Schedule one with {command}.",
                                     LIST_DAYS).format(days=format_number(LIST_DAYS), command=ctx.cmd("meeting") + " " + _("<when> <title>"))))
        return
    lines = [b(_("Upcoming meetings"))]
    for o in occs:
        c = counts[(o.meeting.id, o.key)]
        line = f"#{o.meeting.number} {esc(format_datetime(o.start))} — {esc(o.meeting.title)}"
        if o.meeting.place:
            line += f" 📍 {esc(o.meeting.place)}"
        if o.meeting.rrule:
            line += " 🔁"
        line += f" · ✅ {c['yes']} ❌ {c['no']} 🤔 {c['maybe']}"
        lines.append(line)
    hidden = len(every) - len(occs)
    if hidden:
        lines.append(esc(ngettext(
            "… and {count} more meeting in the next {days} days: {command} <number> shows a series.",
            "… and {count} more meetings in the next {days} days: {command} <number> shows a series.",
            hidden).format(count=format_number(hidden), days=format_number(LIST_DAYS), command=ctx.cmd("meeting"))))
    lines.append(esc(_("Details: {command} <number>").format(command=ctx.cmd("meeting"))))
    await ctx.reply("\n".join(lines))


def _listed(occs: list[Occurrence]) -> list[Occurrence]:
    """The first LIST_LIMIT of ``occs`` (in order) with at most LIST_PER_SERIES of each meeting."""
    shown: list[Occurrence] = []
    per: dict[int, int] = {}
    for o in occs:
        if per.get(o.meeting.id, 0) < LIST_PER_SERIES:
            per[o.meeting.id] = per.get(o.meeting.id, 0) + 1
            shown.append(o)
            if len(shown) >= LIST_LIMIT:
                break
    return shown


async def _rsvp(ctx: Context, meeting: store.Meeting, answer: str, session) -> tuple[Occurrence, dict[str, int]]:
    occ = await current_occurrence(session, meeting, ctx.now())
    await store.set_rsvp(session, meeting.id, occ.key, ctx.sender_key, ctx.event.sender_name, answer, ctx.now())
    return occ, await store.rsvp_counts(session, meeting.id, occ.key)


async def rsvp_cmd(ctx: Context, parsed: tuple[int, str]) -> None:
    number, answer = parsed
    async with ctx.db.transaction() as session:
        meeting = await get_meeting(session, ctx, number)
        occ, counts = await _rsvp(ctx, meeting, answer, session)
    await ctx.reply(esc(answer_text(answer, meeting, occ) + " " + counts_line(counts)))


async def _refresh_card(ctx: Context, meeting: store.Meeting, occ: Occurrence, counts: dict[str, int]) -> None:
    """Show the new counts on the meeting's card the person answered on (not on reminders)."""
    if not ctx.event.target_id:
        return
    async with ctx.db.session() as session:
        target = await store.message_target(session, ctx.chat_key, ctx.event.target_id)
    if target is None or target.kind != "card" or target.meeting_id != meeting.id:
        return
    with ctx.services.locale(await ctx.services.chat_language(ctx.chat_key)):  # a shared message
        html, buttons = card_html(meeting, occ, counts), rsvp_buttons(meeting.id)
    try:
        await ctx.edit(ctx.event.target_id, html, buttons)
    except Exception:  # the message may be gone or too old to edit; the answer is stored anyway
        log.info("could not refresh meeting card %s in %s", ctx.event.target_id, ctx.chat_key, exc_info=True)


async def rsvp_button(ctx: Context, args: list[str]) -> None:
    pressed = RSVP.read(args)
    answer = pressed["answer"]
    if answer not in store.ANSWERS:
        raise UserError(_("This button no longer works."))
    async with ctx.db.transaction() as session:
        meeting = await session.get(store.Meeting, pressed["meeting"])
        if meeting is None or meeting.chat_key != ctx.chat_key or meeting.cancelled_at is not None:
            raise UserError(_("This meeting has been cancelled."))
        occ, counts = await _rsvp(ctx, meeting, answer, session)
    await ctx.acknowledge(answer_text(answer, meeting, occ) + " " + counts_line(counts))
    await _refresh_card(ctx, meeting, occ, counts)


async def on_reaction(ctx: Context) -> None:
    if ctx.event.kind != Kind.REACTION or not ctx.event.target_id:
        return
    answer = REACTIONS.get((ctx.event.reaction or "").replace("\ufe0f", "").strip())
    if answer is None:
        return
    async with ctx.db.transaction() as session:
        target = await store.message_target(session, ctx.chat_key, ctx.event.target_id)
        if target is None:
            return
        meeting = await session.get(store.Meeting, target.meeting_id)
        if meeting is None or meeting.cancelled_at is not None:
            return
        try:
            occ = await current_occurrence(session, meeting, ctx.now())
        except UserError:
            return
        if ctx.event.reaction_removed:
            changed = await store.remove_rsvp(session, meeting.id, occ.key, ctx.sender_key, answer)
        else:
            changed = await store.set_rsvp(session, meeting.id, occ.key, ctx.sender_key, ctx.event.sender_name,
                                           answer, ctx.now())
        counts = await store.rsvp_counts(session, meeting.id, occ.key)
    if changed:
        await _refresh_card(ctx, meeting, occ, counts)


async def cancel_cmd(ctx: Context, number: int) -> None:
    async with ctx.db.transaction() as session:
        meeting = await get_meeting(session, ctx, number)
        await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="meeting.cancel", target=f"meeting:{number}",
                           before={"cancelled": meeting.cancelled_at is not None}, after={"cancelled": True}, at=ctx.now())
        meeting.cancelled_at = ctx.now()
        meeting.sequence += 1
        session.add(meeting)
        await schedule_next(session, meeting, ctx.now())  # cancels the pending reminders
    text = (_("The series #{number} {title} is cancelled; no more reminders.") if meeting.rrule
            else _("Meeting #{number} {title} is cancelled; no more reminders."))
    await ctx.reply("❌ " + esc(text.format(number=number, title=meeting.title)))


async def _pick_occurrence(ctx: Context, session, meeting: store.Meeting, date_text: str) -> Occurrence:
    exc = (await store.exceptions_of(session, [meeting.id]))[meeting.id]
    if not date_text:
        upcoming = occurrences(meeting, exc, ctx.now(), 1)
        if not upcoming:
            raise UserError(_("Meeting #{number} has no upcoming meetings.").format(number=meeting.number))
        return upcoming[0]
    midnight = wall(ctx.now().astimezone(HELSINKI).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None))
    day = parse_when(date_text, midnight, ctx.lang).astimezone(HELSINKI).date()
    return find_occurrence(meeting, exc, day, ctx.now())


async def skip_cmd(ctx: Context, parsed: tuple[int, str]) -> None:
    number, date_text = parsed
    async with ctx.db.transaction() as session:
        meeting = await get_meeting(session, ctx, number)
        if not meeting.rrule:
            raise UserError(_("Meeting #{number} is a single meeting: cancel it with {command} {number}.").format(
                number=number, command=ctx.cmd("cancelmeeting")))
        occ = await _pick_occurrence(ctx, session, meeting, date_text)
        prior = await session.get(store.MeetingException, (meeting.id, occ.key))
        skipped = prior is not None and prior.moved_to_local is None
        await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="meeting.skip", target=f"meeting:{number}",
                           before={"occurrence": occ.key, "skipped": skipped}, after={"occurrence": occ.key, "skipped": True}, at=ctx.now())
        await store.set_exception(session, meeting.id, occ.key, None)
        meeting.sequence += 1
        session.add(meeting)
        await session.flush()
        nxt = await schedule_next(session, meeting, ctx.now())
    await wake_next(ctx.services, meeting.id)
    text = _("Skipped: {title} on {when}.").format(title=meeting.title, when=format_datetime(occ.start))
    if nxt is not None:
        text += " " + _("Next: {when}.").format(when=format_datetime(nxt.start))
    await ctx.reply("⏭ " + esc(text))


async def move_cmd(ctx: Context, parsed: tuple[int, str]) -> None:
    number, rest = parsed
    old_text, new_text = split_move(rest)
    if not new_text.strip():
        raise UserError(_("Say the new time, for example: {example}").format(
            example=f"{number} " + _("thu 3.12. at 18")), show_usage=True)
    new_start = parse_when(new_text, ctx.now(), ctx.lang, default_time=None)
    async with ctx.db.transaction() as session:
        meeting = await get_meeting(session, ctx, number)
        occ = await _pick_occurrence(ctx, session, meeting, old_text)
        await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="meeting.move", target=f"meeting:{number}",
                           before={"occurrence": occ.key, "start": occ.start}, after={"occurrence": occ.key, "start": new_start}, at=ctx.now())
        if meeting.rrule:
            await store.set_exception(session, meeting.id, occ.key, to_local(new_start))
        else:
            meeting.dtstart_local = to_local(new_start)
            meeting.first_start = new_start
        meeting.sequence += 1
        session.add(meeting)
        await session.flush()
        await schedule_next(session, meeting, ctx.now())
    await wake_next(ctx.services, meeting.id)
    await ctx.reply("🔀 " + esc(_("Moved: {title} from {old} to {new}.").format(
        title=meeting.title, old=format_datetime(occ.start), new=format_datetime(new_start))))
