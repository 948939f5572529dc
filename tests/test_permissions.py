"""Roles in one table (handlers/permissions.py): a member, a chat admin, a coordinator and an
operator, each in a group and in a private chat, try every command, subcommand and button kind.
What the table says is what happens: a denied action gets the table's refusal in the person's
language and changes nothing in the store; an allowed one never gets it. /help and the Telegram
command menus list exactly what the person may use."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text
from sqlmodel import SQLModel

from bot.telegram.menus import Menus
from core.events import Kind, Role
from core.i18n import use_locale
from handlers import load_features
from handlers.base import Command
from handlers.checklist.keys import ANSWER, BACK, DONE, GO, NAME, SKIP, STOP, TOGGLE
from handlers.experiments.keys import JOIN, START
from handlers.ideas.keys import ANSWER as ANSWER_IDEA
from handlers.ideas.keys import PAGE, SUPPORT
from handlers.meetings.keys import RSVP, TIME
from handlers.permissions import PERMISSIONS, command_action, declared_actions, missing, usable
from handlers.polls.keys import VOTE
from handlers.privacy.keys import CONFIRM
from storage import checklist as checklist_store
from storage import experiments as experiment_store
from storage import ideas as idea_store
from storage import meetings as meeting_store
from storage import polls as poll_store

ROLES = {"member": Role.MEMBER, "admin": Role.ADMIN, "coordinator": Role.COORDINATOR, "operator": Role.OPERATOR}
GROUP, TESTER = "group", "tester"
PRIVATE = f"private-{TESTER}"
#: the store's bookkeeping of any event (its handling, the reply's delivery, the activity counts, the
#: person as last seen): not what a refused action would change
BOOKKEEPING = {"processedevent", "delivery", "activitycount", "activityperson", "person", "alembic_version"}


@dataclass(frozen=True)
class Try:
    action: str
    text: str = ""  # a command
    button: str = ""  # or a button's data
    details: tuple[tuple[str, object], ...] = ()  # what the refusal names


def _tries(ids: dict[str, int]) -> list[Try]:
    """One try of every entry, in an order where an allowed try leaves the next ones something to
    be refused on (the team's actions before the experiment closes, joining after them, erasing
    last). Made against the world of ``_world``: ideas 1 and 2, poll 1 and experiment 2 are
    another member's, meeting 1 and the checklist round an admin's."""
    until = int(time.time()) + 600
    rid, q = ids["round"], "r1"
    return [
        Try("/help", "/help"), Try("/lang", "/lang fi"), Try("/lang chat", "/lang chat fi"), Try("/start", "/start"),
        Try("/idea", "/idea Uusi penkki torille"), Try("/ideas", "/ideas"), Try("/ideas threads", "/ideas threads on"),
        Try("/support", "/support 1"), Try("/unsupport", "/unsupport 1"),
        Try("/edit", "/edit 1 Penkki muokattuna", details=(("number", 1),)),
        Try("/withdraw", "/withdraw 1", details=(("number", 1),)),
        Try("/status", "/status 1 käsitelty"),
        Try("ideas:sup", button=SUPPORT.data(idea=ids["idea1"])),
        Try("ideas:page", button=PAGE.data(order="new", tag="", status="", words="", page=1)),
        Try("/answer", "/answer 1 Kiitos, selvitämme asian", details=(("number", 1),)),
        Try("ideas:ans", button=ANSWER_IDEA.data(idea=ids["idea1"], move=""), details=(("number", 1),)),
        Try("/threshold show", "/threshold"), Try("/threshold", "/threshold 5 kaupungin yhteyshenkilö"),
        Try("/threshold remind", "/threshold remind 7"), Try("/threshold area", "/threshold area 5 koordinaattorit"),
        Try("/responder show", "/responder"), Try("/responder add", "/responder add 12345678 kaupungin yhteyshenkilö"),
        Try("/responder remove", "/responder remove 12345678"), Try("/threshold off", "/threshold off"),
        Try("/poll", "/poll Kumpi päivä? | ma | ti"), Try("/poll show", "/poll 1"),
        Try("polls:vote", button=VOTE.data(poll=ids["poll1"], option=0)),
        Try("/poll extend", "/poll extend 1 2 päivää"), Try("/poll close", "/poll close 1"),
        Try("/poll cancel", "/poll cancel 1"), Try("/poll settings", "/poll settings kaikki"), Try("/polls", "/polls"),
        Try("/poll area", "/poll area Kumpi ilta? | ma | ti"),
        Try("/meeting", "/meeting ensi torstaina klo 17 Siivoustalkoot"), Try("/meeting show", "/meeting 1"),
        Try("/meetings", "/meetings"), Try("/rsvp", "/rsvp 1 kyllä"),
        Try("meetings:rsvp", button=RSVP.data(meeting=ids["meeting1"], answer="yes")),
        Try("/calendar", "/calendar"), Try("/calendar subscribe", "/calendar subscribe"),
        Try("/calendar new", "/calendar new"), Try("/meetingsettings", "/meetingsettings"),
        Try("meetings:time", button=TIME.data(poll=ids["timepoll1"], option=0, answer="yes")),
        Try("/meeting propose", "/meeting propose 14.12. klo 18 Talkoot | 15.12. klo 18"),
        Try("/meeting pick", "/meeting pick 1 2"),
        Try("/meetingsettings reminders", "/meetingsettings reminders 1 d"),
        Try("/meetingsettings quiet", "/meetingsettings quiet 21-8"),
        Try("/skipmeeting", "/skipmeeting 1"), Try("/movemeeting", "/movemeeting 1 ensi perjantaina klo 18"),
        Try("/cancelmeeting", "/cancelmeeting 1"),
        Try("/checklist list", "/checklist list"), Try("/checklist start", "/checklist start"),
        Try("/checklist resume", "/checklist resume"), Try("/checklist skip", "/checklist skip"),
        Try("/checklist back", "/checklist back"), Try("/checklist stop", "/checklist stop"),
        Try("checklist:go", button=GO.data(round=rid)), Try("checklist:a", button=ANSWER.data(round=rid, question=q, value="3")),
        Try("checklist:t", button=TOGGLE.data(round=rid, question=q, option="x")),
        Try("checklist:d", button=DONE.data(round=rid, question=q)),
        Try("checklist:skip", button=SKIP.data(round=rid, question=q)), Try("checklist:back", button=BACK.data(round=rid)),
        Try("checklist:stop", button=STOP.data(round=rid)), Try("checklist:name", button=NAME.data(round=rid, show=1)),
        Try("/checklist profile", "/checklist profile"), Try("/checklist compare", "/checklist compare"),
        Try("/checklist areas", "/checklist areas"), Try("/checklist export", "/checklist export csv"),
        Try("/checklist share", "/checklist share on"), Try("/checklist mode", "/checklist mode group"),
        Try("/checklist close", "/checklist close"),
        Try("/experiment show", "/experiment 2"),
        Try("/phase", "/phase 2 seuraava", details=(("number", 2), ("command", "/mukaan"))),
        Try("/indicator", "/indicator 2 kävijät | hlö | 20", details=(("number", 2), ("command", "/mukaan"))),
        Try("/measure", "/measure 2 1 5", details=(("number", 2), ("command", "/mukaan"))),
        Try("/experiment ask", "/experiment 2 ask weekly", details=(("number", 2), ("command", "/mukaan"))),
        Try("/experiment start", "/experiment 1 start"),
        Try("experiments:start", button=START.data(idea=ids["idea1"])),
        Try("/experiment done", "/experiment 2 done Hyvin meni"),
        Try("/experiment abandon", "/experiment 2 abandon Ei tilaa"),
        Try("/join", "/join 2"), Try("experiments:join", button=JOIN.data(experiment=ids["experiment2"])),
        Try("/leave", "/leave 2"),
        Try("/digest show", "/digest"), Try("/digest", "/digest pe 16:00"), Try("/digest off", "/digest off"),
        Try("/digest on", "/digest on"),
        Try("/area show", "/area"), Try("/area", "/area Maunula"), Try("/publish show", "/publish"),
        Try("/publish", "/publish ideat"), Try("/publish none", "/publish none"), Try("/area none", "/area none"),
        Try("/summary", "/summary"), Try("/auditlog", "/auditlog"),
        Try("/mydata", "/mydata"), Try("/forgetme", "/forgetme"), Try("/forgetme confirm", "/forgetme confirm"),
        Try("privacy:forget", button=CONFIRM.data(until=until)),
        Try("/link", "/link"), Try("/unlink", "/unlink"),
    ]


async def _world(bot, private: bool = False) -> dict[str, int]:
    """Another member's ideas 1 and 2 and poll 1, an admin's meeting 1, experiment 2 (the other
    member owns it), in the group or in the tester's private chat (where the
    store keeps them alike), and the group's checklist round; the tester has said hello in both."""
    chat = PRIVATE if private else GROUP
    bot.make_admin("boss", GROUP)

    async def say(text: str, user: str) -> str:
        return (await bot.say(text, user=user, chat=chat, private=private, lang="fi"))[0]

    assert "#1" in await say("/idea Penkki puistoon", "auth")
    assert "#2" in await say("/idea Kesäterassi kirjaston eteen", "auth")
    assert "#1" in await say("/kysely Mihin aikaan? | 17 | 18", "auth")
    assert "#1" in await say("/kokous ensi tiistaina klo 18 Kehräkokous", "boss")
    assert "#1" in await say("/kokous ehdota 10.12. klo 18 Kevätkokous | 11.12. klo 17 | 12.12. klo 12", "boss")
    assert "kokeilu" in await say("/kokeilu 2 aloita", "boss")
    assert "vastuuhenkilö" in await say("/mukaan 2", "auth")
    await bot.say("/itsearviointi aloita", user="boss", lang="fi")  # a round is the group's
    await bot.say("/help", user=TESTER, lang="fi")
    await bot.say("/help", user=TESTER, chat=PRIVATE, private=True, lang="fi")
    async with bot.services.db.session() as s:
        idea1 = await idea_store.by_number(s, f"fake:{chat}", 1)
        idea2 = await idea_store.by_number(s, f"fake:{chat}", 2)
        poll1 = await poll_store.by_number(s, f"fake:{chat}", 1)
        meeting1 = await meeting_store.by_number(s, f"fake:{chat}", 1)
        timepoll1 = await meeting_store.time_poll_by_number(s, f"fake:{chat}", 1)
        experiment2 = await experiment_store.by_idea(s, idea2.id)
        rounds = (await s.execute(select(checklist_store.ChecklistRound))).scalars().all()
    assert experiment2 is not None and experiment2.owner_key == "fake:auth" and len(rounds) == 1
    return {"idea1": idea1.id, "poll1": poll1.id, "meeting1": meeting1.id, "experiment2": experiment2.id,
            "round": rounds[0].id, "timepoll1": timepoll1.id}


