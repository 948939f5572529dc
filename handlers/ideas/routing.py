"""Ideas that reach the people who can act on them: a support threshold per chat or area, the
role that answers (people of the chat an admin names, or the configured coordinators), the
referral when an idea reaches its threshold (the chat is told, the idea moves to "discussed", the
responsible people get a private message with buttons to answer), a reminder when nobody answers
in time, and the official answer (/vastaa): stored, shown on the idea, posted in the chat as a
reply to the idea's card and sent to the author."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from datetime import datetime, timedelta

from core import vocabulary
from core.events import Button, Reply
from core.i18n import _, format_date, format_number, ngettext, resolve_language
from core.markup import b, esc
from core.transport import TransportError
from handlers.base import Context, Services, UserError
from handlers.ideas.cards import CLOSED, refresh_card
from handlers.ideas.flow import TRANSITIONS, get_idea
from handlers.ideas.flow import on_message as idea_on_message
from handlers.ideas.keys import ANSWER, REFER, REMIND
from handlers.ideas.official import aware as _aware
from handlers.ideas.official import role_label
from handlers.ideas.parse import parse_number, parse_status_word
from handlers.ideas.render import card_text, short, status_label, support_buttons
from storage import audit
from storage import idea_routing as routes
from storage import ideas as store
from storage.core import Chat, Job, effect_of, ensure_chat, languages_for, record_effect, schedule_job
from storage.privacy import FORMER_MEMBER

log = logging.getLogger(__name__)

#: the statuses an answer may move an idea to
ANSWER_MOVES = ("experiment", "project", "done", "archived")
#: an answer begun with the button is waited for this long
DRAFT_HOURS = 24
MAX_ANSWER_CHARS = 2000
MAX_THRESHOLD = 10_000
MAX_ROLE_CHARS = 100
COORDINATOR_WORDS = frozenset(w.casefold() for w in vocabulary.words("ideas", "coordinators"))
#: who acted when the bot moved an idea itself
BOT_ACTOR = "system"


# --- parsing ----------------------------------------------------------------------------------


def _threshold_and_role(args: str) -> tuple[int, str | None]:
    """"5 kaupungin yhteyshenkilö" → (5, "kaupungin yhteyshenkilö"); a role of coordinator words → None."""
    head, _sep, rest = args.strip().partition(" ")
    if not head.isdecimal() or not 1 <= int(head[:6]) <= MAX_THRESHOLD:
        raise UserError(_("Give the number of supporters, for example: 5 city contact."), show_usage=True)
    role = " ".join(rest.split())
    if not role:
        raise UserError(_("Say who answers: a role such as “city contact”, or coordinators."), show_usage=True)
    if len(role) > MAX_ROLE_CHARS:
        raise UserError(_("Keep the role's name under 100 characters."))
    return int(head), (None if role.casefold() in COORDINATOR_WORDS else role)


def parse_threshold(args: str) -> tuple[int, str | None]:
    return _threshold_and_role(args)


def parse_remind_days(args: str) -> int:
    word = args.strip().split()[0] if args.strip() else ""
    if not word.isdecimal() or not 1 <= int(word[:4]) <= 365:
        raise UserError(_("Give the number of days before a reminder, 1–365, for example 14."), show_usage=True)
    return int(word)


def parse_area_threshold(args: str) -> tuple[int, str | None] | None:
    """``/kynnys alue 5 <role>``, or ``/kynnys alue pois`` (None)."""
    if args.strip().casefold() in OFF_NAMES_FLAT:
        return None
    return _threshold_and_role(args)


def parse_answer(args: str) -> tuple[int, str | None, str]:
    """"12 kokeilu Aloitetaan keväällä" → (12, "experiment", "Aloitetaan keväällä")."""
    head, _sep, rest = args.strip().partition(" ")
    number = parse_number(head)
    word, _sep, tail = rest.strip().partition(" ")
    move = parse_status_word(word) if word else None
    if move in ANSWER_MOVES and tail.strip():
        text = tail
    else:
        move, text = None, rest
    return number, move, _answer_text(text)


def _answer_text(text: str) -> str:
    text = "\n".join(" ".join(line.split()) for line in text.strip().splitlines()).strip()
    if not text:
        raise UserError(_("Write the answer after the idea's number."), show_usage=True)
    if len(text) > MAX_ANSWER_CHARS:
        raise UserError(ngettext("The answer is too long: {count} character, at most {limit}.",
                                 "The answer is too long: {count} characters, at most {limit}.", len(text)).format(
            count=format_number(len(text)), limit=format_number(MAX_ANSWER_CHARS)))
    return text


def parse_person(args: str) -> tuple[str | None, str]:
    """A person typed by their platform id (a Matrix id "@name:server", a Telegram number) and the
    rest (a role's name): (id or None, rest)."""
    words = args.split()
    for n, word in enumerate(words):
        if (word.startswith("@") and ":" in word) or (word.isdecimal() and len(word) >= 5):
            return word, " ".join(words[:n] + words[n + 1:])
    return None, " ".join(words)


OFF_NAMES = {"fi": ("pois", "ei"), "sv": ("av", "inget"), "en": ("off", "none")}
OFF_NAMES_FLAT = frozenset(w for ws in OFF_NAMES.values() for w in ws)


# --- who answers ------------------------------------------------------------------------------


async def _is_responsible(ctx_or_services, session, referral_or_route, chat_key: str, person_key: str) -> bool:
    services = ctx_or_services if isinstance(ctx_or_services, Services) else ctx_or_services.services
    if referral_or_route.coordinators:
        return person_key in services.coordinators or person_key in services.operators
    role = referral_or_route.role
    area = getattr(referral_or_route, "area", None)
    chats = await routes.area_chats(session, area) if area else []
    if chat_key not in chats:
        chats.append(chat_key)
    return any(h.person_key == person_key for h in await routes.holders(session, chats, role))


async def answering_rule(session, idea: store.Idea):
    """What decides who answers an idea: its referral (once it reached the threshold), else the
    chat's rule now."""
    referral = await routes.referral(session, idea.id)
    if referral is not None:
        return referral
    route = await routes.route_for(session, idea.chat_key)
    if route is not None and route.area is not None:
        # a rule of the area: the role's holders in any of the area's chats answer
        chat = await session.get(Chat, idea.chat_key)
        return _AreaRule(route.role, route.coordinators, chat.area if chat else None)
    return route


class _AreaRule:
    def __init__(self, role: str, coordinators: bool, area: str | None) -> None:
        self.role, self.coordinators, self.area = role, coordinators, area


async def may_answer(ctx: Context, session, idea: store.Idea) -> tuple[bool, str]:
    """Whether the person answers this idea, and as which role."""
    rule = await answering_rule(session, idea)
    if rule is None:
        return False, ""
    ok = await _is_responsible(ctx, session, rule, idea.chat_key, ctx.sender_key)
    return ok, rule.role if not rule.coordinators else ""


# --- the threshold: hooked into every support (handlers/ideas/support.py) ----------------------


async def supported(ctx: Context, session, idea: store.Idea) -> None:
    """A support was added (in the supporter's unit of work): if the idea reached its chat's
    threshold now, it is referred once — moved to "discussed" with the reason in its history, and
    a job tells the chat and writes to the responsible people (after the commit, sent once)."""
    route = await routes.route_for(session, idea.chat_key)
    if route is None or route.threshold <= 0 or idea.support_count < route.threshold:
        return
    chat = await session.get(Chat, idea.chat_key)
    area = chat.area if chat is not None else None
    now = ctx.now()
    referral = await routes.refer(session, idea, route, area, now)
    if referral is None:
        return
    lang = resolve_language(chat.language if chat else None)
    if idea.status == "new":
        with ctx.services.locale(lang):
            note = ngettext("{count} supporter: goes to {role} for an answer.",
                            "{count} supporters: goes to {role} for an answer.", idea.support_count).format(
                count=format_number(idea.support_count), role=role_label(route.role, route.coordinators))
            actor = _("the support threshold")
        await store.change_status(session, idea, "discussed", actor_key=BOT_ACTOR, actor_name=actor, note=note, now=now)
    await schedule_job(session, REFER.kind, now, chat_key=idea.chat_key, payload={"idea": idea.id},
                       dedup_key=REFER.key(idea=idea.id))
    remind_at = now + timedelta(days=route.remind_days)
    await schedule_job(session, REMIND.kind, remind_at, chat_key=idea.chat_key, payload={"idea": idea.id},
                       dedup_key=REMIND.key(idea=idea.id))
    # The scheduler is woken from a fresh context on the loop's next turn: woken from here, inside
    # the supporter's unit of work, its run would inherit the open transaction. (Its wake-up is
    # at the next whole second, after this commit; the safety tick would find the job anyway.)
    asyncio.get_running_loop().call_soon(ctx.services.wake, now, context=contextvars.Context())


# --- sending outside a request -----------------------------------------------------------------


def _native(key: str) -> str:
    return key.split(":", 1)[1]


async def _language_of(services: Services, person_key: str, chat_key: str) -> str:
    async with services.db.session() as session:
        person, chat = await languages_for(session, person_key, chat_key)
    return resolve_language(person, chat)


async def _send(services: Services, chat_key: str, html: str, buttons=(), reply_to: str | None = None) -> str | None:
    transport = services.transport_for(chat_key)
    return await transport.send(_native(chat_key), Reply(html=html, buttons=buttons, reply_to_id=reply_to))


async def _send_private(services: Services, person_key: str, html: str, buttons=()) -> bool:
    """Write to a person in private; False when the platform does not let the bot (Telegram:
    before the person has opened a chat with it)."""
    platform, user_id = person_key.split(":", 1)
    if platform not in services.transports:
        return False
    transport = services.transports[platform]
    try:
        chat_id = await transport.private_chat(user_id)
        if chat_id is None:
            return False
        await transport.send(chat_id, Reply(html=html, buttons=buttons))
    except TransportError as err:
        if err.retryable:
            raise  # the platform is away: the job is tried again (its sends are keyed)
        log.info("could not write to %s in private: %s", person_key, type(err).__name__)
        return False
    return True


def _answer_buttons(idea: store.Idea) -> tuple[tuple[Button, ...], ...]:
    moves = [Button(_("✍️ Answer: {status}").format(status=status_label(s)), ANSWER.data(idea=idea.id, move=s))
             for s in ANSWER_MOVES]
    return ((Button(_("✍️ Answer"), ANSWER.data(idea=idea.id, move="")),), tuple(moves[:2]), tuple(moves[2:]))


def _how_to_answer(services: Services, platform: str, lang: str, number: int) -> str:
    command = services.command_text("answer", platform, lang)
    return _("Press a button and write your answer as your next message here, or send in the chat: "
             "{command} {number} <answer> ({command} {number} {status} <answer> also moves it).").format(
        command=command, number=number, status=status_label("experiment"))


async def _responsible_people(services: Services, session, referral) -> list[tuple[str, str]]:
    """(person key, name) of those who answer: the role's holders, or the coordinators on the
    idea's platform."""
    if referral.coordinators or not referral.role:
        platform = referral.chat_key.split(":", 1)[0]
        keys = sorted(k for k in services.coordinators | services.operators if k.startswith(platform + ":"))
        return [(k, "") for k in keys]
    return [(h.person_key, h.person_name) for h in await routes.responsible(session, referral)]


async def refer_job(services: Services, job: Job) -> None:
    """An idea reached its threshold: the chat is told (a reply to the idea's card) and each
    responsible person gets the idea with buttons to answer; those the bot cannot write to are
    named in the chat, with what to do."""
    idea_id = job.data().get("idea")
    async with services.db.session() as session:
        idea = await store.by_id(session, idea_id)
        referral = await routes.referral(session, idea_id) if idea is not None else None
        if idea is None or referral is None or idea.status == "withdrawn":
            return
        people = await _responsible_people(services, session, referral)
        chat = await session.get(Chat, idea.chat_key)
    chat_lang = resolve_language(chat.language if chat else None)
    title = (chat.title if chat else "") or idea.chat_key
    platform = idea.chat_key.split(":", 1)[0]
    with services.locale(chat_lang):
        role = role_label(referral.role, referral.coordinators)
        lines = ["🎯 " + b(ngettext("Idea #{number} reached {count} supporter.", "Idea #{number} reached {count} supporters.",
                                   referral.supporters).format(
            number=idea.number, count=format_number(referral.supporters))) + " " + esc(
            _("It is now {status} and goes to {role} for an official answer.").format(
                status=status_label("discussed"), role=role))]
        if not people:
            lines.append(esc(_("Nobody holds the role {role} in this chat yet: an admin names them with {command}.").format(
                role=role, command=services.command_text("responder", platform, chat_lang) + " "
                + services.command("responder").subcommand("add").shown_name(chat_lang))))
    await _send(services, idea.chat_key, "\n".join(lines), reply_to=idea.bot_message_id)
    unreachable = []
    for key, name in people:
        lang = await _language_of(services, key, idea.chat_key)
        with services.locale(lang):
            html = "\n".join([
                "🏛 " + b(_("An idea waits for your answer: #{number} in {chat}").format(number=idea.number, chat=title)),
                esc(idea.text),
                esc(ngettext("{count} supporter · posted by {author} on {date}", "{count} supporters · posted by {author} on {date}",
                             idea.support_count).format(count=format_number(idea.support_count),
                                                        author=idea.author_name or "?", date=format_date(idea.created_at))),
                esc(_("You answer it as {role}.").format(role=role_label(referral.role, referral.coordinators))),
                esc(_how_to_answer(services, platform, lang, idea.number)),
            ])
            buttons = _answer_buttons(idea)
        if not await _send_private(services, key, html, buttons):
            unreachable.append(name or key.split(":", 1)[1])
    if unreachable:
        with services.locale(chat_lang):
            text = _("I cannot write to {names} in private yet. Admins: ask them to open a private chat with me "
                     "and send {command}; then they get the ideas to answer.").format(
                names=", ".join(unreachable), command=services.command_text("start", platform, "en"))  # what Start sends
        await _send(services, idea.chat_key, esc(text))


async def remind_job(services: Services, job: Job) -> None:
    """Nobody answered in time: the responsible people are reminded, and the chat is told."""
    idea_id = job.data().get("idea")
    now = services.clock.now()
    async with services.db.transaction() as session:
        idea = await store.by_id(session, idea_id)
        referral = await routes.referral(session, idea_id) if idea is not None else None
        if (idea is None or referral is None or referral.answered_at is not None
                or idea.status in ("withdrawn", "archived", "done")):
            return
        referral.reminded_at = now
        session.add(referral)
        people = await _responsible_people(services, session, referral)
        chat = await session.get(Chat, idea.chat_key)
    chat_lang = resolve_language(chat.language if chat else None)
    title = (chat.title if chat else "") or idea.chat_key
    platform = idea.chat_key.split(":", 1)[0]
    days = max(1, (now - referral.reached_at).days)
    for key, _name in people:
        lang = await _language_of(services, key, idea.chat_key)
        with services.locale(lang):
            html = "\n".join([
                "⏰ " + b(ngettext("Idea #{number} in {chat} has waited {days} day for your answer",
                                  "Idea #{number} in {chat} has waited {days} days for your answer", days).format(
                    number=idea.number, chat=title, days=format_number(days))),
                esc(short(idea.text, 300)),
                esc(_how_to_answer(services, platform, lang, idea.number)),
            ])
            buttons = _answer_buttons(idea)
        await _send_private(services, key, html, buttons)
    with services.locale(chat_lang):
        text = ngettext("Idea #{number} has waited {days} day for an answer from {role}; I reminded them.",
                        "Idea #{number} has waited {days} days for an answer from {role}; I reminded them.", days).format(
            number=idea.number, days=format_number(days), role=role_label(referral.role, referral.coordinators))
    await _send(services, idea.chat_key, esc(text), reply_to=idea.bot_message_id)


# --- the official answer ----------------------------------------------------------------------


async def _find_in_private(ctx: Context, session, number: int) -> store.Idea:
    """In a private chat, idea N is the one of that number the person answers somewhere (or the
    private chat's own)."""
    own = await store.by_number(session, ctx.chat_key, number)
    if own is not None and own.status != "withdrawn":
        return own
    chats = sorted({h.chat_key for h in await routes.holders_of(session, ctx.sender_key)})
    found = []
    for chat_key in chats:
        idea = await store.by_number(session, chat_key, number)
        if idea is not None and idea.status != "withdrawn":
            found.append(idea)
    if ctx.sender_key in ctx.services.coordinators | ctx.services.operators:
        for _ref, idea in await routes.waiting_for_coordinators(session):
            if idea.number == number and idea not in found:
                found.append(idea)
    if len(found) == 1:
        return found[0]
    if found:
        raise UserError(_("Several chats have an idea #{number}: answer with the button I sent, or in the chat.").format(
            number=number))
    raise UserError(_("There is no idea #{number} in this chat.").format(number=number))


async def answer_cmd(ctx: Context, parsed: tuple[int, str | None, str]) -> None:
    number, move, text = parsed
    async with ctx.db.session() as session:
        if ctx.event.is_private:
            idea = await _find_in_private(ctx, session, number)
        else:
            idea = await get_idea(ctx, session, number)
    await give_answer(ctx, idea.id, move, text)


async def give_answer(ctx: Context, idea_id: int, move: str | None, text: str) -> None:
    """Store the answer (and the move), then post it in the idea's chat as a reply to its card,
    send it to the author and refresh the card."""
    now = ctx.now()
    async with ctx.db.transaction() as session:
        idea = await store.by_id(session, idea_id)
        if idea is None or idea.status == "withdrawn":
            raise UserError(_("This idea is no longer available."))
        ok, role = await may_answer(ctx, session, idea)
        await ctx.permit("/answer", owner=ok, number=idea.number)
        previous = await effect_of(session, ctx.event.event_key, "ideas.answer")
        if previous is not None:  # handled again after a restart: the answer was stored
            answer = await session.get(routes.IdeaAnswer, int(previous))
            old = idea.status if answer is None or not answer.moved_to else None
        else:
            old = idea.status
            if move is not None and move != idea.status:
                steps = _path(idea.status, move)
                if steps is None:
                    raise UserError(_("Idea #{number} is {status}; it can move to: {allowed}.").format(
                        number=idea.number, status=status_label(idea.status),
                        allowed=", ".join(status_label(s) for s in TRANSITIONS.get(idea.status, ())) or "—"))
                for step in steps:
                    await store.change_status(session, idea, step, actor_key=ctx.sender_key,
                                              actor_name=ctx.event.sender_name, note=text, now=now)
                await audit.record(session, chat_key=idea.chat_key, actor=ctx.event, action="idea.status",
                                   target=f"idea:{idea.number}", before={"status": old},
                                   after={"status": move, "reason": text}, at=now)
            elif move == idea.status:
                move = None
            answer = await routes.add_answer(session, idea, answerer_key=ctx.sender_key,
                                             answerer_name=ctx.event.sender_name, role=role, text=text,
                                             moved_to=move, now=now)
            record_effect(session, ctx.event.event_key, "ideas.answer", answer.id, now)
            if ctx.event.is_private:
                await routes.drop_draft(session, ctx.sender_key)
        chat = await session.get(Chat, idea.chat_key)
    if answer is None:
        return
    chat_lang = resolve_language(chat.language if chat else None)
    with ctx.services.locale(chat_lang):
        html = _answer_html(idea, answer, old)
    message_id = await _send(ctx.services, idea.chat_key, html, reply_to=idea.bot_message_id)
    if message_id and not answer.bot_message_id:
        async with ctx.db.transaction() as session:
            row = await session.get(routes.IdeaAnswer, answer.id)
            if row is not None:
                row.bot_message_id = message_id
                session.add(row)
    if idea.author_key not in (FORMER_MEMBER, ctx.sender_key):
        lang = await _language_of(ctx.services, idea.author_key, idea.chat_key)
        with ctx.services.locale(lang):
            title = (chat.title if chat else "") or ""
            html = "📬 " + b(_("Your idea #{number} in {chat} got an official answer").format(
                number=idea.number, chat=title)) + "\n" + esc(short(idea.text, 200)) + "\n\n" + _answer_html(idea, answer, old)
        await _send_private(ctx.services, idea.author_key, html)
    if idea.chat_key == ctx.chat_key:
        await refresh_card(ctx, idea)
    else:
        await _refresh_card_elsewhere(ctx.services, idea, chat_lang)
        await ctx.reply(esc(_("Thank you: your answer to idea #{number} is posted in {chat}.").format(
            number=idea.number, chat=(chat.title if chat else "") or idea.chat_key)))


async def _refresh_card_elsewhere(services: Services, idea: store.Idea, chat_lang: str) -> None:
    """The idea's card, in its chat, after an answer given in a private chat moved the idea."""
    if not idea.bot_message_id:
        return
    with services.locale(idea.card_language or chat_lang):
        html, buttons = card_text(idea), (support_buttons(idea) if idea.status not in CLOSED else ())
    try:
        await services.transport_for(idea.chat_key).edit(_native(idea.chat_key), idea.bot_message_id,
                                                         Reply(html=html, buttons=buttons))
    except TransportError as err:
        if err.retryable:
            raise
        log.info("could not refresh idea message %s in %s", idea.bot_message_id, idea.chat_key)


def _path(status: str, move: str) -> list[str] | None:
    """The steps from ``status`` to ``move``: straight, or through "discussed" (a new idea answered
    before it reached the threshold)."""
    if move in TRANSITIONS.get(status, ()):
        return [move]
    if status == "new" and move in TRANSITIONS["discussed"]:
        return ["discussed", move]
    return None


def _answer_html(idea: store.Idea, answer: routes.IdeaAnswer, old: str | None) -> str:
    who = answer.role or _("project coordinator")
    lines = ["🏛 " + b(_("Official answer to idea #{number}").format(number=idea.number)) + " " + esc(
        _("({role}, {name}, {date})").format(role=who, name=answer.answerer_name or "?", date=format_date(answer.at)))]
    lines.append(esc(answer.text))
    if answer.moved_to and old and old != answer.moved_to:
        lines.append(esc(_("Idea #{number}: {old} → {new}.").format(number=idea.number, old=status_label(old),
                                                                     new=status_label(answer.moved_to))))
    return "\n".join(lines)


async def answer_button(ctx: Context, args: list[str]) -> None:
    pressed = ANSWER.read(args)
    move = pressed["move"] if pressed["move"] in ANSWER_MOVES else None
    async with ctx.db.transaction() as session:
        idea = await store.by_id(session, pressed["idea"])
        if idea is None or idea.status == "withdrawn" or (idea.chat_key != ctx.chat_key and not ctx.event.is_private):
            raise UserError(_("This idea is no longer available."))
        ok, _role = await may_answer(ctx, session, idea)
        await ctx.permit(owner=ok, number=idea.number)
        if ctx.event.is_private:
            await routes.begin_draft(session, ctx.sender_key, idea.id, move, ctx.now())
    if ctx.event.is_private:
        text = _("Write your answer to idea #{number} as your next message here.").format(number=idea.number)
        if move:
            text += " " + _("It moves the idea to {status}.").format(status=status_label(move))
        await ctx.acknowledge(text)
        await ctx.reply(esc(text))
    else:
        example = f"{ctx.cmd('answer')} {idea.number} " + (status_label(move) + " " if move else "") + _("<answer>")
        await ctx.acknowledge(_("Answer with: {command}").format(command=example))


async def on_message(ctx: Context) -> bool:
    """In a private chat, the message after "Answer" is the answer; else an #idea, as always."""
    if ctx.event.is_private and (ctx.event.text or "").strip():
        async with ctx.db.session() as session:
            draft = await routes.draft_of(session, ctx.sender_key)
            previous = await effect_of(session, ctx.event.event_key, "ideas.answer")
        if previous is not None and draft is None:  # handled again: the answer is stored, post it once
            async with ctx.db.session() as session:
                answer = await session.get(routes.IdeaAnswer, int(previous))
            if answer is not None:
                await give_answer(ctx, answer.idea_id, answer.moved_to, answer.text)
                return True
        if draft is not None and ctx.now() - _aware(draft.started_at) < timedelta(hours=DRAFT_HOURS):
            await give_answer(ctx, draft.idea_id, draft.move_to, _answer_text(ctx.event.text or ""))
            return True
    return await idea_on_message(ctx)


# --- admins: the threshold and the role's holders ---------------------------------------------


async def _audit_route(session, ctx: Context, target: str, before, after) -> None:
    await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="ideas.threshold", target=target,
                       before=before, after=after, at=ctx.now())


