"""My data and forget me, end to end in fi/sv/en on SQLite and PostgreSQL: the person's data from
every feature is in the file; after forgetting, no table and no column of the whole database
holds their key, platform id, name or handle, and what stays (ideas, anonymous answers, counts)
is consistent."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from bot.testing import TestBot
from core.events import Kind
from handlers.experiments import START_WORD
from storage import privacy
from storage.audit import AuditEvent
from storage.checklist import ChecklistAnswer
from storage.digest import ActivityPerson, Digest, activity_mark
from storage.experiments import Experiment, ExperimentStep, Indicator, IndicatorValue
from storage.ideas import Idea, IdeaSupport
from storage.matrix import MatrixPollVote, MatrixReaction
from storage.polls import PollVote

UID, NAME, HANDLE = "wilhelmiina77", "Wilhelmiina Testaaja", "wilhelmiina"
KEY = f"fake:{UID}"
DM = f"private-{UID}"
FORMER = {"fi": "entinen jäsen", "sv": "en tidigare medlem", "en": "a former member"}
ASK_PRIVATE = {"fi": "yksityis", "sv": "privat", "en": "private chat"}
DONE = {"fi": "Valmis", "sv": "Klart", "en": "Done"}


async def act(bot: TestBot, lang: str, *, text: str = "", chat: str = "group", data: str | None = None,
              private: bool = False):
    """Wilhelmiina says or presses something."""
    n = next(bot.messages)
    kw = {"kind": Kind.BUTTON, "button_data": data} if data else {"text": text, "message_id": f"w{n}"}
    # keyed as a platform keys them (Telegram: "m:<chat>:<message>", a private chat's id is the
    # person's), so the bot's bookkeeping of events and deliveries is written too
    sent = await bot.event(event_key=f"m:{chat}:w{n}" if not data else f"c:{n}",chat_id=chat, sender_id=UID, sender_name=NAME, is_private=private, language_hint=lang,
                           chat_title=chat if not private else NAME, **kw)
    return sent


async def everything(bot: TestBot) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text value in the whole database."""
    found = []
    async with bot.services.db.session() as session:
        for table in SQLModel.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                for column, value in row.items():
                    if isinstance(value, bytes):
                        value = value.decode(errors="replace")
                    if isinstance(value, str):
                        found.append((table.name, column, value))
    return found