async def _snapshot(bot) -> dict[str, list]:
    out = {}
    async with bot.services.db.session() as s:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in BOOKKEEPING:
                continue
            rows = (await s.execute(text(f'SELECT * FROM "{table.name}"'))).all()
            out[table.name] = sorted(json.dumps([str(v) for v in row]) for row in rows)
    return out


def _expected_refusal(bot, action: str, details: dict, raised: bool = False) -> str:
    rule = PERMISSIONS[action]
    with use_locale(bot.services.catalogs, "fi"):
        fi = rule.refusal(raised=raised, **details)
    with use_locale(bot.services.catalogs, "en"):
        assert fi != rule.refusal(raised=raised, **details)  # translated
    return fi


def _said(sent) -> list[str]:
    return [s.text if s.kind == "ack" else s.plain for s in sent]


async def _try(bot, t: Try, private: bool) -> list[str]:
    chat = PRIVATE if private else GROUP
    if t.button:
        sent = await bot.event(chat_id=chat, sender_id=TESTER, sender_name="Tester", kind=Kind.BUTTON,
                               button_data=t.button, is_private=private, language_hint="fi")
        return _said(sent)
    return await bot.say(t.text, user=TESTER, chat=chat, private=private, lang="fi")


def _role_here(role: Role, private: bool) -> Role:
    return max(role, Role.ADMIN) if private else role  # a person administers their own private chat