def _route_text(route, where: str) -> str:
    if route is None:
        return ""
    return ngettext("{where}: an idea with {count} supporter goes to {role}; a reminder after {days} days without an answer.",
                    "{where}: an idea with {count} supporters goes to {role}; a reminder after {days} days without an answer.",
                    route.threshold).format(where=where, count=format_number(route.threshold),
                                            role=role_label(route.role, route.coordinators),
                                            days=format_number(route.remind_days))


async def threshold_show(ctx: Context, _args: None) -> None:
    async with ctx.db.session() as session:
        own = await routes.chat_route(session, ctx.chat_key)
        chat = await session.get(Chat, ctx.chat_key)
        area = await routes.area_route(session, chat.area) if chat is not None and chat.area else None
        held = await routes.holders(session, [ctx.chat_key])
        waiting = await routes.waiting(session, ctx.chat_key)
    lines = []
    if own is not None:
        lines.append(esc(_route_text(own, _("This chat"))))
    if area is not None:
        text = _route_text(area, _("The area {area}").format(area=chat.area))
        if own is not None:
            text += " " + _("(this chat's own rule applies here)")
        lines.append(esc(text))
    if not lines:
        lines.append(esc(_("No support threshold is set: ideas are not sent to anyone. An admin sets one with {command} 5 <role>.").format(
            command=ctx.cmd("threshold"))))
    lines += _holder_lines(held)
    if waiting:
        lines.append(b(_("Waiting for an answer")))
        lines += [_waiting_line(ref, idea, ctx.now()) for ref, idea in waiting]
    await ctx.reply("\n".join(lines))


