"""What an area sees: the profile of its latest round, its rounds over time, and the areas that
share their figures side by side; each as text with a chart."""

from __future__ import annotations

from core.i18n import _
from core.markup import b
from handlers.base import Context, UserError
from handlers.checklist.format import DEFAULT_CHECKLIST, Checklist, from_json
from handlers.checklist.parse import RADAR_WORDS, Args
from handlers.checklist.profile import AnswerRow, Profile, Respondent, compute_profile
from handlers.checklist.render import (
    area_of,
    chart_file,
    profile_html,
    round_label,
    round_labels,
    side_by_side_html,
    tr,
)
from storage import checklist as store
from storage.core import Chat


async def chat_here(ctx: Context, session) -> Chat | None:
    return await session.get(Chat, ctx.chat_key)


async def area_here(ctx: Context, session) -> str:
    return area_of(await chat_here(ctx, session), ctx.chat_key)


async def round_profiles(session, rounds: list[store.ChecklistRound], minimum: int = 1) -> list[Profile]:
    """The rounds' profiles; with ``minimum`` (Services.limits.min_respondents, for what others see)
    a round with fewer respondents shows no figures (Profile.shown)."""
    ids = [r.id for r in rounds]
    answers = await store.round_answers(session, ids)
    responses = await store.round_responses(session, ids)
    result = []
    for rd in rounds:
        cl = from_json(rd.definition)
        rows = [AnswerRow(a.person_key, a.question_id, a.data(), a.skipped) for a in answers if a.round_id == rd.id]
        people = {r.person_key: Respondent(r.person_name, r.show_name, r.status == "done")
                  for r in responses if r.round_id == rd.id}
        result.append(compute_profile(cl, rows, people).shown(minimum))
    return result


async def profile_cmd(ctx: Context, args: Args) -> None:
    radar = any(w.casefold() in RADAR_WORDS for w in args.words)
    async with ctx.db.session() as session:
        area = await area_here(ctx, session)
        rounds = await store.rounds_of_chat(session, ctx.chat_key)
        if not rounds:
            rounds = await store.rounds_of_area(session, area, chat_key=ctx.chat_key)
        if not rounds:
            raise UserError(_("This chat has no self-assessment rounds yet."))
        rd = rounds[-1]
        profile = (await round_profiles(session, [rd], ctx.services.limits.min_respondents))[0]
    cl = from_json(rd.definition)
    await ctx.reply(b(_("Profile: {title}").format(title=tr(cl.title))) + "\n" + profile_html(rd, cl, profile, area))
    if profile.respondents and not profile.withheld:
        await ctx.send_file(chart_file(cl, {round_label(rd): profile}, f"checklist-{rd.id}.png", radar=radar,
                                       title=f"{tr(cl.title)} · {area}"))


async def compare_cmd(ctx: Context, args: Args) -> None:
    radar = any(w.casefold() in RADAR_WORDS for w in args.words)
    async with ctx.db.session() as session:
        area = await area_here(ctx, session)
        rounds = await store.rounds_of_area(session, area, chat_key=ctx.chat_key)
        if not rounds:
            raise UserError(_("This chat has no self-assessment rounds yet."))
        rounds = [r for r in rounds if r.checklist_id == rounds[-1].checklist_id][-6:]
        profiles = await round_profiles(session, rounds, ctx.services.limits.min_respondents)
    await _side_by_side(ctx, from_json(rounds[-1].definition),
                        list(zip(round_labels(rounds), profiles, strict=True)),
                        _("{area} over time").format(area=area), radar, " → ")


async def areas_cmd(ctx: Context, args: Args) -> None:
    radar = any(w.casefold() in RADAR_WORDS for w in args.words)
    async with ctx.db.session() as session:
        area = await area_here(ctx, session)
        if not await store.area_shares(session, area):
            raise UserError(_("Only areas that share their own profile can see other areas'. An admin can turn "
                              "sharing on with {command}.").format(command=ctx.cmd("checklist") + " " + _("share on")))
        own = await store.rounds_of_area(session, area, chat_key=ctx.chat_key)
        checklist_id = own[-1].checklist_id if own else DEFAULT_CHECKLIST
        latest: list[tuple[str, store.ChecklistRound]] = []
        for other in await store.sharing_areas(session):
            rounds = await store.rounds_of_area(session, other, checklist_id,
                                                chat_key=ctx.chat_key if other == area else None)
            if rounds:
                latest.append((other, rounds[-1]))  # shown under the area's name now
        if not latest:
            raise UserError(_("No sharing area has answered this checklist yet."))
        profiles = await round_profiles(session, [r for _a, r in latest], ctx.services.limits.min_respondents)
    await _side_by_side(ctx, from_json(latest[-1][1].definition),
                        [(name, p) for (name, _r), p in zip(latest, profiles, strict=True)], _("Areas side by side"),
                        radar, " | ")


async def _side_by_side(ctx: Context, cl: Checklist, columns: list[tuple[str, Profile]], title: str, radar: bool,
                        sep: str) -> None:
    await ctx.reply(side_by_side_html(cl, columns, title, sep))
    if any(p.respondents and not p.withheld for _n, p in columns):
        await ctx.send_file(chart_file(cl, dict(columns), "checklist-compare.png", radar=radar, title=title))
