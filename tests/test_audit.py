"""The audit log: every admin or coordinator action is recorded once, in the transaction of the
change, with who, when, what, before and after; admins read their chat's log paged, members
cannot; coordinators export it; an event handled again records nothing twice."""

from __future__ import annotations

import json
from collections import Counter

from sqlalchemy import select

from bot.testing import TestBot
from core.events import Kind
from core.i18n import Catalogs, use_locale
from handlers.audit.render import change_text
from handlers.digest import render_export
from storage.audit import AuditEvent

#: each admin action (English names, one event each) and the record it leaves
ACTIONS = [
    ("/status 1 discussed good one", "idea.status", "idea:1", {"status": "new"},
     {"status": "discussed", "reason": "good one"}),
    ("/poll extend 1 2 days", "poll.extend", "poll:1", None, None),
    ("/poll close 1", "poll.close", "poll:1", {"status": "open"}, {"status": "closed"}),
    ("/poll cancel 2", "poll.cancel", "poll:2", {"status": "open"}, {"status": "cancelled"}),
    ("/poll settings admins", "poll.settings", "chat", {"who_may_start": "everyone"}, {"who_may_start": "admins"}),
    ("/meeting every tuesday at 18 Weekly", "meeting.create", "meeting:1", None, None),
    ("/skipmeeting 1 1.12.", "meeting.skip", "meeting:1", {"occurrence": "2026-12-01T18:00", "skipped": False},
     {"occurrence": "2026-12-01T18:00", "skipped": True}),
    ("/movemeeting 1 24.11. -> wed 25.11. at 17", "meeting.move", "meeting:1", None, None),
    ("/meetingsettings quiet off", "meeting.settings", "chat", None, None),
    ("/cancelmeeting 1", "meeting.cancel", "meeting:1", {"cancelled": False}, {"cancelled": True}),
    ("/checklist mode group", "checklist.mode", "chat", {"in_group": False}, {"in_group": True}),
    ("/area Maunula", "chat.area", "chat", {"area": None}, {"area": "Maunula"}),
    ("/checklist share on", "checklist.share", "area:Maunula", {"share": False}, {"share": True}),
    ("/checklist start", "checklist.start", None, None, None),
    ("/checklist close", "checklist.close", None, {"open": True}, {"open": False}),
    ("/publish ideas polls", "area.publish", "area:Maunula", {"publish": []}, {"publish": ["ideas", "polls"]}),
    ("/digest off", "digest.settings", "chat", None, None),
    ("/experiment 2 start", "experiment.start", "experiment:2", None, None),
    ("/join 2", None, None, None, None),  # a member's own step: not in the log
    ("/phase 2 next tried it", "experiment.phase", "experiment:2", {"phase": "explore"},
     {"phase": "define", "note": "tried it"}),
    ("/experiment 2 done it worked", "experiment.done", "experiment:2", {"status": "active"},
     {"status": "done", "outcome": "it worked"}),
    ("/experiment 3 start", "experiment.start", "experiment:3", None, None),
    ("/experiment 3 abandon no room", "experiment.abandon", "experiment:3", {"status": "active"},
     {"status": "abandoned", "outcome": "no room"}),
    ("/lang chat sv", "chat.language", "chat", {"language": None}, {"language": "sv"}),
]


async def _events(bot, chat_key: str = "fake:group") -> list[AuditEvent]:
    async with bot.services.db.session() as s:
        return list((await s.execute(select(AuditEvent).where(AuditEvent.chat_key == chat_key)
                                     .order_by(AuditEvent.id))).scalars())


def _say(text: str, key: str, *, user: str = "admin", replay: bool = False) -> dict:
    return dict(chat_id="group", sender_id=user, sender_name=user.capitalize(), text=text, language_hint="en",
                message_id=f"msg-{key}", event_key=key, replay=replay, chat_title="group")


async def _setup(bot) -> None:
    for text in ("/idea Terrace by the library", "/idea Benches in the park", "/idea Shared garden",
                 "/poll Which evening? | Tue | Wed", "/poll Lunch? | yes | no"):
        await bot.say(text, user="u1", lang="en")
    bot.make_admin("admin")