def _holder_lines(held: list[routes.IdeaResponder]) -> list[str]:
    if not held:
        return []
    by_role: dict[str, list[str]] = {}
    for h in held:
        by_role.setdefault(h.role, []).append(h.person_name or h.person_key.split(":", 1)[1])
    return [esc(_("{role}: {names}").format(role=role, names=", ".join(people))) for role, people in by_role.items()]


def _waiting_line(ref: routes.IdeaReferral, idea: store.Idea, now: datetime) -> str:
    days = max(0, (now - _aware(ref.reached_at)).days)
    return "• " + esc(ngettext("#{number} {text} — {days} day ({role})", "#{number} {text} — {days} days ({role})", days).format(
        number=idea.number, text=short(idea.text, 50), days=format_number(days), role=role_label(ref.role, ref.coordinators)))


async def threshold_cmd(ctx: Context, parsed: tuple[int, str | None]) -> None:
    """``/kynnys 5 kaupungin yhteyshenkilö``: this chat's rule."""
    threshold, role = parsed
    async with ctx.db.transaction() as session:
        await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
        before, route = await routes.set_route(session, chat_key=ctx.chat_key, threshold=threshold, role=role,
                                               coordinators=role is None, now=ctx.now())
        await _audit_route(session, ctx, "chat", before, route.describe())
    await ctx.reply(esc(_route_text(route, _("This chat"))) + "\n" + esc(_next_step(ctx, route)))


