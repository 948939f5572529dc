"""Self-assessment: an admin starts a round, members answer one question at a time (private chat
or the group), the area sees its profile per dimension, over time and beside sharing areas."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from core.events import Button, FileOut, Kind, Reply, Role
from core.i18n import (
    N_,
    _,
    current_language,
    format_date,
    format_datetime,
    format_number,
    format_percent,
    ngettext,
)
from core.markup import b, esc
from core.scope import send_scope
from handlers.base import Command, Context, Feature, Services, Subcommand, UserError
from handlers.checklist.format import NO, YES, Checklist, Question, directories, from_json, load_all, text_in
from handlers.checklist.profile import AnswerRow, Profile, Respondent, compute_profile
from storage import checklist as store
from storage import exports
from storage.core import Chat, Job, cancel_jobs, languages_for, schedule_job, set_chat_setting

log = logging.getLogger(__name__)

DEFAULT_CHECKLIST = "kehra"
MAX_TEXT_ANSWER = 2000
REMIND_AFTER = timedelta(days=1)
TEXTS_SHOWN = 30  # free-text answers listed in a chat profile

CLOSES_WORDS = ("closes", "until", "sulkeutuu", "asti", "päättyy", "paattyy", "stängs", "stangs", "till")
ON_WORDS = ("on", "yes", "kyllä", "kylla", "joo", "päälle", "paalle", "ja", "på")
OFF_WORDS = ("off", "no", "ei", "pois", "nej", "av")
GROUP_WORDS = ("group", "ryhmä", "ryhma", "ryhmässä", "ryhmassa", "grupp", "gruppen")
PRIVATE_WORDS = ("private", "yksityinen", "yksityisesti", "privat", "privat_chatt")
RADAR_WORDS = ("radar", "tutka", "verkko", "spindel")


# --- parsing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Args:
    action: str
    words: tuple[str, ...] = ()
    raw: str = ""


def args_for(action: str) -> Callable[[str], Args]:
    """The parser of subcommand ``action``: the words after it."""
    def parse(rest: str) -> Args:
        return Args(action, tuple(rest.split()), rest.strip())
    return parse


_NUMBER = re.compile(r"^[0-9]{1,9}$")
_REL = re.compile(r"^(\d{1,3})\s*(d|pv|päivä|päivää|paiva|paivaa|dag|dagar|day|days|"
                  r"w|vk|viikko|viikkoa|vecka|veckor|week|weeks|h|t|tunti|tuntia|timme|timmar|hour|hours)$")


def parse_when(text: str, now: datetime) -> datetime:
    """Compact offsets ("7d", "2 vk", "12h", "7 dagar"), else the shared fi/sv/en parser
    (handlers/when.py: "1.12.", "ensi perjantaina", "2026-12-01 18:00"); a date alone means 23:59."""
    from handlers import when

    m = _REL.match(" ".join(text.casefold().split()))
    if m:
        n, unit = int(m[1]), m[2]
        if unit[0] in "wv":
            return now + timedelta(weeks=n)
        if unit[0] in "htk" or unit.startswith("ti"):
            return now + timedelta(hours=n)
        return now + timedelta(days=n)
    return when.parse_when(text, now, current_language(), default_time=time(23, 59))


def parse_start(words: tuple[str, ...], now: datetime) -> tuple[str | None, datetime | None]:
    name, closes = None, None
    words = list(words)
    for i, word in enumerate(words):
        if word.casefold() in CLOSES_WORDS:
            closes = parse_when(" ".join(words[i + 1:]), now) if words[i + 1:] else None
            if closes is None:
                raise UserError(_("Write the closing time after the word {word}.").format(word=word))
            words = words[:i]
            break
    if words:
        name = words[0].casefold()
    if closes is not None and closes <= now:
        raise UserError(_("The closing time must be in the future."))
    return name, closes


# --- small helpers -------------------------------------------------------------------------------


def tr(texts: dict[str, str] | None) -> str:
    return text_in(texts, current_language())


def area_of(chat: Chat | None, chat_key: str) -> str:
    if chat is not None and chat.area:
        return chat.area
    if chat is not None and chat.title:
        return chat.title[:100]
    return chat_key[:100]


def value_text(q: Question, value: Any) -> str:
    if value is None:
        return _("skipped")
    if q.type == "yesno":
        return _("yes") if value == YES else _("no")
    if q.type == "single":
        opt = q.option(value)
        return tr(opt.text) if opt else str(value)
    if q.type == "multi":
        return ", ".join(tr(o.text) for o in q.options if o.id in value) or _("nothing chosen")
    return str(value)


def _num(x: float | None) -> str:
    return "–" if x is None else format_number(x, 1)


def _native(chat_key: str) -> str:
    return chat_key.split(":", 1)[1]


def _values(answers: dict[str, store.ChecklistAnswer]) -> dict[str, Any]:
    return {qid: a.data() for qid, a in answers.items()}


def _next_question(cl: Checklist, answers: dict[str, store.ChecklistAnswer]) -> Question | None:
    values = _values(answers)
    return next((q for q in cl.visible(values) if q.id not in answers), None)


def _round_label(rd: store.ChecklistRound) -> str:
    return format_date(rd.started_at)


def _round_labels(rounds: list[store.ChecklistRound]) -> list[str]:
    """One label per round, each its own: the start date, with the time where two rounds started
    on one day, and the round's number where they started in the same minute."""
    labels = [_round_label(r) for r in rounds]
    labels = [format_datetime(r.started_at) if labels.count(label) > 1 else label
              for r, label in zip(rounds, labels, strict=True)]
    return [_("{title}, round {number}").format(title=label, number=r.id) if labels.count(label) > 1 else label
            for r, label in zip(rounds, labels, strict=True)]


