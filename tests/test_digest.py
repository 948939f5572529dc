"""Weekly digests, areas, activity counts, exports and /summary (real SQLite, FakeTransport, ManualClock)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import func, select

from bot.testing import FakeTransport
from core.events import Incoming
from handlers import digest as feature
from storage import digest as store
from storage.exports import safe_cell, to_csv

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "docs" / "digest.schema.json").read_text())
# Week 48 of 2026 is Mon 23.11.–Sun 29.11.; its digest is due Mon 30.11. 09:00 Helsinki = 07:00 UTC.
W48_DUE = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
W48 = "2026-W48"


async def seed_week(bot, chat="group"):
    """Three ideas (two tagged), supports, one status change, all in week 48."""
    bot.make_admin("admin", chat)
    await bot.say("/idea Kesäterassi kirjaston eteen, lähiruokaa tarjolle", user="u1", name="Aino", chat=chat)
    await bot.say("/idea Aurinkopaneelit taloyhtiöiden katoille", user="u2", name="Bertil", chat=chat)
    await bot.say("/idea Lukupiiri senioreille", user="u3", name="Carla", chat=chat)
    for user in ("u2", "u3", "u4"):
        await bot.say("/tue 1", user=user, chat=chat)
    await bot.say("/tue 2", user="u1", chat=chat)
    await bot.say("/tila 3 käsitelty", user="admin", chat=chat)


def digests_sent(transport: FakeTransport) -> list[str]:
    return [s.plain for s in transport.sent if s.kind == "message" and s.plain.startswith("📰")]


async def records(bot) -> list[store.Digest]:
    async with bot.services.db.session() as session:
        return list((await session.execute(select(store.Digest).order_by(store.Digest.week))).scalars())


# --- content in each language -------------------------------------------------------------------

EXPECTED = {
    "fi": ["Viikkokooste, viikko 48", "Ideat: uusia 3 · tilamuutoksia 1 · kannatuksia 4",
           "#1 Kesäterassi kirjaston eteen, lähiruokaa tarjolle (lähiruoka)",
           "#2 Aurinkopaneelit taloyhtiöiden katoille (paikallinen energia)", "#3 uusi → käsitelty",
           "Eniten kannatetut: #1", "Aktiivisuus: viestejä botille 9, aktiivisia ihmisiä 5"],
    "sv": ["Veckosammandrag, vecka 48", "Idéer: nya 3 · statusändringar 1 · stöd 4",
           "(närmat)", "(lokal energi)", "#3 ny → diskuterad", "Mest stödda: #1",
           "Aktivitet: meddelanden till boten 9, aktiva personer 5"],
    "en": ["Weekly digest, week 48", "Ideas: new 3 · status changes 1 · supports 4", "(local food)",
           "(local energy)", "#3 new → discussed", "Most supported: #1",
           "Activity: messages to the bot 9, active people 5"],
}


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_weekly_digest_content_in_each_language(make_bot, tmp_path, lang):
    bot = await make_bot(data_dir=tmp_path / lang)
    bot.make_admin("admin")
    await bot.say(f"/lang chat {lang}", user="admin")
    await seed_week(bot)
    await bot.run_due(W48_DUE)
    sent = digests_sent(bot.transport)
    assert len(sent) == 1
    for expected in EXPECTED[lang]:
        assert expected in sent[0], (expected, sent[0])
    assert len(sent[0].splitlines()) <= feature.MAX_LINES
    (record,) = await records(bot)
    assert record.week == W48 and record.language == lang and record.posted_at is not None
    data = record.data()["sections"]
    assert data["ideas"]["counts"] == {"new": 3, "status_changes": 1, "supports": 4}
    assert data["ideas"]["new"][0]["tags"] == ["food"]
    assert data["ideas"]["top"][0] == {"number": 1, "text": "Kesäterassi kirjaston eteen, lähiruokaa tarjolle",
                                       "supports": 3, "status": "new"}
    assert data["activity"]["counts"] == {"messages": 9, "people": 5}


async def test_digest_not_due_before_its_time(bot):
    await seed_week(bot)
    await bot.run_due(datetime(2026, 11, 30, 6, 59, tzinfo=UTC))
    assert digests_sent(bot.transport) == []
    await bot.run_due(W48_DUE)
    assert len(digests_sent(bot.transport)) == 1


async def test_current_week_so_far(bot):
    await seed_week(bot)
    replies = await bot.say("/kooste")
    assert replies[0].startswith("📰 Viikko 48 tähän mennessä (")
    assert "#2 Aurinkopaneelit" in replies[0]
    assert await records(bot) == []  # nothing stored for a week in progress


async def test_quiet_weeks_get_a_record_but_no_message(bot):
    await bot.say("/apua")  # week 48: creates the chat, one message
    bot.clock.set(datetime(2026, 12, 2, 12, 0, tzinfo=UTC))  # week 49
    await bot.say("/apua")
    await bot.run_due(datetime(2026, 12, 21, 8, 0, tzinfo=UTC))  # Monday of week 52
    weeks = {r.week: r for r in await records(bot)}
    assert set(weeks) == {"2026-W48", "2026-W49", "2026-W50", "2026-W51"}
    assert weeks["2026-W49"].data()["sections"] == {"activity": {"counts": {"messages": 1, "people": 1}}}
    assert weeks["2026-W51"].data()["sections"] == {}
    assert [weeks[w].post_error for w in sorted(weeks)] == ["quiet", "quiet", "empty", "empty"]
    assert digests_sent(bot.transport) == []


# --- schedule settings --------------------------------------------------------------------------


async def test_admin_moves_and_turns_off_the_digest(bot):
    await seed_week(bot)
    assert "Vain ryhmän ylläpitäjät" in (await bot.say("/kooste pe 16:00", user="u1"))[0]
    assert (await bot.say("/kooste perjantai 16.00", user="admin"))[0] == \
        "Viikkokooste tulee joka perjantai klo 16.00."
    await bot.run_due(W48_DUE)
    assert digests_sent(bot.transport) == []
    await bot.run_due(datetime(2026, 12, 4, 14, 0, tzinfo=UTC))  # Fri 16:00 Helsinki
    assert len(digests_sent(bot.transport)) == 1
    assert (await bot.say("/kooste pois", user="admin"))[0] == "Viikkokooste on pois käytöstä tässä ryhmässä."
    await bot.run_due(datetime(2026, 12, 11, 15, 0, tzinfo=UTC))
    assert [r.week for r in await records(bot)] == [W48]
    assert "Anna viikonpäivä" in (await bot.say("/kooste joskus", user="admin"))[0]


# --- exactly once, late production ----------------------------------------------------------------


async def test_exactly_once_across_restart(make_bot, tmp_path):
    bot = await make_bot()
    await seed_week(bot)
    await bot.run_due(W48_DUE)
    assert len(digests_sent(bot.transport)) == 1
    await bot.app.close()
    again = await make_bot(clock=bot.clock)  # same data dir: a restart
    await again.run_due(W48_DUE)
    await again.run_due(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    assert digests_sent(again.transport) == []
    assert [r.week for r in await records(again)] == [W48]


async def test_failed_post_is_retried_once(bot):
    await seed_week(bot)
    bot.transport.fail_sends = 2  # the first try and the immediate retry in the same sweep
    await bot.run_due(W48_DUE)
    assert digests_sent(bot.transport) == []
    (record,) = await records(bot)
    assert record.posted_at is None and "fake transport down" in record.post_error
    await bot.run_due(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    await bot.run_due(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    assert len(digests_sent(bot.transport)) == 1


async def test_missed_weeks_are_produced_late(bot):
    await seed_week(bot)  # week 48
    bot.clock.set(datetime(2026, 12, 2, 10, 0, tzinfo=UTC))  # week 49, bot "down" on Monday
    await bot.say("/idea Yhteinen pyöräkorjaamo", user="u5")
    # The bot comes back on Wednesday of week 51.
    await bot.run_due(datetime(2026, 12, 16, 10, 0, tzinfo=UTC))
    by_week = {r.week: r for r in await records(bot)}
    assert set(by_week) == {"2026-W48", "2026-W49", "2026-W50"}
    assert by_week["2026-W48"].data()["sections"]["ideas"]["counts"]["new"] == 3
    assert by_week["2026-W49"].data()["sections"]["ideas"]["new"][0]["text"] == "Yhteinen pyöräkorjaamo"
    assert by_week["2026-W48"].post_error == "late"
    assert "ideas" not in by_week["2026-W50"].data()["sections"]
    # Only the newest missed week is posted (W50, empty here), so nothing floods the chat.
    assert digests_sent(bot.transport) == []


# --- activity -----------------------------------------------------------------------------------


async def test_activity_counts_only_and_flush_at_stop(make_bot, tmp_path):
    bot = await make_bot()
    for user in ("a", "b", "a"):
        await bot.say("/apua", user=user)
    async with bot.services.db.session() as session:
        assert await store.activity(session, "fake:group", W48) == (0, 0)  # still in memory
    await bot.app.close()  # clean stop flushes
    again = await make_bot(clock=bot.clock)
    async with again.services.db.session() as session:
        assert await store.activity(session, "fake:group", W48) == (3, 2)
        people = (await session.execute(select(store.ActivityPerson.person))).scalars().all()
    assert all(len(p) == 16 and "a" != p for p in people)


async def test_activity_flushes_periodically(bot):
    await bot.say("/apua", user="a")
    bot.clock.advance(seconds=61)
    await bot.say("/apua", user="b")
    async with bot.services.db.session() as session:
        assert await store.activity(session, "fake:group", W48) == (2, 2)


# --- areas --------------------------------------------------------------------------------------


async def say_on(bot, transport, text, *, user="u1", chat="room", name=None):
    before = len(transport.sent)
    await bot.app.dispatch(transport, Incoming(platform=transport.platform, chat_id=chat, sender_id=user,
                                               sender_name=name or user, text=text, chat_title=chat))
    return [s.plain for s in transport.sent[before:]]


@pytest.fixture
async def two_platforms(bot):
    """One Telegram-like and one Matrix-like chat of area Maunula, and a chat of Suutarila."""
    matrix = FakeTransport(platform="matrix", command_prefixes=("!",))
    bot.app.add_transport(matrix)
    bot.make_admin("admin")
    matrix.admins["room"] = {"@admin:hs"}
    bot.make_admin("admin", "other")
    assert (await bot.say("/alue Maunula", user="admin"))[0] == "Tämä ryhmä kuuluu nyt alueeseen Maunula."
    assert (await say_on(bot, matrix, "!omrade maunula", user="@admin:hs"))[0].startswith("Tämä ryhmä kuuluu")
    await bot.say("/alue Suutarila", user="admin", chat="other")
    await seed_week(bot)
    await say_on(bot, matrix, "!idea =HYPERLINK(\"http://evil\") #ruoka", user="@mari:hs", name="Mari Matrix")
    await bot.say("/idea Senioreiden jumppa", user="u9", name="Sven", chat="other")
    await bot.run_due(W48_DUE)
    return matrix


async def test_area_rolls_up_chats_on_two_platforms(bot, two_platforms):
    assert (await say_on(bot, two_platforms, "!alue"))[0] == "Tämä ryhmä kuuluu alueeseen Maunula (alueella on 2 ryhmää)."
    doc = await feature.digest_document(bot.services, W48, W48)
    jsonschema.validate(doc, SCHEMA)
    maunula = next(a for a in doc["areas"] if a["area"] == "Maunula")
    (week,) = maunula["weeks"]
    assert sorted(c["platform"] for c in week["chats"]) == ["fake", "matrix"]
    assert week["totals"]["ideas.new"] == 4
    assert week["totals"]["ideas.supports"] == 4
    assert [a["area"] for a in doc["areas"]] == ["Maunula", "Suutarila"]
    assert len(digests_sent(two_platforms)) == 1 and len(digests_sent(bot.transport)) == 2


async def test_area_and_publish_need_admin(bot):
    assert "ylläpitäjät" in (await bot.say("/alue Maunula", user="u1"))[0]
    assert "ylläpitäjät" in (await bot.say("/julkaise ideat", user="admin"))[0]  # refused before anything else
    bot.make_admin("admin")
    assert (await bot.say("/julkaise ideat", user="admin"))[0].startswith("Aseta ensin ryhmän alue")
    await bot.say("/alue Maunula", user="admin")
    assert "ylläpitäjät" in (await bot.say("/julkaise ideat", user="u1"))[0]
    assert (await bot.say("/julkaise ideat kyselyt", user="admin"))[0] == \
        "Alue Maunula julkaisee avoimena datana: ideat, kyselyt."
    assert (await bot.say("/julkaise", user="u1"))[0] == "Alue Maunula julkaisee avoimena datana: ideat, kyselyt."
    assert "Voin julkaista" in (await bot.say("/julkaise kaikki", user="admin"))[0]
    assert (await bot.say("/julkaise ei", user="admin"))[0] == "Alue Maunula ei julkaise mitään avoimena datana."



async def test_settings_words_are_subcommands_with_their_roles(bot):
    """On, off and none are declared subcommands (an admin's); the command alone shows."""
    assert "ylläpitäjät" in (await bot.say("/kooste pois", user="u1"))[0]
    assert "ylläpitäjät" in (await bot.say("/alue ei", user="u1"))[0]
    bot.make_admin("admin")
    assert (await bot.say("/kooste POIS", user="admin"))[0] == "Viikkokooste on pois käytöstä tässä ryhmässä."
    assert "Anna viikonpäivä" in (await bot.say("/kooste pois nyt", user="admin"))[0]
    assert (await bot.say("/kooste päälle", user="admin"))[0].startswith("Viikkokooste tulee joka maanantai")
    assert (await bot.say("/kooste", user="u1"))[0].startswith("📰")
    await bot.say("/alue Maunula", user="admin")
    assert (await bot.say("/alue ei mitään", user="admin"))[0] == "Tämä ryhmä ei enää kuulu mihinkään alueeseen."
    await bot.say("/alue Maunula", user="admin")
    assert "Voin julkaista" in (await bot.say("/julkaise ei ideat", user="admin"))[0]
    assert (await bot.say("/julkaise -", user="admin"))[0] == "Alue Maunula ei julkaise mitään avoimena datana."

# --- export formats -----------------------------------------------------------------------------


async def test_json_export_matches_schema(bot, two_platforms):
    data = await feature.render_export(bot.services, "digests", "json", first=W48, last=W48)
    doc = json.loads(data)
    jsonschema.validate(doc, SCHEMA)
    assert doc["schema_version"] == "1.0" and doc["public"] is False
    chat = doc["areas"][0]["weeks"][0]["chats"][0]
    assert chat["text"].startswith("📰 Viikkokooste, viikko 48")


async def test_csv_export_parses_back_and_is_excel_safe(bot, two_platforms):
    data = await feature.render_export(bot.services, "digests", "csv", first=W48, last=W48)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))  # Finnish: ";"
    chats = [r for r in rows if r["row_type"] == "chat"]
    totals = [r for r in rows if r["row_type"] == "area_total"]
    assert len(chats) == 3 and len(totals) == 2
    maunula = next(r for r in totals if r["area"] == "Maunula")
    assert maunula["ideas.new"] == "4" and maunula["activity.messages"] != ""
    matrix_row = next(r for r in chats if r["platform"] == "matrix")
    assert "'=HYPERLINK" not in matrix_row["text"] or matrix_row["text"].startswith("📰")
    ideas = await feature.render_export(bot.services, "ideas", "csv", first=W48, last=W48)
    idea_rows = list(csv.DictReader(io.StringIO(ideas.decode("utf-8-sig")), delimiter=";"))
    evil = next(r for r in idea_rows if "HYPERLINK" in r["text"])
    assert evil["text"].startswith("'=HYPERLINK")
    assert {r["area"] for r in idea_rows} == {"Maunula", "Suutarila"}


