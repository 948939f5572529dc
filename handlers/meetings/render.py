"""What the meeting messages say: a meeting's lines, its card, the RSVP buttons and counts, a
reminder, reminder times in words, the settings. Pure functions in the current language: no
store, no transport."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from core.events import Button
from core.i18n import N_, _, format_datetime, format_number, format_time, ngettext
from core.markup import b, esc
from handlers.meetings.keys import RSVP
from handlers.meetings.occurrences import Occurrence
from handlers.meetings.recurrence import describe_rrule
from handlers.when import clock_face
from storage import meetings as store

ANSWER_LABELS = {"yes": N_("Coming"), "no": N_("Not coming"), "maybe": N_("Maybe")}

ANSWER_EMOJI = {"yes": "✅", "no": "❌", "maybe": "🤔"}


def counts_line(counts: dict[str, int]) -> str:
    return _("Coming: {yes} · Not coming: {no} · Maybe: {maybe}").format(
        **{answer: format_number(n) for answer, n in counts.items()})


def rsvp_buttons(meeting_id: int) -> tuple[tuple[Button, ...], ...]:
    return (tuple(Button(f"{ANSWER_EMOJI[a]} {_(ANSWER_LABELS[a])}", RSVP.data(meeting=meeting_id, answer=a))
                  for a in store.ANSWERS),)


def in_words(delta: timedelta) -> str:
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes >= 1440 and minutes % 1440 == 0 or minutes >= 2880:
        days = round(minutes / 1440)
        return ngettext("in {count} day", "in {count} days", days).format(count=format_number(days))
    if minutes >= 60:
        hours = round(minutes / 60)
        return ngettext("in {count} hour", "in {count} hours", hours).format(count=format_number(hours))
    return ngettext("in {count} minute", "in {count} minutes", minutes).format(count=format_number(minutes))


def offsets_text(offsets: list[int]) -> str:
    parts = []
    for m in offsets:
        if m % 1440 == 0:
            parts.append(ngettext("{count} day", "{count} days", m // 1440).format(count=format_number(m // 1440)))
        elif m % 60 == 0:
            parts.append(ngettext("{count} hour", "{count} hours", m // 60).format(count=format_number(m // 60)))
        else:
            parts.append(ngettext("{count} minute", "{count} minutes", m).format(count=format_number(m)))
    return ", ".join(parts)


def meeting_lines(meeting: store.Meeting, occ: Occurrence | None) -> list[str]:
    lines = ["📅 " + b(_("Meeting #{number}: {title}").format(number=meeting.number, title=meeting.title))]
    if occ is not None:
        when = esc(format_datetime(occ.start) + "–" + format_time(occ.end))
        lines.append("🕕 " + (when + " " + esc(_("(moved)")) if occ.moved else when))
    if meeting.place:
        lines.append("📍 " + esc(meeting.place))
    if meeting.rrule:
        lines.append("🔁 " + esc(describe_rrule(meeting.rrule)))
    return lines


def card_html(meeting: store.Meeting, occ: Occurrence, counts: dict[str, int]) -> str:
    lines = meeting_lines(meeting, occ)
    lines.append(esc(counts_line(counts)))
    lines.append(esc(_("Will you come? Answer with the buttons or react 👍 / 👎 / 🤔.")))
    return "\n".join(lines)


def answer_text(answer: str, meeting: store.Meeting, occ: Occurrence) -> str:
    texts = {
        "yes": _("You are coming to {title} on {when}."),
        "no": _("You are not coming to {title} on {when}."),
        "maybe": _("You might come to {title} on {when}."),
    }
    return texts[answer].format(title=meeting.title, when=format_datetime(occ.start))


def reminder_html(meeting: store.Meeting, start: datetime, now: datetime, late: bool, counts: dict[str, int]) -> str:
    head = _("Late reminder: {title}") if late else _("Reminder: {title}")
    lines = ["⏰ " + b(head.format(title=meeting.title))]
    lines.append("🕕 " + esc(f"{format_datetime(start)} ({in_words(start - now)})"))
    if meeting.place:
        lines.append("📍 " + esc(meeting.place))
    if late:
        lines.append(esc(_("(sent late: I was offline when this reminder was due)")))
    lines.append(esc(counts_line(counts)))
    lines.append(esc(_("Will you come? Answer with the buttons or react 👍 / 👎 / 🤔.")))
    return "\n".join(lines)


def settings_html(offsets: list[int], quiet: tuple[int, int] | None) -> str:
    lines = [b(_("Meeting settings"))]
    lines.append(esc(_("Reminders: {offsets} before.").format(offsets=offsets_text(offsets))
                     if offsets else _("Reminders: off.")))
    lines.append(esc(_("Quiet hours for day-before reminders: {start}–{end}.").format(
        start=clock_face(time(quiet[0])), end=clock_face(time(quiet[1]))) if quiet
        else _("Quiet hours: off.")))
    return "\n".join(lines)