async def scenario(bot: TestBot, lang: str) -> None:
    bot.make_admin("admin")
    bot.make_admin(UID)  # she is an admin of the group: her actions are in its audit log
    assert await act(bot, lang, text=f"/lang chat {lang}")
    await act(bot, lang, text="/idea Yhteinen kasvimaa")
    await act(bot, lang, text="/edit 1 Yhteinen kasvimaa kirjaston taakse")  # in the idea's history
    await act(bot, lang, text="/meeting ylihuomenna klo 18 Talkoot")  # she is an admin: hers
    await bot.say("/idea Penkki puistoon", user="u2", name="Bertil", lang=lang)
    await act(bot, lang, text="/support 2")
    await bot.say("/support 1", user="u2", name="Bertil", lang=lang)
    # a named poll: Wilhelmiina starts it and votes, Bertil votes
    await act(bot, lang, text="/poll Lunch? | soup | salad")
    await act(bot, lang, data="polls:vote:1:0")
    await bot.press("polls:vote:1:1", user="u2")
    # a meeting and an RSVP
    await bot.say("/meeting huomenna klo 18 Kokous", user="admin", lang="fi")
    await act(bot, lang, data="meetings:rsvp:1:yes")
    # an experiment on Bertil's idea, Wilhelmiina in its team
    await bot.say(f"/experiment 2 {START_WORD['en']}", user="admin", lang="en")
    sent = await act(bot, lang, text="/join 2")
    assert "2" in sent[-1].plain, [s.plain for s in sent]
    # she answers ideas as the city contact: named by the admin, an idea of Bertil's reaches the
    # threshold, she gets it in private and answers it
    await bot.say("/threshold 1 city contact", user="admin", lang="en")
    await bot.event(chat_id="group", sender_id="admin", sender_name="Admin", text="/responder add city contact",
                    message_id="named1", chat_title="group", language_hint="en", named=((UID, NAME),))
    await bot.say("/idea Uimalaituri", user="u2", name="Bertil", lang=lang)
    await bot.say("/support 3", user="u2", name="Bertil", lang=lang)
    assert await bot.run_due() == 1
    sent = await act(bot, lang, text="/answer 3 Selvitämme laiturin paikan")
    assert any("Selvitämme laiturin paikan" in s.plain for s in sent), [s.plain for s in sent]
    # a self-assessment answer, in her private chat
    await bot.say("/checklist start", user="admin", lang="en")
    await act(bot, lang, data="checklist:go:1")
    await act(bot, lang, data="checklist:a:1:r1:4", chat=DM, private=True)
    # her own language
    await act(bot, lang, text=f"/lang {lang}", chat=DM, private=True)
    # a stored digest that names her (as an export of top ideas would); rows the scenario does not
    # reach through commands, written as their features write them: a phase move and a measured
    # value of hers, and the Matrix transport's bookkeeping of her reaction and native-poll vote
    async with bot.services.db.transaction() as session:
        now = bot.clock.now()
        exp = (await session.execute(select(Experiment))).scalars().one()
        session.add(ExperimentStep(experiment_id=exp.id, at=now, action="phase", from_phase="explore",
                                   to_phase="define", actor_key=KEY, actor_name=NAME, note="opimme paljon"))
        ind = Indicator(experiment_id=exp.id, number=1, key="kävijät", name="kävijät", created_at=now)
        session.add(ind)
        await session.flush()
        session.add(IndicatorValue(indicator_id=ind.id, value=12, measured_at=now, recorded_at=now,
                                   recorder_key=KEY, recorder_name=NAME))
        session.add(MatrixReaction(event_id="$r1", room_id="!room:example.org", sender=UID, key="👍",
                                   target_id="$m1", at=now))
        session.add(MatrixPollVote(start_id="$p1", voter=UID, ts=1))
        session.add(Digest(chat_key="fake:group", week="2026-W47", start=now, end=now, created_at=now, language=lang,
                           content=json.dumps({"top": [{"author_name": NAME, "author_key": KEY, "n": 2}]}),
                           text=f"💡 <b>{NAME}</b>: 2 👍"))
    # the activity marks reach the store (the forget flushes them too)
    from handlers.digest.activity import state_of
    await state_of(bot.services).activity.flush(bot.services)