async def test_markdown_export_has_headings_per_area_week_and_chat(bot, two_platforms):
    data = (await feature.render_export(bot.services, "digests", "md", first=W48, last=W48, lang="en")).decode()
    headings = [line for line in data.splitlines() if line.startswith("#")]
    assert headings[0] == "# Kehrä weekly digests 2026-W48 – 2026-W48"
    assert "## Maunula" in headings and "## Suutarila" in headings
    assert headings.count("### 2026-W48") == 2
    assert "#### group (fake)" in headings and "#### room (matrix)" in headings
    assert "- 💡 Ideas: new 3 · status changes 1 · supports 4" in data
    # user text cannot make headings or links
    assert "\\=HYPERLINK" not in data and "HYPERLINK(\"http://evil\")" in data.replace("\\", "")
    raw = (await feature.render_export(bot.services, "ideas", "md", first=W48, last=W48)).decode()
    assert "## Maunula" in raw and "| area |" not in raw and "| number | text |" in raw


@pytest.mark.parametrize("value,expected", [
    ("=1+2", "'=1+2"), ("+358401234567", "'+358401234567"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("ok = fine", "ok = fine"), (-5, -5), (None, ""), (["a", "b"], "[\"a\", \"b\"]"),
])
def test_formula_injection_neutralised(value, expected):
    assert safe_cell(value) == expected


def test_csv_quoting_round_trip():
    tricky = {"a": 'he said "hi", then\nleft', "b": "=cmd|' /C calc'!A0", "c": "äö"}
    data = to_csv([tricky])
    (row,) = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert row == {"a": tricky["a"], "b": "'" + tricky["b"], "c": "äö"}


# --- public export --------------------------------------------------------------------------------


async def test_public_export_has_no_names_or_platform_ids(bot, two_platforms):
    await bot.say("/julkaise ideat", user="admin")  # Maunula publishes ideas; Suutarila nothing
    for what in ("digests", "ideas"):
        for fmt in ("json", "csv", "md"):
            data = (await feature.render_export(bot.services, what, fmt, first=W48, last=W48,
                                                public=True)).decode("utf-8-sig")
            for secret in ("Aino", "Bertil", "Carla", "Mari", "Sven", "@mari:hs", "fake:", "matrix:", "u1",
                           "Suutarila", "Senioreiden", "Activity", "Aktiivisuus", "group", "room"):
                assert secret not in data, (what, fmt, secret)
            if fmt != "csv" or what == "ideas":  # the digest CSV has counts only
                assert "Kesäterassi" in data, (what, fmt)
    doc = json.loads(await feature.render_export(bot.services, "digests", "json", first=W48, last=W48, public=True))
    jsonschema.validate(doc, SCHEMA)
    assert doc["public"] and [a["area"] for a in doc["areas"]] == ["Maunula"]
    assert set(doc["areas"][0]["weeks"][0]["chats"][0]["sections"]) == {"ideas"}


# --- /summary ------------------------------------------------------------------------------------


async def test_summary_refused_to_non_coordinator(bot, two_platforms):
    replies = await bot.say("/yhteenveto 2026-W48", user="admin", private=True, chat="private-admin")
    assert replies == ["Vain projektin koordinaattorit voivat tehdä tämän."]
    assert not [s for s in bot.transport.sent if s.kind == "file"]


async def test_summary_sends_files_to_coordinator(make_bot, tmp_path):
    bot = await make_bot(coordinators=["fake:pm"])
    await seed_week(bot)
    await bot.run_due(W48_DUE)
    sent = await bot.event(chat_id="private-pm", sender_id="pm", text="/summary", is_private=True, language_hint="en")
    files = [s.file for s in sent if s.kind == "file"]
    assert [f.filename for f in files] == [f"kehrabot-digests-{W48}.{ext}" for ext in ("md", "csv", "json")]
    jsonschema.validate(json.loads(files[2].data), SCHEMA)
    assert sent[-1].plain == "Digests of week 2026-W48: 1 chat."
    none = await bot.event(chat_id="private-pm", sender_id="pm", text="/summary 2026-W30", is_private=True,
                           language_hint="en")
    assert none[-1].plain == "No digests are stored for week 2026-W30."
    bad = await bot.event(chat_id="private-pm", sender_id="pm", text="/summary week", is_private=True,
                          language_hint="en")
    assert bad[-1].plain.startswith("Give the week like 2026-W48 or 48.")


# --- weeks -----------------------------------------------------------------------------------------


def test_iso_week_helpers():
    assert store.parse_week("2026w48") == W48
    assert store.parse_week("2026-W53") == "2026-W53"
    with pytest.raises(ValueError):
        store.parse_week("2025-W53")
    start, end = store.week_bounds("2026-W13")  # DST starts on Sun 29.3.2026
    assert start == datetime(2026, 3, 22, 22, 0, tzinfo=UTC) and end == datetime(2026, 3, 29, 21, 0, tzinfo=UTC)
    assert store.shift_week("2026-W53", 1) == "2027-W01"
    assert store.weeks_between("2026-W52", "2027-W02") == ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]
    assert feature.slot(W48, 0, "09:00") == W48_DUE