def _next_step(ctx: Context, route) -> str:
    if route.coordinators:
        return _("The project coordinators get the ideas in private.")
    return _("Name who holds the role: reply to a message of theirs with {command}.").format(
        command=f"{ctx.cmd('responder')} {ctx.services.command('responder').subcommand('add').shown_name(ctx.lang)}"
        + f" {route.role}")


async def threshold_area(ctx: Context, parsed: tuple[int, str | None] | None) -> None:
    """``/kynnys alue 5 <role>`` (or ``pois``): the rule of the chat's area."""
    async with ctx.db.transaction() as session:
        chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
        if not chat.area:
            raise UserError(_("Set the chat's area first with {command} <name>.").format(command=ctx.cmd("area")))
        area = chat.area
        if parsed is None:
            before = await routes.clear_route(session, area=area)
            await _audit_route(session, ctx, f"area:{area}", before, None)
            route = None
        else:
            threshold, role = parsed
            before, route = await routes.set_route(session, area=area, threshold=threshold, role=role,
                                                   coordinators=role is None, now=ctx.now())
            await _audit_route(session, ctx, f"area:{area}", before, route.describe())
    if route is None:
        await ctx.reply(esc(_("The area {area} has no support threshold any more.").format(area=area)))
    else:
        await ctx.reply(esc(_route_text(route, _("The area {area}").format(area=area))) + "\n" + esc(_next_step(ctx, route)))


