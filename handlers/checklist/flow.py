"""Answering a round, one question at a time: start or resume, record an answer, go back, pause;
the free-text answers and the /checklist subcommands of the person answering. Each handler is one
unit of work (read the round and the answers, change them) and then sends what comes next."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from core.events import Button, Kind, Reply
from core.i18n import _, format_number, ngettext
from core.markup import b, esc
from handlers.base import Context, Services, UserError
from handlers.checklist.format import Checklist, Question, from_json
from handlers.checklist.keys import GO
from handlers.checklist.parse import Args
from handlers.checklist.render import render_finish, render_question, round_label, tr, value_text, values_of
from storage import checklist as store

log = logging.getLogger(__name__)

MAX_TEXT_ANSWER = 2000


def _native(chat_key: str) -> str:
    return chat_key.split(":", 1)[1]


async def send(services: Services, chat_key: str, html: str, buttons: tuple[tuple[Button, ...], ...] = (),
                *, key: str | None = None) -> str | None:
    return await services.transport_for(chat_key).send(_native(chat_key), Reply(html=html, buttons=buttons, key=key))


@dataclass(frozen=True)
class _Out:
    """A message put together inside a transaction (it reads the answers), sent after it."""

    chat_key: str
    html: str
    buttons: tuple[tuple[Button, ...], ...] = ()


async def _ask(services: Services, out: _Out | None) -> None:
    """Send what the conversation says next (after the transaction that decided it)."""
    if out is not None:
        await send(services, out.chat_key, out.html, out.buttons)


def _next_question(cl: Checklist, answers: dict[str, store.ChecklistAnswer]) -> Question | None:
    values = values_of(answers)
    return next((q for q in cl.visible(values) if q.id not in answers), None)


async def _question(session, rd, cl, resp) -> _Out:
    """The current question, to send once the transaction is closed."""
    answers = await store.answers_of(session, rd.id, resp.person_key)
    html, buttons = render_question(rd, cl, resp, answers)
    return _Out(resp.answer_chat, html, buttons)


async def _finish_message(session, rd, cl, resp) -> _Out:
    """The thank-you at the end, to send once the transaction is closed."""
    answers = await store.answers_of(session, rd.id, resp.person_key)
    html, buttons = render_finish(rd, cl, resp, answers)
    return _Out(resp.answer_chat, html, buttons)


async def load_round(ctx: Context, session, round_id: int):
    rd = await store.get_round(session, round_id)
    if rd is None:
        raise UserError(_("This self-assessment round no longer exists."))
    if rd.closed_at is not None:
        raise UserError(_("This self-assessment round is closed."))
    return rd, from_json(rd.definition)


async def own_response(ctx: Context, session, rd) -> store.ChecklistResponse:
    resp = await store.response_of(session, rd.id, ctx.sender_key)
    if resp is None:
        raise UserError(_("You have not started this self-assessment yet."))
    return resp


async def _after_change(ctx: Context, session, rd, cl, resp, *, show: bool = True) -> _Out:
    """Advance to the next unanswered question (or finish) and commit; returns what to send next."""
    answers = await store.answers_of(session, rd.id, resp.person_key)
    values = values_of(answers)
    visible_ids = {q.id for q in cl.visible(values)}
    hidden = [qid for qid in answers if qid not in visible_ids]
    if hidden:  # a changed answer turned some conditional questions off
        await store.drop_answers(session, rd.id, resp.person_key, hidden)
        for qid in hidden:
            answers.pop(qid)
    nxt = _next_question(cl, answers)
    now = ctx.now()
    resp.current = nxt.id if nxt else None
    resp.status = "active" if nxt else "done"
    resp.finished_at = None if nxt else now
    resp.updated_at = now
    session.add(resp)
    if nxt is not None:
        return await _question(session, rd, cl, resp)
    return await _finish_message(session, rd, cl, resp)


async def given_by_this_event(ctx: Context, session, rd, person_key: str, qid: str) -> store.ChecklistAnswer | None:
    """The answer to ``qid`` when this very event gave it: the event is handled again after a
    stop cut its handling short (the answer stored, the next question perhaps not sent)."""
    if not (ctx.event.replay and ctx.event.event_key):
        return None
    row = (await store.answers_of(session, rd.id, person_key)).get(qid)
    return row if row is not None and row.event_key == ctx.event.event_key[:255] else None


async def _ask_again(ctx: Context, session, rd, cl, resp) -> _Out | None:
    """What the conversation asked after the change, once more (keyed like the first time, so
    what was delivered then is not sent twice)."""
    if resp.status == "done":
        return await _finish_message(session, rd, cl, resp)
    if resp.status == "active" and resp.current:
        return await _question(session, rd, cl, resp)
    return None


async def record(ctx: Context, round_id: int, qid: str, value: Any, *, skipped: bool = False) -> None:
    async with ctx.db.transaction() as session:
        rd, cl = await load_round(ctx, session, round_id)
        resp = await own_response(ctx, session, rd)
        q = cl.question(qid)
        given = await given_by_this_event(ctx, session, rd, resp.person_key, qid) if q is not None else None
        if given is not None:  # handled before: change nothing, answer the same
            question_html = b(tr(q.text)) + "\n" + esc("✓ " + value_text(q, None if given.skipped else given.data()))
            out = await _ask_again(ctx, session, rd, cl, resp)
        else:
            if q is None or resp.current != qid:
                raise UserError(_("That question is not the current one any more."))
            if skipped and q.required:
                raise UserError(_("This question cannot be skipped."))
            if not skipped and not q.valid_value(value):
                raise UserError(_("That is not a possible answer to this question."))
            await store.put_answer(session, rd.id, resp.person_key, qid, value, ctx.now(), skipped=skipped,
                                   event_key=ctx.event.event_key)
            question_html = b(tr(q.text)) + "\n" + esc("✓ " + value_text(q, None if skipped else value))
            out = await _after_change(ctx, session, rd, cl, resp)
    await _ask(ctx.services, out)
    # No toast: the question is edited to show the answer and the next one follows (on Matrix an
    # acknowledgement would be one more message per answer).
    if ctx.event.kind == Kind.BUTTON:
        if ctx.event.target_id:
            try:
                await ctx.edit(ctx.event.target_id, question_html)
            except Exception:  # the old question may be gone; the answer is stored
                log.debug("could not edit an answered question", exc_info=True)


async def _open_private_hint(ctx: Context) -> None:
    bot = ctx.transport.bot_username
    await ctx.reply(esc(_("{name}, I cannot write to you first. Open a private chat with me "
                          "({bot}), send {start} there and then try again.").format(
        name=ctx.event.sender_name or _("Hello"), bot="@" + bot if bot else _("the bot"), start=ctx.cmd("start"))))


def _answer_chat(ctx: Context, rd: store.ChecklistRound, resp: store.ChecklistResponse | None,
                 private: str | None) -> str | None:
    """Where this person answers; None when that is their private chat and the platform has
    not been asked for it yet (``private``)."""
    if resp is not None and (rd.in_group or resp.answer_chat == ctx.chat_key):
        return resp.answer_chat
    if rd.in_group:
        return rd.chat_key
    if ctx.event.is_private:
        return ctx.chat_key
    return f"{ctx.event.platform}:{private}" if private is not None else None


async def begin(ctx: Context, rd: store.ChecklistRound) -> None:
    """Start or resume this person's answering of a round."""
    private: str | None = None
    while True:  # at most twice: once more after asking the platform for a private chat
        async with ctx.db.transaction() as session:
            rd, cl = await load_round(ctx, session, rd.id)
            resp = await store.response_of(session, rd.id, ctx.sender_key)
            if rd.chat_key != ctx.chat_key and (resp is None or resp.answer_chat != ctx.chat_key):
                # a round is answered from its own chat or where its questions came: another chat's
                # round (its button data sent elsewhere) is not there for anyone
                raise UserError(_("This self-assessment round no longer exists."))
            if resp is not None and resp.status == "done":
                raise UserError(_("You have already answered this self-assessment. Thank you!"))
            answer_chat = _answer_chat(ctx, rd, resp, private)
            if answer_chat is not None:
                now = ctx.now()
                if resp is None:
                    first = cl.visible({})[0]
                    resp = store.ChecklistResponse(round_id=rd.id, person_key=ctx.sender_key,
                                                   person_name=ctx.event.sender_name[:255], answer_chat=answer_chat,
                                                   current=first.id, started_at=now, updated_at=now)
                    intro = tr(cl.intro)
                else:
                    resp.answer_chat = answer_chat
                    intro = ""
                resp.status = "active"
                resp.updated_at = now
                session.add(resp)
                question = await _question(session, rd, cl, resp)
                break
        # the platform call happens outside the transaction; then the unit of work again
        private = await ctx.transport.private_chat(ctx.event.sender_id)
        if private is None:
            await _open_private_hint(ctx)
            return
    try:
        if intro:
            await send(ctx.services, answer_chat, esc(intro))
        await _ask(ctx.services, question)
    except Exception:
        if answer_chat == ctx.chat_key:
            raise
        # e.g. Telegram refuses (403) until the person has opened the private chat
        log.info("could not write to %s in private; asking them to open the chat", ctx.sender_key, exc_info=True)
        await _open_private_hint(ctx)
        return
    if answer_chat != ctx.chat_key:
        text = _("I sent the questions to you in a private chat.")
        if ctx.event.kind == Kind.BUTTON:
            await ctx.acknowledge(text)
        else:
            await ctx.reply(esc(text))


