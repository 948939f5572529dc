"""The checklist in the weekly digest and in the exports: rounds and their answering per period,
aggregate rows per dimension (no personal data) for everyone, raw answers for coordinators."""

from __future__ import annotations

import json
from datetime import datetime

from core.events import FileOut
from core.i18n import _, format_date, format_datetime, format_number, ngettext
from core.markup import b, esc
from handlers.base import Context, Services, UserError
from handlers.checklist.format import from_json
from handlers.checklist.parse import Args
from handlers.checklist.profile import Profile
from handlers.checklist.render import area_of, tr
from handlers.checklist.views import area_here, round_profiles
from storage import checklist as store
from storage import exports
from storage.core import Chat


def profile_rows(rd: store.ChecklistRound, profile: Profile, area: str | None = None) -> list[dict]:
    """Aggregate rows, one per dimension: no personal data. ``area``: the area the round's chat is
    in now (default: the one it was started in)."""
    rows = []
    for s in profile.dimensions:
        rows.append({
            "round": rd.id, "chat": rd.chat_key, "area": area or rd.area, "checklist": rd.checklist_id,
            "version": rd.checklist_version, "started_at": rd.started_at.isoformat(),
            "closed_at": rd.closed_at.isoformat() if rd.closed_at else None, "dimension": s.id,
            "round_respondents": profile.respondents, "respondents": s.respondents, "answers": s.answers,
            "scale_n": s.scale_n, "mean": None if s.mean is None else round(s.mean, 3),
            "spread": None if s.spread is None else round(s.spread, 3),
            "yes_n": s.yes_n, "yes_share": None if s.yes_share is None else round(s.yes_share, 3),
        })
    return rows


async def export_cmd(ctx: Context, args: Args) -> None:
    fmt = (args.words[0].casefold() if args.words else "csv")
    if fmt not in ("csv", "json"):
        raise UserError(_("Choose csv or json."), show_usage=True)
    async with ctx.db.session() as session:
        area = await area_here(ctx, session)
        rounds = await store.rounds_of_area(session, area, chat_key=ctx.chat_key)
        if not rounds:
            raise UserError(_("This chat has no self-assessment rounds yet."))
        profiles = await round_profiles(session, rounds, ctx.services.limits.min_respondents)
    rows = [row for rd, p in zip(rounds, profiles, strict=True) for row in profile_rows(rd, p, area)]
    if fmt == "json":
        data = {"area": area, "rounds": [
            {"round": rd.id, "checklist": rd.checklist_id, "version": rd.checklist_version,
             "started_at": rd.started_at.isoformat(), "closed_at": rd.closed_at.isoformat() if rd.closed_at else None,
             "respondents": p.respondents, "finished": p.finished,
             "dimensions": [r for r in rows if r["round"] == rd.id], "choices": p.choices,
             "texts": [{"question": q, "text": t, **({"name": n} if n else {})} for q, t, n in p.texts]}
            for rd, p in zip(rounds, profiles, strict=True)]}
        payload = json.dumps(data, ensure_ascii=False, indent=2).encode()
        file = FileOut("checklist.json", payload, "application/json")
    else:
        # the same CSV as every export: BOM, formula guard, Helsinki times, the separator of the language
        data = exports.to_csv(rows, list(rows[0]) if rows else ["round"], exports.separator_for(ctx.lang))
        file = FileOut("checklist.csv", data, "text/csv")
    await ctx.send_file(file)


async def export_records(services: Services, chats: list[str] | None, public: bool) -> list[dict]:
    async with services.db.session() as session:
        rounds = await store.rounds_for_chats(session, chats)
        # each round under the area its chat is in now, as the exports group them
        chats = {key: await session.get(Chat, key) for key in {r.chat_key for r in rounds}}
        areas = {key: area_of(chat, key) if chat is not None else None for key, chat in chats.items()}
        if public:  # open data: a round with too few respondents has no figures in it
            profiles = await round_profiles(session, rounds, services.limits.min_respondents)
            return [row for rd, p in zip(rounds, profiles, strict=True)
                    for row in profile_rows(rd, p, areas[rd.chat_key])]
        answers = await store.round_answers(session, [r.id for r in rounds])
    by_id = {r.id: r for r in rounds}
    rows = []
    for a in answers:
        rd = by_id[a.round_id]
        q = from_json(rd.definition).question(a.question_id)
        rows.append({"round": rd.id, "chat": rd.chat_key, "area": areas[rd.chat_key] or rd.area, "person": a.person_key,
                     "dimension": q.dimension if q else None, "question": a.question_id,
                     "value": a.data(), "skipped": a.skipped, "answered_at": a.answered_at.isoformat()})
    return rows


async def digest(services: Services, chat_key: str, start: datetime, end: datetime) -> dict | None:
    async with services.db.session() as session:
        rounds = [r for r in await store.rounds_of_chat(session, chat_key)
                  if r.started_at < end and (r.closed_at is None or r.closed_at >= start)]
        if not rounds:
            return None
        responses = await store.round_responses(session, [r.id for r in rounds])
        answers = await store.round_answers(session, [r.id for r in rounds])
    items = []
    for rd in rounds:
        cl = from_json(rd.definition)
        mine = [r for r in responses if r.round_id == rd.id]
        items.append({
            "round": rd.id, "title": cl.title, "area": rd.area, "started_at": rd.started_at.isoformat(),
            "started": sum(1 for r in mine), "finished": sum(1 for r in mine if r.status == "done"),
            "answers_in_period": sum(1 for a in answers if a.round_id == rd.id and start <= a.answered_at < end),
            "closes_at": rd.closes_at.isoformat() if rd.closes_at else None,
            "closed_at": rd.closed_at.isoformat() if rd.closed_at else None,
        })
    return {"rounds": items}


def render_digest(data: dict) -> list[str]:
    rounds = data.get("rounds", [])
    lines = ["📋 " + b(_("Self-assessment"))] if rounds else []
    titles = [tr(item["title"]) for item in rounds]
    days = [(tr(item["title"]), format_date(datetime.fromisoformat(item["started_at"])) if item.get("started_at")
             else None) for item in rounds]
    for item, day in zip(rounds, days, strict=True):
        state = (_("closed {when}").format(when=format_datetime(datetime.fromisoformat(item["closed_at"])))
                 if item.get("closed_at") else
                 _("closes {when}").format(when=format_datetime(datetime.fromisoformat(item["closes_at"])))
                 if item.get("closes_at") else _("open"))
        label = tr(item["title"])
        if titles.count(label) > 1:  # two rounds of one checklist: told apart by their start
            if day[1] is None:
                label = _("{title}, round {number}").format(title=label, number=item["round"])
            else:  # two started on one day: by the time too
                started = datetime.fromisoformat(item["started_at"])
                label = _("{title}, round of {date}").format(
                    title=label, date=day[1] if days.count(day) == 1 else format_datetime(started))
        answers = item["answers_in_period"]
        lines.append("• " + b(label) + " " + esc(ngettext(
            "({state}): {started} started, {finished} finished, {answers} answer this week",
            "({state}): {started} started, {finished} finished, {answers} answers this week", answers).format(
            state=state, started=format_number(item["started"]), finished=format_number(item["finished"]),
            answers=format_number(answers))))
    return lines