async def test_each_admin_action_is_recorded_once_with_before_and_after_even_when_handled_again(bot):
    await _setup(bot)
    for n, (text, *_rest) in enumerate(ACTIONS):
        sent = await bot.event(**_say(text, f"a{n}"))
        assert sent, text
        # the same event handled again (a stop cut it short before it was marked done)
        await bot.event(**_say(text, f"a{n}", replay=True))
    events = await _events(bot)
    recorded = [a for a in ACTIONS if a[1] is not None]
    assert [ev.action for ev in events] == [action for _t, action, *_r in recorded]
    for ev, (text, _action, target, before, after) in zip(events, recorded, strict=True):
        assert (ev.actor_key, ev.actor_name, ev.at) == ("fake:admin", "Admin", bot.clock.now()), text
        if target is not None:
            assert ev.target == target, text
        if before is not None:
            assert ev.before_data() == before, text
        if after is not None:
            assert ev.after_data() == after, text
        assert ev.before != ev.after, text
    by = {ev.action: ev for ev in events}
    assert by["meeting.create"].before is None and by["meeting.create"].after_data()["title"] == "Weekly"
    assert by["meeting.settings"].before_data()["quiet"] == [21, 8]
    assert by["meeting.settings"].after_data()["quiet"] is None
    assert by["digest.settings"].before_data()["on"] is True and by["digest.settings"].after_data()["on"] is False
    assert by["experiment.start"].after_data()["phase"] == "explore"
    assert by["checklist.start"].target == by["checklist.close"].target

    # the same setting set again changes nothing, so it is not recorded either
    await bot.say("/poll settings admins", user="admin", lang="en")
    await bot.say("/lang chat sv", user="admin", lang="en")
    assert len(await _events(bot)) == len(recorded)


async def test_a_poll_closed_by_its_job_is_no_ones_action(bot):
    await bot.say("/poll Q? | a | b | closes in 30 min", user="u1", lang="en")
    bot.clock.advance(hours=1)
    await bot.run_due()
    assert await _events(bot) == []


async def test_a_chat_move_is_recorded_as_the_bots_action_in_the_new_chat(bot):
    await bot.say("/idea Terrace", user="u1")
    bot.make_admin("admin")
    await bot.say("/status 1 discussed", user="admin")
    await bot.event(chat_id="group", sender_id="group", kind=Kind.CHAT_MOVED, target_id="supergroup")
    await bot.event(chat_id="group", sender_id="group", kind=Kind.CHAT_MOVED, target_id="supergroup")  # again
    assert await _events(bot, "fake:group") == []
    moved = await _events(bot, "fake:supergroup")
    assert [ev.action for ev in moved] == ["idea.status", "chat.move"]  # the log moved with the chat
    assert (moved[1].actor_key, moved[1].before_data(), moved[1].after_data()) == (
        "system", {"chat": "fake:group"}, {"chat": "fake:supergroup"})


async def test_the_log_is_paged_newest_first_for_admins_only(bot):
    await bot.say("/idea Terrace", user="u1")
    bot.make_admin("admin")
    assert await bot.say("/loki", user="admin") == ["Ryhmän lokiin ei ole vielä kirjattu mitään."]
    for n in range(12):  # 12 changes: two pages
        await bot.say(f"/poll settings {('admins', 'everyone')[n % 2]}", user="admin", name="Pekka", lang="en")
    assert await bot.say("/loki", user="u1") == ["Vain ryhmän ylläpitäjät voivat lukea sen lokia."]
    assert await bot.say("/logg", user="u1", lang="sv") == ["Endast gruppens administratörer kan läsa dess logg."]
    first = (await bot.say("/loki", user="admin"))[0].splitlines()
    assert first[0] == "Loki: 12 kirjattua toimenpidettä, sivu 1/2"
    assert len(first) == 1 + 10 + 1 and first[-1] == "Vanhemmat: /loki sivu 2"
    assert first[1] == "ma 23.11.2026 klo 12.00 · Pekka · kyselyjen asetukset (chat): ketkä saavat aloittaa kyselyjä: admins → everyone"
    second = (await bot.say("/auditlog page 2", user="admin", lang="en"))[0].splitlines()
    assert second[0] == "Audit log: 12 recorded actions, page 2/2" and len(second) == 3
    assert second[-1] == "Mon 23 Nov 2026 12:00 · Pekka · poll settings (chat): who may start polls: everyone → admins"
    assert (await bot.say("/logg sida 2", user="admin", lang="sv"))[0].splitlines()[0] == \
        "Granskningslogg: 12 registrerade åtgärder, sida 2/2"
    assert await bot.say("/auditlog page 3", user="admin", lang="en") == ["The log has only 2 pages."]
    assert (await bot.say("/auditlog soon", user="admin", lang="en"))[0].startswith("Give a page number")
    # another chat's log is its own
    bot.make_admin("admin", chat="other")
    assert await bot.say("/auditlog", user="admin", chat="other", lang="en") == [
        "Nothing has been recorded in this chat's log yet."]