async def threshold_off(ctx: Context, _args: None) -> None:
    async with ctx.db.transaction() as session:
        before = await routes.clear_route(session, chat_key=ctx.chat_key)
        await _audit_route(session, ctx, "chat", before, None)
    await ctx.reply(esc(_("This chat has no support threshold of its own any more.")))


async def threshold_remind(ctx: Context, days: int) -> None:
    async with ctx.db.transaction() as session:
        own = await routes.chat_route(session, ctx.chat_key)
        chat = await session.get(Chat, ctx.chat_key)
        if own is not None:
            before, route = await routes.set_route(session, chat_key=ctx.chat_key, remind_days=days, now=ctx.now())
            target = "chat"
        elif chat is not None and chat.area and await routes.area_route(session, chat.area) is not None:
            before, route = await routes.set_route(session, area=chat.area, remind_days=days, now=ctx.now())
            target = f"area:{chat.area}"
        else:
            raise UserError(_("Set a support threshold first with {command} 5 <role>.").format(command=ctx.cmd("threshold")))
        await _audit_route(session, ctx, target, before, route.describe())
    await ctx.reply(esc(ngettext("Without an answer in {days} day, the responsible people are reminded.",
                                 "Without an answer in {days} days, the responsible people are reminded.", days).format(
        days=format_number(days))))