# --- two instances on PostgreSQL ----------------------------------------------------------------


@pytest.mark.postgres
async def test_activity_marks_kept_through_an_outage_are_stored_on_postgresql(make_bot, tmp_path, pg_url):
    """More new people than one statement takes parameters (the buffer keeps them while the store
    is away): all are stored, each once."""
    bot = await make_bot(data_dir=tmp_path / "pg", database_url=pg_url)
    people = {(f"fake:c{c}", "2026-W48"): {f"{c:04d}{p:012d}" for p in range(120)} for c in range(100)}
    counts = dict.fromkeys(people, 3)
    async with bot.services.db.transaction() as session:
        await store.add_activity(session, counts, people)
    async with bot.services.db.transaction() as session:  # the same again: nothing twice
        await store.add_activity(session, {}, people)
    async with bot.services.db.session() as session:
        assert await store.activity(session, "fake:c7", "2026-W48") == (3, 120)
        total = (await session.execute(select(func.count()).select_from(store.ActivityPerson))).scalar_one()
    assert total == 12_000


@pytest.mark.postgres
async def test_exactly_once_with_two_instances_on_postgresql(make_bot, tmp_path, pg_url):
    one = await make_bot(data_dir=tmp_path / "one", database_url=pg_url)
    two = await make_bot(data_dir=tmp_path / "two", database_url=pg_url, clock=one.clock)
    await seed_week(one)
    await one.say("/idea Toinen ryhmä", chat="second")
    one.clock.set(W48_DUE)
    for _round in range(3):
        await asyncio.gather(one.app.jobs.run_due(), two.app.jobs.run_due(), feature.sweep(one.services),
                             feature.sweep(two.services))
    assert len(digests_sent(one.transport)) + len(digests_sent(two.transport)) == 2
    async with one.services.db.session() as session:
        count = (await session.execute(select(func.count()).select_from(store.Digest))).scalar_one()
    assert count == 2


