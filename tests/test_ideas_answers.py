"""Ideas that reach the city (issue 19, part 1): a support threshold per chat or area, the role
that answers, the referral (the chat is told, the idea is discussed, the responsible person gets a
private message with buttons), the reminder, the official answer everywhere it shows, who may do
what, the audit log, and a person's data."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.testing import TestBot
from core.events import Kind
from core.transport import Forbidden
from handlers.digest.documents import render_export
from storage import idea_routing as routes
from storage.audit import AuditEvent
from storage.ideas import Idea

CONTACT, CONTACT_NAME = "kaisa", "Kaisa Kaupunki"
DM = f"private-{CONTACT}"

#: the words each language's script uses
L = {
    "fi": dict(role="kaupungin yhteyshenkilö", threshold="/kynnys", responder="/vastaaja lisää", support="/tue",
               answer="/vastaa", idea="/idea", move="kokeilu", moved="kokeilu", discussed="käsitelty",
               reached="saavutti 3 kannattajaa", waits="odottaa vastaustasi", official="Virallinen vastaus ideaan #1",
               got="sai virallisen vastauksen", reminded="odottanut 14 päivää", waiting="Odottaa vastausta",
               next_msg="seuraavana viestinä", posted="julkaistu", answer_text="Kaupunki selvittää paikan keväällä.",
               nobody="Vain ne, jotka vastaavat täällä ideoihin, voivat vastata ideaan #1.",
               admins_only="Vain ryhmän ylläpitäjät voivat tehdä tämän.", start="/start"),
    "sv": dict(role="stadens kontaktperson", threshold="/troskel", responder="/besvarare utse", support="/stod",
               answer="/svara", idea="/ide", move="försök", moved="försök", discussed="diskuterad",
               reached="nådde 3 stödjare", waits="väntar på ditt svar", official="Officiellt svar på idé #1",
               got="fick ett officiellt svar", reminded="väntat i 14 dagar", waiting="Väntar på svar",
               next_msg="nästa meddelande", posted="publicerat", answer_text="Staden utreder platsen i vår.",
               nobody="Endast de som besvarar idéer här får svara på idé #1.",
               admins_only="Endast gruppens administratörer får göra detta.", start="/start"),
    "en": dict(role="city contact", threshold="/threshold", responder="/responder add", support="/support",
               answer="/answer", idea="/idea", move="experiment", moved="experiment", discussed="discussed",
               reached="reached 3 supporters", waits="waits for your answer", official="Official answer to idea #1",
               got="got an official answer", reminded="waited 14 days", waiting="Waiting for an answer",
               next_msg="next message", posted="posted", answer_text="The city looks into the place in spring.",
               nobody="Only the people who answer ideas here may answer idea #1.",
               admins_only="Only the chat's admins may do this.", start="/start"),
}


def _to(bot: TestBot, chat: str, since: int = 0) -> list[str]:
    return [s.plain for s in bot.transport.sent[since:] if s.chat_id == chat and s.kind == "message"]


def _buttons(bot: TestBot, chat: str) -> list[str]:
    return [b.data for s in bot.transport.sent if s.chat_id == chat and s.reply is not None
            for row in s.reply.buttons for b in row]


async def _name_contact(bot: TestBot, lang: str, w: dict) -> None:
    """The admin replies to a message of Kaisa's with /vastaaja lisää <role>."""
    await bot.say("Hei kaikki", user=CONTACT, name=CONTACT_NAME, lang=lang)
    sent = await bot.event(chat_id="group", sender_id="boss", sender_name="Boss", language_hint=lang,
                           text=f"{w['responder']} {w['role']}", message_id="reply1", chat_title="group",
                           named=((CONTACT, CONTACT_NAME),))
    assert CONTACT_NAME in sent[-1].plain and w["role"] in sent[-1].plain, sent[-1].plain