async def check(bot: TestBot, lang: str) -> None:
    await scenario(bot, lang)
    mydata = bot.services.command("mydata").shown_name(lang)
    forgetme = bot.services.command("forgetme")

    # in the group: ask in private
    sent = await act(bot, lang, text=f"/{mydata}")
    assert len(sent) == 1 and ASK_PRIVATE[lang] in sent[0].plain.lower()

    # in private: the file and the summary
    sent = await act(bot, lang, text=f"/{mydata}", chat=DM, private=True)
    assert [s.kind for s in sent] == ["file", "message"]
    data = json.loads(sent[0].file.data)
    assert data["person"] == {"key": KEY, "name": NAME, "language": lang}
    assert [i["text"] for i in data["ideas"]] == ["Yhteinen kasvimaa kirjaston taakse"]
    assert [(s["chat"], s["idea"]) for s in data["supports"]] == [("fake:group", 2)]
    assert [(v["poll"], v["choices"]) for v in data["votes"]] == [(1, ["soup"])]
    assert [p["number"] for p in data["polls_created"]] == [1]
    assert [(r["meeting"], r["answer"]) for r in data["rsvps"]] == [(1, "yes")]
    assert [(c["round"], [a["value"] for a in c["answers"]]) for c in data["checklist"]] == [(1, [4])]
    assert [(c["idea"], c["action"]) for c in data["idea_changes"]] == [(1, "edited")]
    assert [m["title"] for m in data["meetings_created"]] == ["Talkoot"]
    assert (data["experiment_steps"], data["indicator_values"]) == (1, 1)
    assert [e["roles"] for e in data["experiments"]] == [["owner", "member"]]
    assert {a["chat"] for a in data["activity"]} >= {"fake:group", f"fake:{DM}"}
    assert sorted(a["action"] for a in data["audit"]) == ["chat.language", "meeting.create"]
    assert [(a["idea"], a["role"], a["text"]) for a in data["idea_answers"]] == [(3, "city contact", "Selvitämme laiturin paikan")]
    assert [(r["chat"], r["role"]) for r in data["idea_roles"]] == [("fake:group", "city contact")]
    summary = sent[1].plain
    assert NAME in summary and "JSON" in summary
    if lang == "fi":
        assert "1 idea" in summary and "1 ääni nimellä kyselyssä" in summary
    elif lang == "sv":
        assert "1 idé" in summary
    else:
        assert "1 idea" in summary and "1 named vote in a poll" in summary

    # forget me: not in a group
    sent = await act(bot, lang, text=f"/{forgetme.shown_name(lang)}")
    assert len(sent) == 1 and ASK_PRIVATE[lang] in sent[0].plain.lower() and not sent[0].reply.buttons
    # asked first in private, nothing erased yet
    sent = await act(bot, lang, text=f"/{forgetme.shown_name(lang)}", chat=DM, private=True)
    assert len(sent) == 1
    button = sent[0].reply.buttons[0][0]
    assert button.data.startswith("privacy:forget:")
    assert any(NAME in value for _t, _c, value in await everything(bot))
    # an expired request does nothing
    bot.clock.advance(minutes=11)
    sent = await act(bot, lang, data=button.data, chat=DM, private=True)
    assert "/" + forgetme.shown_name(lang) in sent[-1].plain
    assert any(NAME in value for _t, _c, value in await everything(bot))
    # asked again and confirmed with the word
    await act(bot, lang, text=f"/{forgetme.shown_name(lang)}", chat=DM, private=True)
    confirm = forgetme.subcommand("confirm").shown_name(lang)
    sent = await act(bot, lang, text=f"/{forgetme.shown_name(lang)} {confirm}", chat=DM, private=True)
    assert DONE[lang] in sent[0].plain
    # the card of the idea she supported shows the count without her
    cards = [x.plain for x in sent if x.kind == "edit" and "#2" in x.plain]
    assert len(cards) == 1 and "0" in cards[0].split("\n")[-1]
    # and the open poll she voted in shows the counts without her vote
    assert [x for x in sent if x.kind == "edit" and "Lunch?" in x.plain]

    # nowhere in the whole database but the bookkeeping of the confirmation just handled (no
    # text: its event id and its reply's delivery key), and that goes with the two-day prune
    needles = [KEY.lower(), UID.lower(), NAME.lower(), HANDLE.lower()]

    async def left():
        return sorted({(t, c) for t, c, v in await everything(bot) if any(n in v.lower() for n in needles)})

    assert set(await left()) <= {("processedevent", "event_id"), ("delivery", "key"), ("delivery", "chat_key")}
    before = len(bot.transport.sent)
    bot.clock.advance(days=2, minutes=1)
    await bot.run_due()
    await bot.app.prune()
    # her unfinished self-assessment is not reminded (anywhere: nobody is there to remind)
    assert not [x for x in bot.transport.sent[before:] if x.reply and any(
        "checklist:go:1" == btn.data for row in x.reply.buttons for btn in row)]
    assert await left() == []
    async with bot.services.db.session() as session:
        marks = (await session.execute(select(ActivityPerson))).scalars().all()
        assert not [m for m in marks if m.person == activity_mark(m.chat_key, m.week, KEY)]
        assert marks  # Bertil's and the admin's stay
        # ideas stay, by a former member, and the counts agree with the supports left
        ideas = {i.number: i for i in (await session.execute(select(Idea))).scalars()}
        assert ideas[1].author_key == privacy.FORMER_MEMBER and ideas[1].author_name == FORMER[lang]
        supports = (await session.execute(select(IdeaSupport))).scalars().all()
        for idea in ideas.values():
            assert idea.support_count == sum(1 for s in supports if s.idea_id == idea.id)
        assert ideas[1].support_count == 1 and ideas[2].support_count == 0
        # Bertil's vote stays; hers is gone; the checklist answer stays as an anonymous one
        assert [v.voter for v in (await session.execute(select(PollVote))).scalars()] == ["fake:u2"]
        # her admin action stays in the group's audit log, by a former member
        audit = (await session.execute(select(AuditEvent).where(AuditEvent.action == "chat.language"))).scalars().all()
        assert [(a.chat_key, a.actor_key, a.actor_name) for a in audit] == [
            ("fake:group", privacy.FORMER_MEMBER, FORMER[lang])]
        # her phase move and her measurement stay, by a former member
        assert [(x.actor_key, x.note) for x in (await session.execute(select(ExperimentStep))).scalars()
                if x.action == "phase"] == [(privacy.FORMER_MEMBER, "opimme paljon")]
        assert [x.value for x in (await session.execute(select(IndicatorValue))).scalars()] == [12]
        # the digest keeps its figures, by a former member
        digest = (await session.execute(select(Digest))).scalars().one()
        assert digest.data() == {"top": [{"author_name": FORMER[lang], "author_key": FORMER[lang], "n": 2}]}
        assert digest.text == f"💡 <b>{FORMER[lang]}</b>: 2 👍"
        answers = (await session.execute(select(ChecklistAnswer))).scalars().all()
        assert len(answers) == 1 and answers[0].person_key.startswith("anon:")
    # what she made still shows, by a former member, in the chat's language
    shown = await bot.say("/idea 1", user="u2", lang=lang)
    assert FORMER[lang] in shown[0]
    # and asking again finds nothing of hers
    sent = await act(bot, lang, text=f"/{mydata}", chat=DM, private=True)
    data = json.loads(sent[0].file.data)
    assert not any(data[k] for k in ("ideas", "supports", "votes", "rsvps", "checklist", "experiments", "activity"))


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_mydata_and_forgetme_sqlite(make_bot, lang):
    await check(await make_bot(), lang)


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_mydata_and_forgetme_postgresql(make_bot, pg_url, lang):
    await check(await make_bot(database_url=pg_url), lang)