async def _bot_for(make_bot, tmp_path, name: str, place: str):
    kw = {"coordinators": [f"fake:{TESTER}"]} if name == "coordinator" else (
        {"operators": [f"fake:{TESTER}"]} if name == "operator" else {})
    bot = await make_bot(data_dir=tmp_path / f"{name}-{place}", **kw)
    if name == "admin":
        bot.make_admin(TESTER)
    return bot


def test_the_table_names_every_declaration_and_nothing_else():
    without, stale = missing(load_features())
    assert without == [] and stale == []
    # each role is everything the one before it is, and the operator is in the table's ladder
    assert Role.MEMBER < Role.ADMIN < Role.COORDINATOR < Role.OPERATOR
    for action, rule in PERMISSIONS.items():
        allowed = [rule.allows(role) for role in Role]
        assert allowed == sorted(allowed), action
    assert not any(rule.role == Role.OPERATOR for rule in PERMISSIONS.values())  # none is the operators' alone yet


def test_there_is_one_try_for_every_entry():
    ids = dict.fromkeys(("idea1", "poll1", "meeting1", "experiment2", "round", "timepoll1"), 1)
    tried = [t.action for t in _tries(ids)]
    assert sorted(tried) == sorted(PERMISSIONS) and len(tried) == len(set(tried))
    assert set(declared_actions(load_features())) == set(PERMISSIONS)