async def test_activity_alone_is_stored_not_posted(bot):
    await bot.say("/apua", user="a")
    await bot.run_due(W48_DUE)
    (record,) = await records(bot)
    assert record.post_error == "quiet" and record.data()["sections"]["activity"]["counts"]["messages"] == 1
    assert digests_sent(bot.transport) == []


# --- command line ---------------------------------------------------------------------------------


def test_cli_export_writes_files_and_progress(tmp_path, capsys):
    from bot.cli import main

    async def seed():
        from bot.testing import TestBot

        bot = await TestBot(tmp_path).open()
        bot.make_admin("admin")
        await bot.say("/alue Maunula", user="admin")
        await bot.say("/julkaise ideat", user="admin")
        await seed_week(bot)
        await bot.run_due(W48_DUE)
        await bot.app.close()

    asyncio.run(seed())
    config = tmp_path / "kehrabot.toml"
    config.write_text(f'data_dir = "{tmp_path.as_posix()}"\n', encoding="utf-8")
    out = tmp_path / "w48.json"
    assert main(["-c", str(config), "export", "digests", "--week", "2026-w48", "--format", "json", "-o", str(out)]) == 0
    doc = json.loads(out.read_bytes())
    jsonschema.validate(doc, SCHEMA)
    assert doc["areas"][0]["area"] == "Maunula"
    assert "export: area 1/1 Maunula" in capsys.readouterr().err
    assert main(["-c", str(config), "export", "ideas", "--format", "csv", "--public", "-q"]) == 0
    printed = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(printed.lstrip("\ufeff")), delimiter=";"))  # --lang fi: ";"
    assert [r["number"] for r in rows] == ["1", "2", "3"] and "author_name" not in rows[0]
    assert main(["-c", str(config), "export", "digests", "--week", "2026-W48", "--to-week", "2026-W50",
                 "--format", "md", "--lang", "sv", "-q"]) == 0
    assert "## Maunula" in capsys.readouterr().out
    assert main(["-c", str(config), "export", "nonsense", "-q"]) == 2
    err = capsys.readouterr().err
    assert "available: digests, " in err and "ideas" in err and "INFO" not in err
    assert main(["-c", str(config), "export", "digests", "--week", "48"]) == 2
    assert main(["-c", str(config), "export", "ideas", "--week", "2026-W48", "-q"]) == 2
    assert "exported whole" in capsys.readouterr().err