def test_every_personal_column_is_known():
    """A table with a column that looks like it holds a person must be in PERSON_COLUMNS (and so
    be handled by forget), or be listed here as holding none."""
    from storage.migrate import load_models

    load_models()

    looks_personal = ("person", "author", "sender", "voter", "created_by", "started_by", "closed_by",
                      "actor", "owner", "recorder", "creator", "_name")
    not_people = {("indicator", "name"), ("transportstate", "name"), ("job", "lease_owner"),
                  ("processedevent", "owner"),  # the bot process handling an event
                  ("checklistresponse", "show_name"), ("poll", "voters")}
    missing = []
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if any(w in column.name for w in looks_personal) or column.name == "name":
                if (table.name, column.name) in not_people:
                    continue
                if column.name not in privacy.PERSON_COLUMNS.get(table.name, {}):
                    missing.append(f"{table.name}.{column.name}")
    assert missing == [], missing
    stale = [f"{t}.{c}" for t, cols in privacy.PERSON_COLUMNS.items() for c in cols
             if t not in SQLModel.metadata.tables or c not in SQLModel.metadata.tables[t].c]
    assert stale == []


def test_scrub_replaces_whole_words_only():
    assert privacy._scrub("Anna ja Annankatu, (Anna)", ["Anna"], "X") == "X ja Annankatu, (X)"


async def test_the_private_chat_works_again_after_forgetme(bot):
    """/forgetme deletes the private chat's row with the rest: the next command there that keeps a
    chat setting makes it again (no apology)."""
    await bot.say("/unohdaminut", user="p1", chat="dm-p1", private=True)
    sent = await bot.say("/unohdaminut vahvista", user="p1", chat="dm-p1", private=True)
    assert sent and "Valmis" in sent[-1], sent
    sent = await bot.say("/kokousasetukset hiljaisuus 21-8", user="p1", chat="dm-p1", private=True)
    assert sent and "21.00–8.00" in sent[-1], sent