def _without_names(ctx: Context, text: str) -> str:
    """The text without the named people's names (a Matrix mention pill leaves the display name
    in the text; a Telegram mention the @name)."""
    for user_id, name in ctx.event.named:
        for word in (name, "@" + name, user_id):
            if word:
                text = text.replace(word, " ")
    return " ".join(text.replace(":", " ").split()) if ctx.event.named else " ".join(text.split())


def _named_person(ctx: Context, typed: str | None) -> tuple[str, str]:
    """The person an admin names: the one they replied to or mentioned, or typed by id."""
    if ctx.event.named:
        user_id, name = ctx.event.named[0]
        return f"{ctx.event.platform}:{user_id}", name
    if typed:
        return f"{ctx.event.platform}:{typed}", typed
    raise UserError(_("Who? Reply to a message of the person with this command, or mention them."), show_usage=True)


async def responder_show(ctx: Context, _args: None) -> None:
    await threshold_show(ctx, None)


async def responder_add(ctx: Context, args: str) -> None:
    typed, role = parse_person(args)
    key, name = _named_person(ctx, typed)
    role = _without_names(ctx, role)
    async with ctx.db.transaction() as session:
        if not role:
            route = await routes.route_for(session, ctx.chat_key)
            role = route.role if route is not None and route.role else ""
        if not role:
            raise UserError(_("Which role? For example: {example}").format(
                example=f"{ctx.cmd('responder')} {ctx.subcommand.shown_name(ctx.lang) if ctx.subcommand else ''} "
                + _("city contact")))
        if len(role) > MAX_ROLE_CHARS:
            raise UserError(_("Keep the role's name under 100 characters."))
        await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
        added = await routes.add_holder(session, ctx.chat_key, role, key, name, ctx.now())
        if added:
            await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="ideas.responder",
                               target=f"role:{routes.role_key(role)}", before=None,
                               after={"person": key, "name": name, "role": role}, at=ctx.now())
    if added:
        text = _("{name} now answers ideas here as {role}.").format(name=name, role=role)
    else:
        text = _("{name} already answers ideas here as {role}.").format(name=name, role=role)
    await ctx.reply(esc(text))


async def responder_remove(ctx: Context, args: str) -> None:
    typed, role = parse_person(args)
    key, name = _named_person(ctx, typed)
    role = _without_names(ctx, role) or None
    async with ctx.db.transaction() as session:
        removed = await routes.remove_holder(session, ctx.chat_key, key, role)
        if removed:
            await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="ideas.responder",
                               target=f"role:{routes.role_key(role)}" if role else "role",
                               before={"person": key, "name": name, "role": role}, after=None, at=ctx.now())
    if removed:
        await ctx.reply(esc(_("{name} no longer answers ideas here.").format(name=name)))
    else:
        await ctx.reply(esc(_("This person holds no role here: {name}.").format(name=name)))