def test_bench_smoke():
    from bench import digest_bench

    d = asyncio.run(digest_bench.bench_digests(5, 10, None))
    assert d["digests"] == 5 and d["posted"] == 5 and d["second_sweep_made"] == 0
    e = asyncio.run(digest_bench.bench_export(2, 3, None))
    assert e["records"] == 12 and e["json_mb"] > 0


async def test_sweep_works_in_slices_and_finishes_later(bot):
    for chat in ("c1", "c2", "c3"):
        await bot.say("/idea Penkki puistoon", chat=chat)
    bot.clock.set(W48_DUE)
    # out of time from the start (as reading thousands of chats can be): still one chat a sweep
    assert await feature.sweep(bot.services, budget=-1) == 1
    state = bot.services.extensions["digest"]
    assert state.next_sweep == W48_DUE  # continue at once
    assert len(digests_sent(bot.transport)) == 1
    assert await feature.sweep(bot.services, budget=-1) == 1
    await bot.run_due()
    assert len(digests_sent(bot.transport)) == 3
    assert await feature.sweep(bot.services, budget=-1) == 0  # nothing due: nothing made


async def test_unposted_records_are_found_by_the_weeks_index(bot):
    """Every sweep looks for records whose post failed: by the recent weeks, not a scan of all."""
    from sqlalchemy import event

    statements = []
    engine = bot.services.db.engine.sync_engine
    listener = lambda _conn, _cursor, sql, params, *_rest: statements.append((sql, params))  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        async with bot.services.db.session() as session:
            assert await store.unposted(session, W48_DUE) == []
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    sql, params = next((sql, params) for sql, params in statements if "FROM digest" in sql)
    async with bot.services.db.session() as session:
        conn = await session.connection()
        plan = " ".join(row[-1] for row in (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)).all())
    assert "SEARCH digest USING INDEX ix_digest_week (week>?)" in plan, plan  # not a SCAN of every record