async def _send(services: Services, chat_key: str, html: str, buttons: tuple[tuple[Button, ...], ...] = (),
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
        await _send(services, out.chat_key, out.html, out.buttons)


# --- asking ----------------------------------------------------------------------------------------


def render_question(rd: store.ChecklistRound, cl: Checklist, resp: store.ChecklistResponse,
                    answers: dict[str, store.ChecklistAnswer]) -> tuple[str, tuple[tuple[Button, ...], ...]]:
    q = cl.question(resp.current or "")
    assert q is not None
    visible = cl.visible(_values(answers))
    index = next((i for i, v in enumerate(visible) if v.id == q.id), 0)
    dim = cl.dimension(q.dimension)
    rid = rd.id
    lines = []
    if rd.in_group and resp.person_name:
        lines.append(esc(resp.person_name) + ":")
    lines.append(b(tr(cl.title)) + " · " + esc(tr(dim.title if dim else None)))
    lines.append(esc(_("Question {number}/{total}").format(number=format_number(index + 1),
                                                            total=format_number(len(visible)))))
    lines.append("")
    lines.append(b(tr(q.text)))
    rows: list[tuple[Button, ...]] = []
    prev = answers.get(q.id)
    if q.type == "scale":
        lines.append(esc(_("1 = {low} … 5 = {high}").format(low=tr(q.low), high=tr(q.high))))
        rows.append(tuple(Button(str(v), f"checklist:a:{rid}:{q.id}:{v}") for v in range(1, 6)))
    elif q.type == "yesno":
        rows.append((Button(_("Yes"), f"checklist:a:{rid}:{q.id}:{YES}"), Button(_("No"), f"checklist:a:{rid}:{q.id}:{NO}")))
    elif q.type == "single":
        rows.extend((Button(tr(o.text), f"checklist:a:{rid}:{q.id}:{o.id}"),) for o in q.options)
    elif q.type == "multi":
        chosen = prev.data() if prev is not None and isinstance(prev.data(), list) else []
        lines.append(esc(_("Choose all that apply, then press Done.")))
        rows.extend((Button(("☑ " if o.id in chosen else "☐ ") + tr(o.text), f"checklist:t:{rid}:{q.id}:{o.id}"),)
                    for o in q.options)
        rows.append((Button(_("Done ✓"), f"checklist:d:{rid}:{q.id}"),))
    else:
        lines.append(esc(_("Write your answer as a message in this chat.")))
    if not q.required:
        lines.append(esc(_("(optional)")))
    if prev is not None and q.type != "multi":
        lines.append(esc(_("Your earlier answer: {answer}").format(answer=value_text(q, prev.data()))))
    nav = []
    if index > 0:
        nav.append(Button(_("◀ Back"), f"checklist:back:{rid}"))
    if not q.required:
        nav.append(Button(_("Skip ▶"), f"checklist:skip:{rid}:{q.id}"))
    nav.append(Button(_("⏸ Pause"), f"checklist:stop:{rid}"))
    rows.append(tuple(nav))
    return "\n".join(lines), tuple(rows)


async def _question(session, rd, cl, resp) -> _Out:
    """The current question, to send once the transaction is closed."""
    answers = await store.answers_of(session, rd.id, resp.person_key)
    html, buttons = render_question(rd, cl, resp, answers)
    return _Out(resp.answer_chat, html, buttons)


async def _finish_message(session, rd, cl, resp) -> _Out:
    """The thank-you at the end, to send once the transaction is closed."""
    answers = await store.answers_of(session, rd.id, resp.person_key)
    answered = sum(1 for a in answers.values() if not a.skipped)
    skipped = len(answers) - answered
    lines = [b(_("Thank you! Your self-assessment is complete.")),
             esc(ngettext("You answered {count} question", "You answered {count} questions", answered).format(
                 count=format_number(answered))
                 + (" " + ngettext("and skipped {count}.", "and skipped {count}.", skipped).format(
                     count=format_number(skipped))
                    if skipped else "."))]
    buttons: list[tuple[Button, ...]] = [(Button(_("◀ Change the last answer"), f"checklist:back:{rd.id}"),)]
    has_text = any(not a.skipped and (q := cl.question(qid)) is not None and q.type == "text"
                   for qid, a in answers.items())
    if has_text:
        if resp.show_name:
            lines.append(esc(_("Your written answers are shown with your name.")))
            buttons.append((Button(_("Hide my name"), f"checklist:name:{rd.id}:0"),))
        else:
            lines.append(esc(_("Your written answers are shown without your name.")))
            buttons.append((Button(_("Show my name with them"), f"checklist:name:{rd.id}:1"),))
    return _Out(resp.answer_chat, "\n".join(lines), tuple(buttons))


async def _load(ctx: Context, session, round_id: int):
    rd = await store.get_round(session, round_id)
    if rd is None:
        raise UserError(_("This self-assessment round no longer exists."))
    if rd.closed_at is not None:
        raise UserError(_("This self-assessment round is closed."))
    return rd, from_json(rd.definition)


async def _own_response(ctx: Context, session, rd) -> store.ChecklistResponse:
    resp = await store.response_of(session, rd.id, ctx.sender_key)
    if resp is None:
        raise UserError(_("You have not started this self-assessment yet."))
    return resp


async def _after_change(ctx: Context, session, rd, cl, resp, *, show: bool = True) -> _Out:
    """Advance to the next unanswered question (or finish) and commit; returns what to send next."""
    answers = await store.answers_of(session, rd.id, resp.person_key)
    values = _values(answers)
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


async def _given_by_this_event(ctx: Context, session, rd, person_key: str, qid: str) -> store.ChecklistAnswer | None:
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
        rd, cl = await _load(ctx, session, round_id)
        resp = await _own_response(ctx, session, rd)
        q = cl.question(qid)
        given = await _given_by_this_event(ctx, session, rd, resp.person_key, qid) if q is not None else None
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
            rd, cl = await _load(ctx, session, rd.id)
            resp = await store.response_of(session, rd.id, ctx.sender_key)
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
            await _send(ctx.services, answer_chat, esc(intro))
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


# --- buttons -----------------------------------------------------------------------------------


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
        rd, cl = await _load(ctx, session, int(rid))
        resp = await _own_response(ctx, session, rd)
        q = cl.question(qid)
        if await _given_by_this_event(ctx, session, rd, resp.person_key, qid) is not None:
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
        rd, cl = await _load(ctx, session, int(rid))
        answers = await store.answers_of(session, rd.id, ctx.sender_key)
    chosen = answers[qid].data() if qid in answers and isinstance(answers[qid].data(), list) else []
    q = cl.question(qid)
    if not chosen and q is not None and q.required:
        raise UserError(_("Choose at least one option first."))
    await record(ctx, int(rid), qid, chosen, skipped=not chosen)


async def skip_button(ctx: Context, args: list[str]) -> None:
    rid, qid = _ids(args, 2)[:2]
    await record(ctx, int(rid), qid, None, skipped=True)


async def back(ctx: Context, round_id: int) -> None:
    async with ctx.db.transaction() as session:
        rd, cl = await _load(ctx, session, round_id)
        resp = await _own_response(ctx, session, rd)
        answers = await store.answers_of(session, rd.id, resp.person_key)
        visible = cl.visible(_values(answers))
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
        rd, cl = await _load(ctx, session, round_id)
        resp = await _own_response(ctx, session, rd)
        if resp.status == "done":
            raise UserError(_("You have already answered this self-assessment. Thank you!"))
        resp.status = "stopped"
        resp.updated_at = ctx.now()
        session.add(resp)
        answers = await store.answers_of(session, rd.id, resp.person_key)
        visible = cl.visible(_values(answers))
        index = next((i for i, q in enumerate(visible) if q.id == resp.current), 0)
    html = esc(_("Paused at question {number}/{total}. Your answers are saved; continue any time with {command} "
                 "or the button.").format(number=format_number(index + 1), total=format_number(len(visible)),
                                          command=ctx.cmd("checklist")))
    await _send(ctx.services, resp.answer_chat, html, ((Button(_("▶ Continue"), f"checklist:go:{rd.id}"),),))


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
        resp = await _own_response(ctx, session, rd)
        resp.show_name = flag == "1"
        session.add(resp)
    await ctx.acknowledge(_("Your name will be shown with your written answers.") if flag == "1"
                          else _("Your written answers are shown without your name."))


# --- free text -----------------------------------------------------------------------------------


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


# --- the command -----------------------------------------------------------------------------------


async def _chat(ctx: Context, session) -> Chat | None:
    return await session.get(Chat, ctx.chat_key)


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


async def list_cmd(ctx: Context, args: Args) -> None:
    found = await asyncio.to_thread(load_all, directories(ctx.services.data_dir))
    lines = [b(_("Checklists:"))]
    for cid, cl in sorted(found.items()):
        lines.append(esc(ngettext("{id}: {title} ({count} question)", "{id}: {title} ({count} questions)",
                                  len(cl.questions)).format(id=cid, title=tr(cl.title),
                                                            count=format_number(len(cl.questions)))))
    await ctx.reply("\n".join(lines))


async def start_round(ctx: Context, args: Args) -> None:
    if ctx.event.is_private:
        raise UserError(_("Start a self-assessment round in the group chat of your area."))
    name, closes = parse_start(args.words, ctx.now())
    found = await asyncio.to_thread(load_all, directories(ctx.services.data_dir))
    cl = found.get(name or DEFAULT_CHECKLIST)
    if cl is None:
        raise UserError(_("There is no checklist called {name}. Available: {names}.").format(
            name=name, names=", ".join(sorted(found)) or "–"))
    async with ctx.db.transaction() as session:
        rd = await store.open_round(session, ctx.chat_key)
        if rd is not None and not (ctx.event.replay and rd.started_by == ctx.sender_key):
            raise UserError(_("A self-assessment round is already open here. Close it first with {command}.")
                            .format(command=ctx.cmd("checklist") + " " + _("close")))
        if rd is not None:
            # this very start handled again (cut short by a stop): its round, answered as the first time
            cl, closes, remind_at = from_json(rd.definition), rd.closes_at, None
        else:
            chat = await _chat(ctx, session)
            now = ctx.now()
            rd = store.ChecklistRound(
                chat_key=ctx.chat_key, area=area_of(chat, ctx.chat_key), checklist_id=cl.id,
                checklist_version=cl.version, definition=cl.to_json(), started_by=ctx.sender_key, started_at=now,
                closes_at=closes, in_group=bool(chat and chat.setting("checklist.in_group", False)))
            session.add(rd)
            await session.flush()
            if closes is not None:
                await schedule_job(session, "checklist.close", closes, chat_key=ctx.chat_key,
                                   payload={"round": rd.id}, dedup_key=f"checklist.close:{rd.id}")
            remind_at = now + REMIND_AFTER
            await schedule_job(session, "checklist.remind", remind_at, chat_key=ctx.chat_key,
                               payload={"round": rd.id},
                               dedup_key=f"checklist.remind:{rd.id}:{remind_at.date().isoformat()}")
    if closes is not None:
        ctx.services.wake(closes)
    if remind_at is not None:
        ctx.services.wake(remind_at)
    count = len(cl.visible({}))
    lines = [b(_("Self-assessment started: {title}").format(title=tr(cl.title))),
             esc(_("Area: {area}").format(area=rd.area)),
             esc(ngettext("{count} question, one at a time. Stop whenever you like and continue later.",
                          "{count} questions, one at a time. Stop whenever you like and continue later.", count)
                 .format(count=format_number(count)))]
    if closes is not None:
        lines.append(esc(_("Closes {when}.").format(when=format_datetime(closes))))
    lines.append(esc(_("Press the button to answer in the group.") if rd.in_group
                     else _("Press the button and I will ask you the questions in a private chat.")))
    await ctx.reply("\n".join(lines), ((Button(_("✍ Answer"), f"checklist:go:{rd.id}"),),))


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
        buttons = tuple((Button(f"{r.area} · {_round_label(r)}"[:60], f"checklist:go:{r.id}"),) for _resp, r in unfinished)
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
        resp = await _own_response(ctx, session, rd)
    await record(ctx, rd.id, resp.current or "", None, skipped=True)


async def close_cmd(ctx: Context, args: Args) -> None:
    async with ctx.db.session() as session:
        rd = await store.open_round(session, ctx.chat_key)
        if rd is None and ctx.event.replay:
            # this very close handled again (cut short by a stop): the round it closed, answered
            # as the first time (the closing message is keyed by the round: it goes out once)
            rd = next((r for r in reversed(await store.rounds_of_chat(session, ctx.chat_key))
                       if r.closed_at is not None), None)
    if rd is None:
        raise UserError(_("No self-assessment round is open here."))
    await close_round(ctx.services, rd.id, lang=ctx.lang, again=ctx.event.replay)


async def close_round(services: Services, round_id: int, *, lang: str | None = None, again: bool = False,
                      by_job: bool = False) -> bool:
    """Close the round and post its closing profile; False if it was closed already. ``again``
    (the close handled or run again after a stop): a round found closed has its closing message
    posted as the first time, which the delivery log sends once, whoever closed it. ``by_job``:
    the close job itself, which is not cancelled under its own feet (its retry posts the message
    a failed or cut-short run did not)."""
    async with services.db.transaction() as session:
        closed = await store.close_round(session, round_id, services.clock.now())
        if not closed and not again:
            return False
        rd = await store.get_round(session, round_id)
        if rd is None or rd.closed_at is None:
            return False
        if closed:
            await cancel_jobs(session, f"checklist.remind:{round_id}:")
            if not by_job:
                await cancel_jobs(session, f"checklist.close:{round_id}")
        area = area_of(await session.get(Chat, rd.chat_key), rd.chat_key)
        profile = (await _profiles(session, [rd]))[0]
    with services.locale(lang or await services.chat_language(rd.chat_key)):
        cl = from_json(rd.definition)
        html = (b(_("Self-assessment closed: {title}").format(title=tr(cl.title))) + "\n"
                + profile_html(rd, cl, profile, area))
        with send_scope(f"checklist:{round_id}:closed", replay=True):  # once, whoever closes it
            await _send(services, rd.chat_key, html)
    return True


async def mode_cmd(ctx: Context, args: Args) -> None:
    word = args.words[0].casefold() if args.words else ""
    if word not in GROUP_WORDS + PRIVATE_WORDS:
        raise UserError(_("Say where to answer: group or private."), show_usage=True)
    in_group = word in GROUP_WORDS
    async with ctx.db.transaction() as session:
        chat = await _chat(ctx, session)
        await set_chat_setting(session, chat, "checklist.in_group", in_group)
        rd = await store.open_round(session, ctx.chat_key)
        if rd is not None:
            rd.in_group = in_group
            session.add(rd)
    await ctx.reply(esc(_("Members now answer the self-assessment here in the group.") if in_group
                        else _("Members now answer the self-assessment in a private chat with me.")))


async def share_cmd(ctx: Context, args: Args) -> None:
    word = args.words[0].casefold() if args.words else ""
    if word not in ON_WORDS + OFF_WORDS:
        raise UserError(_("Say on or off."), show_usage=True)
    share = word in ON_WORDS
    async with ctx.db.transaction() as session:
        area = area_of(await _chat(ctx, session), ctx.chat_key)
        await store.set_area_share(session, area, share, ctx.sender_key, ctx.now())
    await ctx.reply(esc(_("The profile of {area} is now shared with other areas that share theirs.") if share
                        else _("The profile of {area} is no longer shared with other areas.")).format(area=esc(area)))


# --- profiles --------------------------------------------------------------------------------------


async def _profiles(session, rounds: list[store.ChecklistRound]) -> list[Profile]:
    ids = [r.id for r in rounds]
    answers = await store.round_answers(session, ids)
    responses = await store.round_responses(session, ids)
    result = []
    for rd in rounds:
        cl = from_json(rd.definition)
        rows = [AnswerRow(a.person_key, a.question_id, a.data(), a.skipped) for a in answers if a.round_id == rd.id]
        people = {r.person_key: Respondent(r.person_name, r.show_name, r.status == "done")
                  for r in responses if r.round_id == rd.id}
        result.append(compute_profile(cl, rows, people))
    return result


def dimension_line(title: str, stats) -> str:
    parts = []
    if stats.scale_n:
        parts.append(_("mean {mean} (spread {spread}, n={n})").format(
            mean=_num(stats.mean), spread=_num(stats.spread), n=format_number(stats.scale_n)))
    if stats.yes_n:
        parts.append(_("yes {share} (n={n})").format(share=format_percent(stats.yes_share or 0), n=format_number(stats.yes_n)))
    parts.append(ngettext("{count} respondent", "{count} respondents", stats.respondents).format(
        count=format_number(stats.respondents)))
    return b(title) + ": " + esc(" · ".join(parts))


def profile_html(rd: store.ChecklistRound, cl: Checklist, profile: Profile, area: str | None = None) -> str:
    """``area``: the area the round is shown under now (a chat's rounds follow it to a new area)."""
    lines = [esc(_("{area}, round of {date}").format(area=area or rd.area, date=_round_label(rd))),
             esc(_("Respondents: {count} (finished {finished})").format(count=format_number(profile.respondents),
                                                                     finished=format_number(profile.finished)))]
    for dim in cl.dimensions:
        stats = profile.dimension(dim.id)
        if stats is not None:
            lines.append(dimension_line(tr(dim.title), stats))
    for qid, counts in profile.choices.items():
        q = cl.question(qid)
        if q is None or not any(counts.values()):
            continue
        shown = ", ".join(f"{tr(o.text)} {counts.get(o.id, 0)}" for o in q.options)
        lines.append(esc(f"{tr(q.text)} — {shown}"))
    if profile.texts:
        lines.append(b(_("Written answers")))
        for _qid, text, name in profile.texts[:TEXTS_SHOWN]:
            lines.append("• " + esc(text) + (" — " + esc(name) if name else ""))
        if len(profile.texts) > TEXTS_SHOWN:
            lines.append(esc(_("…and {count} more in the export.").format(
                count=format_number(len(profile.texts) - TEXTS_SHOWN))))
    return "\n".join(lines)


def profile_figure(cl: Checklist, series: dict[str, Profile], *, radar: bool = False, title: str = ""):
    """A matplotlib Figure of the dimension means (bars with spread, or radar), labelled in the current
    language; a dimension nobody answered keeps its place, labelled as such."""
    from handlers import charts  # matplotlib is loaded only when a chart is drawn

    means = {name: [getattr(p.dimension(d.id), "mean", None) for d in cl.dimensions] for name, p in series.items()}
    cats = [tr(d.title) + ("" if any(m[k] is not None for m in means.values()) else "\n" + _("(no answers)"))
            for k, d in enumerate(cl.dimensions)]
    if radar:
        return charts.radar_figure(cats, means, title=title)
    spreads = {name: [getattr(p.dimension(d.id), "spread", None) for d in cl.dimensions] for name, p in series.items()}
    return charts.bar_figure(cats, means, errors=spreads, title=title, ylabel=_("Mean (1–5)"))


def profile_chart(cl: Checklist, series: dict[str, Profile], *, radar: bool = False, title: str = "") -> bytes:
    from handlers import charts

    return charts.to_png(profile_figure(cl, series, radar=radar, title=title))


def profile_text(cl: Checklist, series: dict[str, Profile], title: str) -> str:
    """The chart's figures as a short list, sent with it (for screen readers and slow connections)."""
    lines = ["📊 " + b(esc(title)) + " " + esc(_("(means on the scale 1–5)"))]
    for dim in cl.dimensions:
        cells = []
        for name, p in series.items():
            s = p.dimension(dim.id)
            if s is None or s.mean is None:
                cell = _("no answers")
            elif len(series) == 1:
                cell = _("mean {mean} (spread {spread}, n={n})").format(mean=_num(s.mean), spread=_num(s.spread),
                                                                      n=format_number(s.scale_n))
            else:
                cell = _num(s.mean)
            cells.append(cell if len(series) == 1 else _("{label}: {value}").format(label=name, value=cell))
        lines.append("• " + esc(_("{label}: {value}").format(label=tr(dim.title), value=" · ".join(cells))))
    return "\n".join(lines)


def chart_file(cl: Checklist, series: dict[str, Profile], filename: str, *, radar: bool, title: str) -> FileOut:
    return FileOut(filename, profile_chart(cl, series, radar=radar, title=title), "image/png", is_image=True,
                   caption_html=profile_text(cl, series, title))


async def _area(ctx: Context, session) -> str:
    return area_of(await _chat(ctx, session), ctx.chat_key)


async def profile_cmd(ctx: Context, args: Args) -> None:
    radar = any(w.casefold() in RADAR_WORDS for w in args.words)
    async with ctx.db.session() as session:
        area = await _area(ctx, session)
        rounds = await store.rounds_of_chat(session, ctx.chat_key)
        if not rounds:
            rounds = await store.rounds_of_area(session, area, chat_key=ctx.chat_key)
        if not rounds:
            raise UserError(_("This chat has no self-assessment rounds yet."))
        rd = rounds[-1]
        profile = (await _profiles(session, [rd]))[0]
    cl = from_json(rd.definition)
    await ctx.reply(b(_("Profile: {title}").format(title=tr(cl.title))) + "\n" + profile_html(rd, cl, profile, area))
    if profile.respondents:
        await ctx.send_file(chart_file(cl, {_round_label(rd): profile}, f"checklist-{rd.id}.png", radar=radar,
                                       title=f"{tr(cl.title)} · {area}"))


async def compare_cmd(ctx: Context, args: Args) -> None:
    radar = any(w.casefold() in RADAR_WORDS for w in args.words)
    async with ctx.db.session() as session:
        area = await _area(ctx, session)
        rounds = await store.rounds_of_area(session, area, chat_key=ctx.chat_key)
        if not rounds:
            raise UserError(_("This chat has no self-assessment rounds yet."))
        rounds = [r for r in rounds if r.checklist_id == rounds[-1].checklist_id][-6:]
        profiles = await _profiles(session, rounds)
    await _side_by_side(ctx, from_json(rounds[-1].definition),
                        list(zip(_round_labels(rounds), profiles, strict=True)),
                        _("{area} over time").format(area=area), radar, " → ")


async def areas_cmd(ctx: Context, args: Args) -> None:
    radar = any(w.casefold() in RADAR_WORDS for w in args.words)
    async with ctx.db.session() as session:
        area = await _area(ctx, session)
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
        profiles = await _profiles(session, [r for _a, r in latest])
    await _side_by_side(ctx, from_json(latest[-1][1].definition),
                        [(name, p) for (name, _r), p in zip(latest, profiles, strict=True)], _("Areas side by side"),
                        radar, " | ")


async def _side_by_side(ctx: Context, cl: Checklist, columns: list[tuple[str, Profile]], title: str, radar: bool,
                        sep: str) -> None:
    lines = [b(title) + " " + esc("(" + tr(cl.title) + ")"), esc(sep.join(name for name, _p in columns))]
    for dim in cl.dimensions:
        cells = []
        for _name, p in columns:
            s = p.dimension(dim.id)
            cell = _num(s.mean if s else None)
            if s and s.yes_n:
                cell += " / " + _("yes {share}").format(share=format_percent(s.yes_share or 0))
            cells.append(cell)
        lines.append(b(tr(dim.title)) + ": " + esc(sep.join(cells)))
    lines.append(esc(_("Respondents: {counts}").format(counts=sep.join(format_number(p.respondents) for _n, p in columns))))
    await ctx.reply("\n".join(lines))
    if any(p.respondents for _n, p in columns):
        await ctx.send_file(chart_file(cl, dict(columns), "checklist-compare.png", radar=radar, title=title))


# --- exports -----------------------------------------------------------------------------------


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
        area = await _area(ctx, session)
        rounds = await store.rounds_of_area(session, area, chat_key=ctx.chat_key)
        if not rounds:
            raise UserError(_("This chat has no self-assessment rounds yet."))
        profiles = await _profiles(session, rounds)
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
        if public:
            profiles = await _profiles(session, rounds)
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


# --- digest ------------------------------------------------------------------------------------


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
        lines.append("• " + b(esc(label)) + " " + esc(ngettext(
            "({state}): {started} started, {finished} finished, {answers} answer this week",
            "({state}): {started} started, {finished} finished, {answers} answers this week", answers).format(
            state=state, started=format_number(item["started"]), finished=format_number(item["finished"]),
            answers=format_number(answers))))
    return lines


# --- jobs --------------------------------------------------------------------------------------


async def close_job(services: Services, job: Job) -> None:
    # a run again (its lease ran out in a stop) posts the closing message the first run may not have
    await close_round(services, int(job.data()["round"]), again=job.attempts > 1, by_job=True)


async def remind_job(services: Services, job: Job) -> None:
    rid = int(job.data()["round"])
    now = services.clock.now()
    async with services.db.session() as session:
        rd = await store.get_round(session, rid)
        if rd is None or rd.closed_at is not None:
            return
        cl = from_json(rd.definition)
        due = await store.to_remind(session, rid, now - REMIND_AFTER, now - REMIND_AFTER)
    for resp in due:
        async with services.db.transaction() as session:
            if not await store.claim_reminder(session, resp.id, now, now - REMIND_AFTER, now - REMIND_AFTER):
                continue
            person_lang, chat_lang = await languages_for(session, resp.person_key, rd.chat_key)
            answers = await store.answers_of(session, rid, resp.person_key)
        with services.locale(person_lang or chat_lang or "fi"):
            total = len(cl.visible(_values(answers)))
            html = esc(ngettext("A reminder: you have answered {done}/{total} question of {title}. Continue where "
                                "you left off?",
                                "A reminder: you have answered {done}/{total} questions of {title}. Continue where "
                                "you left off?", total).format(done=format_number(len(answers)),
                                                               total=format_number(total), title=tr(cl.title)))
            if resp.answer_chat == rd.chat_key and resp.person_name:  # answering in the group: say whom
                html = esc(resp.person_name) + ": " + html
            try:
                # named: who is reminded depends on the state (each reminder is claimed before it is sent)
                await _send(services, resp.answer_chat, html, ((Button(_("▶ Continue"), f"checklist:go:{rid}"),),),
                            key=f"checklist:remind:{resp.id}:{now.isoformat()}")
            except Exception:
                log.warning("could not remind %s in round %s", resp.person_key, rid, exc_info=True)
    nxt = now + REMIND_AFTER
    if rd.closes_at is None or nxt < rd.closes_at:
        async with services.db.transaction() as session:
            await schedule_job(session, "checklist.remind", nxt, chat_key=rd.chat_key, payload={"round": rid},
                               dedup_key=f"checklist.remind:{rid}:{nxt.date().isoformat()}")
        services.wake(nxt)


async def on_start(services: Services) -> None:
    found = await asyncio.to_thread(load_all, directories(services.data_dir))
    log.info("checklists loaded: %s", ", ".join(sorted(found)) or "none")


def _sub(name: str, handler, aliases: dict[str, tuple[str, ...]], help: str, usage: str = "",
         role: Role = Role.MEMBER) -> Subcommand:
    return Subcommand(name, handler, aliases, help=help, usage=usage, parse=args_for(name), role=role)


SUBCOMMANDS = (
    _sub("start", start_round, {"fi": ("aloita",), "sv": ("starta", "börja", "borja"), "en": ("start", "begin")},
         N_("start a round"), N_("[name] [closes <when>]"), Role.ADMIN),
    _sub("close", close_cmd, {"fi": ("sulje", "päätä", "paata"), "sv": ("stäng", "stang", "avsluta"),
                              "en": ("close", "end")}, N_("close the round and post its profile"), role=Role.ADMIN),
    _sub("resume", resume_cmd, {"fi": ("jatka", "vastaa"), "sv": ("fortsätt", "fortsatt", "svara"),
                                "en": ("resume", "continue", "answer")}, N_("answer, or go on where you stopped")),
    _sub("stop", stop_cmd, {"fi": ("lopeta", "tauko", "keskeytä", "keskeyta"), "sv": ("stoppa", "paus", "pausa"),
                            "en": ("stop", "pause")}, N_("pause your answering")),
    _sub("back", back_cmd, {"fi": ("takaisin", "edellinen"), "sv": ("tillbaka", "bakåt", "bakat"), "en": ("back",)},
         N_("go back one question")),
    _sub("skip", skip_cmd, {"fi": ("ohita",), "sv": ("hoppa",), "en": ("skip",)}, N_("skip this question")),
    _sub("profile", profile_cmd, {"fi": ("profiili", "tulokset"), "sv": ("profil", "resultat"),
                                  "en": ("profile", "results")}, N_("the area's profile"), N_("[radar]")),
    _sub("compare", compare_cmd, {"fi": ("vertaa", "historia"), "sv": ("jämför", "jamfor", "historik"),
                                  "en": ("compare", "history")}, N_("the rounds of this area over time")),
    _sub("areas", areas_cmd, {"fi": ("alueet", "vertaisalueet"), "sv": ("områden", "omraden"),
                              "en": ("areas", "peers")}, N_("this area beside the others")),
    _sub("export", export_cmd, {"fi": ("vie", "tallenna"), "sv": ("exportera",), "en": ("export",)},
         N_("the answers as a file"), N_("csv|json")),
    _sub("share", share_cmd, {"fi": ("jaa", "jako"), "sv": ("dela",), "en": ("share",)},
         N_("share the area's figures with other areas"), N_("on|off"), Role.ADMIN),
    _sub("mode", mode_cmd, {"fi": ("tapa", "paikka"), "sv": ("sätt", "satt", "plats"), "en": ("mode",)},
         N_("answer in the group or in private"), N_("group|private"), Role.ADMIN),
    _sub("list", list_cmd, {"fi": ("lista", "listaa"), "sv": ("lista", "listor"), "en": ("list",)},
         N_("the checklists there are")),
)


FEATURE = Feature(
    name="checklist",
    order=10,
    commands=[
        Command(
            "checklist", None,
            {"fi": ("itsearviointi", "arviointi"), "sv": ("sjalvvardering", "checklista"), "en": ("checklist",)},
            help=N_("self-assessment: answer, start/close a round, profile, compare, areas, export"),
            usage=N_("[start [name] [closes <when>] | close | stop | back | skip | profile [radar] | compare | "
                     "areas | export csv|json | share on|off | mode group|private | list]"),
            subcommands=SUBCOMMANDS,
            default="resume",
        ),
    ],
    buttons={"a": answer_button, "t": toggle_button, "d": done_button, "skip": skip_button, "back": back_button,
             "stop": stop_button, "go": go_button, "name": name_button},
    on_message=on_message,
    jobs={"checklist.close": close_job, "checklist.remind": remind_job},
    on_start=on_start,
    digest=digest,
    render_digest=render_digest,
    exports={"checklist": export_records},
)