async def _setup(bot: TestBot, lang: str) -> dict:
    w = L[lang]
    bot.make_admin("boss")
    await bot.say({"fi": "/kieli ryhmä fi", "sv": "/sprak grupp sv", "en": "/lang chat en"}[lang], user="boss", lang=lang)
    out = await bot.say(f"{w['threshold']} 3 {w['role']}", user="boss", lang=lang)
    assert "3" in out[0] and w["role"] in out[0], out
    await _name_contact(bot, lang, w)
    out = await bot.say(f"{w['idea']} Uimalaituri Longinojalle #idea", user="author", name="Aino Author", lang=lang)
    assert "#1" in out[0]
    return w


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_threshold_by_command_and_button_then_the_answer_shows_everywhere(bot, lang):
    w = await _setup(bot, lang)
    # two supports by command, the third by the card's button
    await bot.say(f"{w['support']} 1", user="author", lang=lang)
    await bot.say(f"{w['support']} 1", user="u2", lang=lang)
    async with bot.services.db.session() as s:
        idea = (await s.execute(select(Idea))).scalars().one()
        assert await routes.referral(s, idea.id) is None
    mark = len(bot.transport.sent)
    await bot.press(f"ideas:sup:{idea.id}", user="u3", target_id=idea.bot_message_id)
    assert await bot.run_due() >= 1
    said = _to(bot, "group", mark)
    assert any(w["reached"] in t and w["role"] in t for t in said), said
    reached = next(s for s in bot.transport.sent[mark:] if s.chat_id == "group" and s.kind == "message")
    assert reached.reply.reply_to_id == idea.bot_message_id  # a reply to the idea's card
    # the idea is discussed, with the reason in its history
    shown = (await bot.say(f"{w['idea']} 1", lang=lang))[0]
    assert w["discussed"] in shown and w["role"] in shown, shown
    # the responsible person got the idea in private, with buttons to answer
    private = _to(bot, DM)
    assert len(private) == 1 and "Uimalaituri" in private[0] and "3" in private[0], private
    buttons = _buttons(bot, DM)
    assert f"ideas:ans:{idea.id}:" in buttons and f"ideas:ans:{idea.id}:experiment" in buttons
    # Kaisa presses "answer: experiment" and writes the answer as her next private message
    sent = await bot.event(chat_id=DM, sender_id=CONTACT, sender_name=CONTACT_NAME, kind=Kind.BUTTON,
                           button_data=f"ideas:ans:{idea.id}:experiment", is_private=True, language_hint=lang)
    assert any(w["next_msg"] in s.plain for s in sent), [s.plain for s in sent]
    mark = len(bot.transport.sent)
    out = await bot.say(w["answer_text"], user=CONTACT, name=CONTACT_NAME, chat=DM, private=True, lang=lang)
    assert any(w["posted"] in t for t in out), out
    # the chat: the answer as a reply to the idea's card, the move with it
    [posted] = [s for s in bot.transport.sent[mark:] if s.chat_id == "group" and s.kind == "message"]
    assert posted.reply.reply_to_id == idea.bot_message_id
    assert w["official"] in posted.plain and w["answer_text"] in posted.plain and w["role"] in posted.plain
    assert CONTACT_NAME in posted.plain and w["moved"] in posted.plain
    # the card in the chat shows the move (the answer was given elsewhere)
    [card] = [s for s in bot.transport.sent[mark:] if s.chat_id == "group" and s.kind == "edit"]
    assert card.message_id == idea.bot_message_id and w["moved"] in card.plain
    # the author, in private
    [to_author] = _to(bot, "private-author", mark)
    assert w["got"] in to_author and w["answer_text"] in to_author
    # /idea 1
    shown = (await bot.say(f"{w['idea']} 1", lang=lang))[0]
    assert w["answer_text"] in shown and CONTACT_NAME in shown and w["moved"] in shown, shown
    async with bot.services.db.session() as s:
        idea = await s.get(Idea, idea.id)
        assert idea.status == "experiment"
        [answer] = (await routes.answers_of(s, [idea.id]))[idea.id]
        assert answer.answerer_key == f"fake:{CONTACT}" and answer.role == w["role"] and answer.moved_to == "experiment"
    # the digest
    digest = (await bot.say("/kooste" if lang == "fi" else "/sammandrag" if lang == "sv" else "/digest", lang=lang))[0]
    assert w["answer_text"][:20] in digest or w["official"].split(" #")[0].lower() in digest.lower(), digest
    # the exports: the coordinators' and the open data once the area publishes ideas
    await bot.say("/alue Pakila" if lang == "fi" else "/area Pakila", user="boss", lang=lang)
    raw = json.loads(await render_export(bot.services, "ideas", "json", first="2026-W01", last="2026-W01"))
    [row] = raw["records"]
    assert row["answer"] == w["answer_text"] and row["answered_by_role"] == w["role"]
    assert row["answered_by_name"] == CONTACT_NAME
    public = json.loads(await render_export(bot.services, "ideas", "json", first="2026-W01", last="2026-W01", public=True))
    assert public["records"] == []  # not published yet
    await bot.say("/julkaise ideat" if lang == "fi" else "/publish ideas", user="boss", lang=lang)
    public = json.loads(await render_export(bot.services, "ideas", "json", first="2026-W01", last="2026-W01", public=True))
    [row] = public["records"]
    assert row["answer"] == w["answer_text"] and row["answered_by_role"] == w["role"]
    assert CONTACT_NAME not in json.dumps(public)


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_answer_by_command_in_the_chat_and_who_may(bot, lang):
    w = await _setup(bot, lang)
    for user in ("u1", "u2", "u3"):
        await bot.say(f"{w['support']} 1", user=user, lang=lang)
    await bot.run_due()
    # a member and an admin may not answer; neither may the author
    assert await bot.say(f"{w['answer']} 1 Ei käy", user="u2", lang=lang) == [w["nobody"]]
    assert await bot.say(f"{w['answer']} 1 Ei käy", user="boss", lang=lang) == [w["nobody"]]
    # a member may not change the threshold or name a responder
    assert await bot.say(f"{w['threshold']} 1 {w['role']}", user="u2", lang=lang) == [w["admins_only"]]
    sent = await bot.event(chat_id="group", sender_id="u2", sender_name="U2", language_hint=lang,
                           text=f"{w['responder']} {w['role']}", message_id="r9", named=(("u2", "U2"),))
    assert [s.plain for s in sent] == [w["admins_only"]]
    mark = len(bot.transport.sent)
    out = await bot.say(f"{w['answer']} 1 {w['answer_text']}", user=CONTACT, name=CONTACT_NAME, lang=lang)
    assert any(w["official"] in t and w["answer_text"] in t for t in out), out
    assert _to(bot, "private-author", mark)
    async with bot.services.db.session() as s:
        idea = (await s.execute(select(Idea))).scalars().one()
        assert idea.status == "discussed"  # no move asked
        actions = [(a.action, a.actor_key) for a in (await s.execute(select(AuditEvent).order_by(AuditEvent.id))).scalars()]
    assert ("ideas.threshold", "fake:boss") in actions and ("ideas.responder", "fake:boss") in actions
    log = (await bot.say("/loki" if lang == "fi" else "/logg" if lang == "sv" else "/auditlog", user="boss", lang=lang))[0]
    assert w["role"] in log, log


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_a_reminder_after_14_days_and_the_digest_lists_the_waiting(bot, lang):
    w = await _setup(bot, lang)
    for user in ("u1", "u2", "u3"):
        await bot.say(f"{w['support']} 1", user=user, lang=lang)
    await bot.run_due()
    start = bot.clock.now()
    assert len(_to(bot, DM)) == 1
    await bot.run_due(start + timedelta(days=13))
    assert len(_to(bot, DM)) == 1  # not yet
    shown = "\n".join(await bot.say(w["threshold"], lang=lang))
    assert w["waiting"] in shown and "#1" in shown, shown
    mark = len(bot.transport.sent)
    await bot.run_due(start + timedelta(days=14, minutes=1))
    [reminder] = _to(bot, DM, mark)
    assert w["reminded"] in reminder, reminder
    assert any(w["reminded"][-8:] in t or "14" in t for t in _to(bot, "group", mark))
    assert "ideas:ans:" in " ".join(_buttons(bot, DM))
    digest = (await bot.say("/kooste" if lang == "fi" else "/sammandrag" if lang == "sv" else "/digest", lang=lang))[0]
    assert w["waiting"].lower() in digest.lower() and "14" in digest, digest


