"""The buttons of the conversation: answer, tick an option, done, skip, back, pause, continue, and
whether written answers carry the person's name. Each reads its data and hands over to the flow."""

from __future__ import annotations

import re
from typing import Any

from core.i18n import _
from handlers.base import Context, UserError
from handlers.checklist.flow import back, begin, given_by_this_event, load_round, own_response, record, stop
from handlers.checklist.keys import ANSWER, BACK, DONE, GO, NAME, SKIP, STOP, TOGGLE
from handlers.checklist.render import render_question
from storage import checklist as store

_NUMBER = re.compile(r"^[0-9]{1,9}$")


async def answer_button(ctx: Context, args: list[str]) -> None:
    data = ANSWER.read(args)
    raw = data["value"]
    value: Any = int(raw) if _NUMBER.match(raw) else raw  # a point on the scale, else yes/no or an option
    await record(ctx, data["round"], data["question"], value)


async def toggle_button(ctx: Context, args: list[str]) -> None:
    data = TOGGLE.read(args)
    qid, opt = data["question"], data["option"]
    async with ctx.db.transaction() as session:
        rd, cl = await load_round(ctx, session, data["round"])
        resp = await own_response(ctx, session, rd)
        q = cl.question(qid)
        if await given_by_this_event(ctx, session, rd, resp.person_key, qid) is not None:
            if resp.current != qid:
                return  # the conversation moved on meanwhile: nothing to show again
        else:
            if q is None or resp.current != qid or q.type != "multi" or q.option(opt) is None:
                raise UserError(_("That question is not the current one any more."))
            answers = await store.answers_of(session, rd.id, resp.person_key)
            chosen = answers[qid].data() if qid in answers and isinstance(answers[qid].data(), list) else []
            chosen = [o.id for o in q.options if (o.id in chosen) != (o.id == opt)]
            await store.put_answer(session, rd.id, resp.person_key, qid, chosen, ctx.now(),
                                   event_key=ctx.event.event_key)  # toggled again it would undo itself
            resp.updated_at = ctx.now()
            session.add(resp)
        answers = await store.answers_of(session, rd.id, resp.person_key)
        html, buttons = render_question(rd, cl, resp, answers)
    if ctx.event.target_id:
        await ctx.edit(ctx.event.target_id, html, buttons)


async def done_button(ctx: Context, args: list[str]) -> None:
    data = DONE.read(args)
    rid, qid = data["round"], data["question"]
    async with ctx.db.session() as session:
        rd, cl = await load_round(ctx, session, rid)
        answers = await store.answers_of(session, rd.id, ctx.sender_key)
    chosen = answers[qid].data() if qid in answers and isinstance(answers[qid].data(), list) else []
    q = cl.question(qid)
    if not chosen and q is not None and q.required:
        raise UserError(_("Choose at least one option first."))
    await record(ctx, rid, qid, chosen, skipped=not chosen)


async def skip_button(ctx: Context, args: list[str]) -> None:
    data = SKIP.read(args)
    await record(ctx, data["round"], data["question"], None, skipped=True)


async def back_button(ctx: Context, args: list[str]) -> None:
    await back(ctx, BACK.read(args)["round"])


async def stop_button(ctx: Context, args: list[str]) -> None:
    await stop(ctx, STOP.read(args)["round"])


async def go_button(ctx: Context, args: list[str]) -> None:
    rid = GO.read(args)["round"]
    async with ctx.db.session() as session:
        rd = await store.get_round(session, rid)
    if rd is None:
        raise UserError(_("This self-assessment round no longer exists."))
    await begin(ctx, rd)


async def name_button(ctx: Context, args: list[str]) -> None:
    data = NAME.read(args)
    show = data["show"] == 1
    async with ctx.db.transaction() as session:
        rd = await store.get_round(session, data["round"])
        if rd is None:
            raise UserError(_("This self-assessment round no longer exists."))
        resp = await own_response(ctx, session, rd)
        resp.show_name = show
        session.add(resp)
    await ctx.acknowledge(_("Your name will be shown with your written answers.") if show
                          else _("Your written answers are shown without your name."))