@pytest.mark.parametrize("place", ["group", "private"])
@pytest.mark.parametrize("name", list(ROLES))
async def test_each_role_tries_every_command_and_button(make_bot, tmp_path, name, place):
    bot = await _bot_for(make_bot, tmp_path, name, place)
    private = place == "private"
    role = _role_here(ROLES[name], private)
    ids = await _world(bot, private)
    features = bot.services.features
    commands = {command_action(cmd, sub): (cmd, sub) for f in features for cmd in f.commands
                for sub in (None, *cmd.subcommands)}
    with use_locale(bot.services.catalogs, "fi"):
        in_private = "Lähetä tämä komento minulle yksityisviestinä."
    allowed_seen: set[str] = set()
    for t in _tries(ids):
        rule = PERMISSIONS[t.action]
        before = await _snapshot(bot)
        said = await _try(bot, t, private)
        assert said, (t.action, "no answer")
        cmd, sub = commands.get(t.action, (None, None))
        if cmd is not None and not private and (cmd.private_only or (sub is not None and sub.private_only)):
            assert said == [in_private], (t.action, said)  # not a role's: where
            continue
        # the tester owns nothing of the world: an owner's entry is decided by the role alone
        refusal = _expected_refusal(bot, t.action, dict(t.details))
        if rule.allows(role, owner=False):
            assert refusal not in said, (name, place, t.action, said)
            allowed_seen.add(t.action)
        else:
            assert said == [refusal], (name, place, t.action, said)
            assert await _snapshot(bot) == before, (name, place, t.action, "a refused action changed the store")

    # /help lists exactly the commands the person may use here: one tried and let through, or
    # one an owner may use (the tester owns nothing; test_owners_may shows the owners)
    with use_locale(bot.services.catalogs, "fi"):
        listed = {line.split()[0] for line in (await bot.say("/help", user=TESTER, chat=PRIVATE if private else GROUP,
                                                             private=private, lang="fi"))[0].split("\n")
                  if line.startswith("/")}
    expected = set()
    for f in features:
        for cmd in f.commands:
            if cmd.hidden or (cmd.private_only and not private):
                continue
            actions = [command_action(cmd)] * (cmd.handler is not None) + [command_action(cmd, s) for s in cmd.subcommands]
            if any(a in allowed_seen or (PERMISSIONS[a].owner and PERMISSIONS[a].role is None) for a in actions):
                expected.add("/" + cmd.shown_name("fi"))
    assert listed == expected, (name, place, sorted(listed ^ expected))