async def test_coordinators_answer_where_the_area_says_so(make_bot):
    bot = await make_bot(coordinators=["fake:pm"])
    bot.make_admin("boss")
    await bot.say("/alue Pakila", user="boss", lang="fi")
    out = await bot.say("/kynnys alue 2 koordinaattorit", user="boss", lang="fi")
    assert "Pakila" in out[0] and "koordinaattorit" in out[0], out
    await bot.say("/idea Penkki puistoon", user="author", lang="fi")
    await bot.say("/tue 1", user="u1", lang="fi")
    await bot.say("/tue 1", user="u2", lang="fi")
    await bot.run_due()
    assert len(_to(bot, "private-pm")) == 1
    # a coordinator answers in the private chat by the idea's number, with a move
    out = await bot.say("/vastaa 1 arkistoitu Ei rahoitusta tänä vuonna.", user="pm", chat="private-pm",
                        private=True, lang="fi")
    assert any("julkaistu" in t for t in out), out
    async with bot.services.db.session() as s:
        idea = (await s.execute(select(Idea))).scalars().one()
        assert idea.status == "archived"


async def test_telegram_like_refusal_to_write_first_is_told_to_admins(bot):
    await _setup(bot, "fi")

    async def no_private(user_id: str) -> str | None:
        return None  # Telegram: the person has not opened the private chat

    bot.transport.private_chat = no_private
    for user in ("u1", "u2", "u3"):
        await bot.say("/tue 1", user=user, lang="fi")
    mark = len(bot.transport.sent)
    await bot.run_due()
    said = _to(bot, "group", mark)
    assert any(CONTACT_NAME in t and "/start" in t for t in said), said


