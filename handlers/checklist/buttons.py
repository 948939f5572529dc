"""The buttons of the conversation: answer, tick an option, done, skip, back, pause, continue, and
whether written answers carry the person's name. Each reads its data and hands over to the flow."""

from __future__ import annotations

import re
from typing import Any

from core.i18n import _
from handlers.base import Context, UserError
from handlers.checklist.flow import back, begin, given_by_this_event, load_round, own_response, record, stop
from handlers.checklist.render import render_question
from storage import checklist as store

_NUMBER = re.compile(r"^[0-9]{1,9}$")


def _ids(args: list[str], n: int) -> list[str]:
    if len(args) < n or not _NUMBER.match(args[0]):
        raise UserError(_("This button no longer works."))
    return args


async def answer_button(ctx: Context, args: list[str]) -> None:
    rid, qid, raw = _ids(args, 3)[:3]
    value: Any = int(raw) if _NUMBER.match(raw) else raw
    await record(ctx, int(rid), qid, value)


async def toggle_button(ctx: Context, args: list[str]) -> None:
    rid, qid, opt = _ids(args, 3)[:3]
    async with ctx.db.transaction() as session:
        rd, cl = await load_round(ctx, session, int(rid))
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
    rid, qid = _ids(args, 2)[:2]
    async with ctx.db.session() as session:
        rd, cl = await load_round(ctx, session, int(rid))
        answers = await store.answers_of(session, rd.id, ctx.sender_key)
    chosen = answers[qid].data() if qid in answers and isinstance(answers[qid].data(), list) else []
    q = cl.question(qid)
    if not chosen and q is not None and q.required:
        raise UserError(_("Choose at least one option first."))
    await record(ctx, int(rid), qid, chosen, skipped=not chosen)


async def skip_button(ctx: Context, args: list[str]) -> None:
    rid, qid = _ids(args, 2)[:2]
    await record(ctx, int(rid), qid, None, skipped=True)


async def back_button(ctx: Context, args: list[str]) -> None:
    await back(ctx, int(_ids(args, 1)[0]))


async def stop_button(ctx: Context, args: list[str]) -> None:
    await stop(ctx, int(_ids(args, 1)[0]))


async def go_button(ctx: Context, args: list[str]) -> None:
    rid = int(_ids(args, 1)[0])
    async with ctx.db.session() as session:
        rd = await store.get_round(session, rid)
    if rd is None:
        raise UserError(_("This self-assessment round no longer exists."))
    await begin(ctx, rd)


async def name_button(ctx: Context, args: list[str]) -> None:
    rid, flag = _ids(args, 2)[:2]
    async with ctx.db.transaction() as session:
        rd = await store.get_round(session, int(rid))
        if rd is None:
            raise UserError(_("This self-assessment round no longer exists."))
        resp = await own_response(ctx, session, rd)
        resp.show_name = flag == "1"
        session.add(resp)
    await ctx.acknowledge(_("Your name will be shown with your written answers.") if flag == "1"
                          else _("Your written answers are shown without your name."))