async def test_activity_digest_reads_only_its_areas_chats(bot):
    """A chat's activity counts a linked person once in its area by the area's earlier chats: it
    reads those, not every chat of the store (the weekly sweep does this for every chat)."""
    from sqlalchemy import event

    from handlers.digest.activity import activity_digest
    from storage.core import ensure_chat

    async with bot.services.db.transaction() as session:
        for c in range(6):
            chat = await ensure_chat(session, f"fake:c{c}", "fake", f"C{c}", bot.clock.now())
            chat.area = "Maunula" if c < 3 else "Malmi"
            session.add(chat)
        await store.add_activity(session, {("fake:c2", W48): 5}, {("fake:c2", W48): {"m1", "m2"}})
    statements = []
    engine = bot.services.db.engine.sync_engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        data = await activity_digest(bot.services, "fake:c2", *store.week_bounds(W48))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert data == {"counts": {"messages": 5, "people": 2, "area_people": 2}}
    chat_reads = [sql for sql in statements if "\nFROM chat" in sql]
    assert chat_reads and all(re.search(r'WHERE chat\.(area|"key") = ', sql) for sql in chat_reads), chat_reads
    async with bot.services.db.session() as session:
        assert await store.chats_in_area(session, "Maunula") == ["fake:c0", "fake:c1", "fake:c2"]


async def test_area_totals_count_other_features_sections(bot):
    bot.make_admin("admin")
    await bot.say("/alue Maunula", user="admin")
    await bot.say("/kysely Mikä ilta sopii? | tiistai | keskiviikko | sulkeutuu 2 päivän päästä")
    await bot.say("/idea Penkki puistoon")
    await bot.run_due(W48_DUE)
    (sent,) = digests_sent(bot.transport)
    assert "Kyselyt 1 avattu" in sent and "Penkki puistoon" in sent
    doc = await feature.digest_document(bot.services, W48, W48)
    jsonschema.validate(doc, SCHEMA)
    totals = doc["areas"][0]["weeks"][0]["totals"]
    assert totals["polls.opened"] == 1 and totals["ideas.new"] == 1