async def test_owners_may_what_the_table_lets_an_owner(bot):
    """The poll's creator, the idea's author and the experiment's owner and team, members all."""
    await _world(bot)
    say = bot.say
    assert (await say("/muokkaa 1 Penkki ja roskis puistoon", user="auth", lang="fi"))[0] == "Idea #1 päivitetty."
    assert "#1" in (await say("/kysely jatka 1 2 päivää", user="auth", lang="fi"))[0]
    assert "Kokeilu #2" in (await say("/vaihe 2 seuraava", user="auth", lang="fi"))[0]
    assert (await say("/kokeilu 2 kysy viikoittain", user="auth", lang="fi"))[0].startswith("Kysyn")
    assert "valmis" in (await say("/kokeilu 2 valmis Terassi jatkuu", user="auth", lang="fi"))[0]
    assert (await say("/peru_idea 1", user="auth", lang="fi"))[0] == "Idea #1 peruttu."
    # someone else, a member: the table's refusals
    assert await say("/kysely sulje 1", user="other", lang="fi") == [
        "Vain kyselyn tekijä ja ryhmän ylläpitäjät voivat tehdä tämän."]


async def test_a_chat_setting_raises_who_may_start_polls(bot):
    await _world(bot)
    assert "vain ylläpitäjät" in (await bot.say("/kysely asetukset ylläpitäjät", user="boss", lang="fi"))[0]
    assert await bot.say("/kysely Kahvia? | kyllä | ei", user="auth", lang="fi") == [
        "Tässä ryhmässä vain ylläpitäjät voivat aloittaa kyselyjä."]
    assert "Mihin aikaan?" in (await bot.say("/kysely 1", user="auth", lang="fi"))[0]  # looking is everyone's
    assert "Kahvia?" in (await bot.say("/kysely Kahvia? | kyllä | ei", user="boss", lang="fi"))[0]
    assert await bot.say("/kysely Kahvia? | kyllä | ei", user="auth", chat="other", lang="fi") != [
        "Tässä ryhmässä vain ylläpitäjät voivat aloittaa kyselyjä."]  # the setting is the chat's


@pytest.mark.parametrize("place", ["group", "private"])
@pytest.mark.parametrize("name", list(ROLES))
async def test_menus_list_what_help_lists(bot, name, place):
    """The Telegram command menu of a role and place is /help's list there."""
    private = place == "private"
    role = _role_here(ROLES[name], private)
    menus = SimpleNamespace(services=bot.services)
    menu = {c.command for c in Menus.command_menu(menus, "fi", role=role, private=private)}
    usable_here = {cmd.shown_name("fi") for f in bot.services.features for cmd in f.commands
                   if usable(cmd, role, private=private)}
    assert menu == usable_here
    if name == "member" and not private:
        assert "tila" not in menu and "idea" in menu and "omattiedot" not in menu
    if name in ("coordinator", "operator"):
        assert ("yhteenveto" in menu) == private  # a coordinator's command, in a private chat


def test_coordinators_and_operators_get_their_private_chat_menus():
    """A Telegram private chat's id is the person's: each configured one gets the menu of their role."""
    services = SimpleNamespace(features=load_features(), coordinators=frozenset({"telegram:42", "telegram:9", "matrix:@pm:x"}),
                               operators=frozenset({"telegram:7", "telegram:9"}))
    personal = Menus._personal(SimpleNamespace(services=services))
    assert sorted((scope.chat_id, role) for scope, role in personal) == [
        (7, Role.OPERATOR), (9, Role.OPERATOR), (42, Role.COORDINATOR)]


async def test_help_for_a_command_lists_only_the_subcommands_one_may_use(bot):
    out = (await bot.say("/help kysely", lang="fi"))[0]
    assert "/kysely asetukset" not in out and "/kysely sulje" in out  # a member closes their own poll
    bot.make_admin("u1")
    assert "/kysely asetukset" in (await bot.say("/help kysely", lang="fi"))[0]


def test_a_command_without_a_handler_is_listed_by_its_subcommands():
    checklist = next(cmd for f in load_features() for cmd in f.commands if cmd.name == "checklist")
    assert isinstance(checklist, Command) and checklist.handler is None
    assert usable(checklist, Role.MEMBER, private=False)
