"""The meetings' part of the weekly digest (held and coming up, with answers) and the raw export."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.i18n import _, format_datetime
from core.markup import b, esc
from handlers.base import Services
from handlers.meetings.occurrences import Occurrence, occurrences, upcoming_in_chat, wall
from storage import meetings as store


async def digest(services: Services, chat_key: str, start: datetime, end: datetime) -> dict | None:
    async with services.db.session() as session:
        held = await upcoming_in_chat(session, [chat_key], start - timedelta(seconds=1), end, 100)
        coming = await upcoming_in_chat(session, [chat_key], end - timedelta(seconds=1), end + timedelta(days=14),
                                        100)

        counts = await store.rsvp_counts_of(session, [(o.meeting.id, o.key) for o in (*held, *coming)])

    def facts(o: Occurrence) -> dict:
        return {"number": o.meeting.number, "title": o.meeting.title, "place": o.meeting.place,
                "start": o.start.isoformat(), "recurring": bool(o.meeting.rrule), **counts[o.meeting.id, o.key]}

    data = {"held": [facts(o) for o in held], "coming": [facts(o) for o in coming]}
    return data if data["held"] or data["coming"] else None


def render_digest(data: dict) -> list[str]:
    lines = ["📅 " + b(_("Meetings"))]
    for section, label in (("held", _("Held:")), ("coming", _("Coming up:"))):
        items = data.get(section) or []
        if not items:
            continue
        lines.append(esc(label))
        for item in items:
            when = format_datetime(datetime.fromisoformat(item["start"]))
            lines.append(f"• #{item['number']} {esc(when)} — {esc(item['title'])} · ✅ {item['yes']} ❌ {item['no']} "
                         f"🤔 {item['maybe']}")
    return lines


async def export_meetings(services: Services, chat_keys: list[str] | None, public: bool) -> list[dict]:
    now = services.clock.now()
    rows = []
    async with services.db.session() as session:
        meetings = await store.active_meetings(session, chat_keys, include_cancelled=True)
        exc = await store.exceptions_of(session, [m.id for m in meetings])
        for m in meetings:
            nxt = occurrences(m, exc[m.id], now, 1) if m.cancelled_at is None else []
            row = {
                "chat": m.chat_key, "number": m.number, "uid": m.uid, "title": m.title, "place": m.place,
                "first_start": wall(m.dtstart_local).isoformat(), "rrule": m.rrule,
                "skipped": sorted(k for k, v in exc[m.id].items() if v is None),
                "moved": {k: v for k, v in exc[m.id].items() if v},
                "cancelled": m.cancelled_at is not None,
                "next_start": nxt[0].start.isoformat() if nxt else None,
            }
            if nxt:
                row.update(await store.rsvp_counts(session, m.id, nxt[0].key))
            if not public:
                row["created_by"] = m.created_by_name or m.created_by
                row["rsvps"] = [{"occurrence": r.occurrence_local, "person": r.person_name or r.person_key,
                                 "answer": r.answer} for r in
                                (await store.rsvps(session, m.id, nxt[0].key) if nxt else [])]
            rows.append(row)
    return rows