async def test_a_private_chat_the_platform_refuses_is_told_to_admins(bot):
    """Telegram gives the private chat's id but refuses the send (403) before /start."""
    await _setup(bot, "fi")
    send = bot.transport.send

    async def refusing(chat_id, reply):
        if chat_id == DM:
            raise Forbidden("bot can't initiate conversation with a user")
        return await send(chat_id, reply)

    bot.transport.send = refusing
    for user in ("u1", "u2", "u3"):
        await bot.say("/tue 1", user=user, lang="fi")
    mark = len(bot.transport.sent)
    await bot.run_due()
    said = _to(bot, "group", mark)
    assert any(CONTACT_NAME in t and "/start" in t for t in said), said
    assert await bot.run_due() == 0  # done, not tried again


async def test_mydata_and_forgetme_cover_roles_and_answers(bot):
    await _setup(bot, "fi")
    for user in ("u1", "u2", "u3"):
        await bot.say("/tue 1", user=user, lang="fi")
    await bot.run_due()
    await bot.say("/vastaa 1 Selvitetään.", user=CONTACT, name=CONTACT_NAME, lang="fi")
    sent = await bot.event(chat_id=DM, sender_id=CONTACT, sender_name=CONTACT_NAME, text="/omattiedot",
                           is_private=True, language_hint="fi", message_id="d1")
    [file] = [s.file for s in sent if s.kind == "file"]
    data = json.loads(file.data)
    assert data["idea_answers"][0]["text"] == "Selvitetään." and data["idea_roles"][0]["role"] == "kaupungin yhteyshenkilö"
    await bot.event(chat_id=DM, sender_id=CONTACT, sender_name=CONTACT_NAME, text="/unohdaminut",
                    is_private=True, language_hint="fi", message_id="d2")
    await bot.event(chat_id=DM, sender_id=CONTACT, sender_name=CONTACT_NAME, text="/unohdaminut vahvista",
                    is_private=True, language_hint="fi", message_id="d3")
    async with bot.services.db.session() as s:
        assert await routes.holders(s, ["fake:group"]) == []
        [answer] = (await s.execute(select(routes.IdeaAnswer))).scalars().all()
        assert answer.text == "Selvitetään." and answer.answerer_key == "former-member"
        assert answer.answerer_name == "entinen jäsen"


async def test_reminder_time_and_taking_the_role_away(bot):
    w = await _setup(bot, "fi")
    out = await bot.say("/kynnys muistutus 7", user="boss", lang="fi")
    assert "7 päivässä" in out[0], out
    for user in ("u1", "u2", "u3"):
        await bot.say("/tue 1", user=user, lang="fi")
    await bot.run_due()
    start = bot.clock.now()
    mark = len(bot.transport.sent)
    await bot.run_due(start + timedelta(days=7, minutes=1))
    assert any("odottanut 7 päivää" in t for t in _to(bot, DM, mark))
    # the admin takes the role away (a reply to her message): she may no longer answer
    sent = await bot.event(chat_id="group", sender_id="boss", sender_name="Boss", language_hint="fi",
                           text="/vastaaja poista", message_id="rm1", named=((CONTACT, CONTACT_NAME),))
    assert [s.plain for s in sent] == [f"{CONTACT_NAME} ei enää vastaa täällä ideoihin."]
    assert await bot.say("/vastaa 1 Myöhässä", user=CONTACT, lang="fi") == [w["nobody"]]
    async with bot.services.db.session() as s:
        actions = [a.action for a in (await s.execute(select(AuditEvent).order_by(AuditEvent.id))).scalars()]
    assert actions.count("ideas.responder") == 2 and actions.count("ideas.threshold") == 2