async def back(ctx: Context, round_id: int) -> None:
    async with ctx.db.transaction() as session:
        rd, cl = await load_round(ctx, session, round_id)
        resp = await own_response(ctx, session, rd)
        answers = await store.answers_of(session, rd.id, resp.person_key)
        visible = cl.visible(values_of(answers))
        index = next((i for i, q in enumerate(visible) if q.id == resp.current), len(visible))
        if index == 0:
            raise UserError(_("This is the first question."))
        resp.current = visible[index - 1].id
        resp.status = "active"
        resp.finished_at = None
        resp.updated_at = ctx.now()
        session.add(resp)
        out = await _question(session, rd, cl, resp)
    await _ask(ctx.services, out)


async def stop(ctx: Context, round_id: int) -> None:
    async with ctx.db.transaction() as session:
        rd, cl = await load_round(ctx, session, round_id)
        resp = await own_response(ctx, session, rd)
        if resp.status == "done":
            raise UserError(_("You have already answered this self-assessment. Thank you!"))
        resp.status = "stopped"
        resp.updated_at = ctx.now()
        session.add(resp)
        answers = await store.answers_of(session, rd.id, resp.person_key)
        visible = cl.visible(values_of(answers))
        index = next((i for i, q in enumerate(visible) if q.id == resp.current), 0)
    html = esc(_("Paused at question {number}/{total}. Your answers are saved; continue any time with {command} "
                 "or the button.").format(number=format_number(index + 1), total=format_number(len(visible)),
                                          command=ctx.cmd("checklist")))
    await send(ctx.services, resp.answer_chat, html, ((Button(_("▶ Continue"), GO.data(round=rd.id)),),))