async def test_one_action_reads_in_the_singular(bot):
    bot.make_admin("admin")
    await bot.say("/lang chat en", user="admin")
    assert (await bot.say("/auditlog", user="admin", lang="en"))[0].splitlines()[0] == \
        "Audit log: 1 recorded action, page 1/1"


async def test_coordinators_export_the_log_and_open_data_never_holds_it(bot):
    await bot.say("/idea Terrace", user="u1")
    bot.make_admin("admin")
    await bot.say("/area Maunula", user="admin")
    await bot.say("/publish ideas polls meetings profile experiments", user="admin", lang="en")
    await bot.say("/status 1 discussed", user="admin", name="Pekka")
    doc = json.loads(await render_export(bot.services, "audit", "json", first="", last=""))
    assert doc["kind"] == "kehrabot.audit"
    rows = doc["records"]
    assert Counter(r["action"] for r in rows) == {"chat.area": 1, "area.publish": 1, "idea.status": 1}
    status = next(r for r in rows if r["action"] == "idea.status")
    assert (status["area"], status["actor_name"], status["before"], status["after"]) == (
        "Maunula", "Pekka", {"status": "new"}, {"status": "discussed", "reason": None})
    assert status["at"].endswith("+02:00")  # Helsinki time
    public = json.loads(await render_export(bot.services, "audit", "json", first="", last="", public=True))
    assert public["records"] == []
    csv = (await render_export(bot.services, "audit", "csv", first="", last="")).decode()
    assert "idea.status" in csv and "Pekka" in csv


async def test_the_log_on_postgres(tmp_path, pg_url):
    bot = await TestBot(tmp_path, database_url=pg_url, coordinators=["fake:helka"]).open()
    try:
        await _setup(bot)
        for n, (text, *_rest) in enumerate(ACTIONS):
            await bot.event(**_say(text, f"a{n}"))
            await bot.event(**_say(text, f"a{n}", replay=True))
        events = await _events(bot)
        assert [ev.action for ev in events] == [a[1] for a in ACTIONS if a[1] is not None]
        assert events[0].at == bot.clock.now() and events[0].before_data() == {"status": "new"}
        # a coordinator outranks the chat's admins: they read it too
        out = (await bot.say("/logg sida 3", user="helka", lang="sv"))[0].splitlines()  # the chat speaks Swedish now
        assert out[0] == "Granskningslogg: 23 registrerade åtgärder, sida 3/3" and len(out) == 4
    finally:
        await bot.close()


def test_a_change_reads_in_the_readers_language_with_times_in_helsinki():
    before = {"close_at": "2026-11-24T10:00:00+00:00", "status": "open"}
    after = {"close_at": "2026-11-26T10:00:00+00:00", "status": "open"}
    with use_locale(Catalogs(), "en"):
        assert change_text(before, after) == "closes: Tue 24 Nov 2026 12:00 → Thu 26 Nov 2026 12:00"
        assert change_text({"share": False}, {"share": True}) == "shared with other areas: no → yes"
        assert change_text({"publish": []}, {"publish": ["ideas", "polls"]}) == "open data: — → ideas, polls"
    with use_locale(Catalogs(), "sv"):
        assert change_text({"share": False}, {"share": True}) == "delas med andra områden: nej → ja"