async def on_message(ctx: Context) -> bool:
    text = (ctx.event.text or "").strip()
    if not text:
        return False
    async with ctx.db.session() as session:
        given = None
        if ctx.event.replay and ctx.event.event_key:
            given = await store.answer_by_event(session, ctx.sender_key, ctx.event.event_key)
        waiting = await store.waiting_in_chat(session, ctx.sender_key, ctx.chat_key) if given is None else []
    if given is not None:  # handled before, the next question is waiting now: the same again
        await record(ctx, given.round_id, given.question_id, text)
        return True
    for resp, rd in waiting:
        q = from_json(rd.definition).question(resp.current or "")
        if q is not None and q.type == "text":
            break
    else:
        return False
    if len(text) > MAX_TEXT_ANSWER:
        raise UserError(ngettext("Your answer is too long: {count} character, at most {limit}.",
                                 "Your answer is too long: {count} characters, at most {limit}.", len(text)).format(
            count=format_number(len(text)), limit=format_number(MAX_TEXT_ANSWER)))
    await record(ctx, rd.id, q.id, text)
    return True


async def _current_round(ctx: Context, session) -> store.ChecklistRound:
    """The round a person's /checklist stop|back|skip refers to in this chat."""
    waiting = await store.waiting_in_chat(session, ctx.sender_key, ctx.chat_key)
    if waiting:
        return waiting[0][1]
    unfinished = [(r, rd) for r, rd in await store.unfinished_of_person(session, ctx.sender_key)
                  if r.answer_chat == ctx.chat_key]
    if unfinished:
        return unfinished[0][1]
    raise UserError(_("You have no unfinished self-assessment here."))


async def resume_cmd(ctx: Context, args: Args) -> None:
    async with ctx.db.session() as session:
        if ctx.event.is_private:
            unfinished = await store.unfinished_of_person(session, ctx.sender_key)
            rd = None
            if len(unfinished) == 1:
                rd = unfinished[0][1]
        else:
            rd = await store.open_round(session, ctx.chat_key)
    if ctx.event.is_private and rd is None:
        if not unfinished:
            raise UserError(_("You have no unfinished self-assessment."))
        buttons = tuple((Button(f"{r.area} · {round_label(r)}"[:60], GO.data(round=r.id)),) for _resp, r in unfinished)
        await ctx.reply(esc(_("Which self-assessment do you want to continue?")), buttons)
        return
    if rd is None:
        raise UserError(_("No self-assessment round is open here. Admins start one with {command}.").format(
            command=ctx.cmd("checklist") + " " + _("start")))
    await begin(ctx, rd)


async def stop_cmd(ctx: Context, args: Args) -> None:
    async with ctx.db.session() as session:
        rd = await _current_round(ctx, session)
    await stop(ctx, rd.id)


async def back_cmd(ctx: Context, args: Args) -> None:
    async with ctx.db.session() as session:
        rd = await _current_round(ctx, session)
    await back(ctx, rd.id)


async def skip_cmd(ctx: Context, args: Args) -> None:
    async with ctx.db.session() as session:
        rd = await _current_round(ctx, session)
        resp = await own_response(ctx, session, rd)
    await record(ctx, rd.id, resp.current or "", None, skipped=True)
