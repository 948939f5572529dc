"""Exports and the digest as a project manager meets them (issue 18): no Python reprs in CSV,
Helsinki times with offset, the ";" separator Finnish and Swedish Excel expect, readable Markdown,
a digest title with one pair of brackets, and no digests in private chats."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from core.markup import to_plain
from handlers import digest as feature
from storage import digest as store
from storage.exports import local_times, safe_cell, to_csv

W48 = "2026-W48"
W48_DUE = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def read(data: bytes, separator: str) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=separator))


def test_nested_data_is_json_in_a_cell_never_a_python_repr():
    rsvps = [{"name": "Aino", "answer": "yes"}]
    assert safe_cell(rsvps) == '[{"name": "Aino", "answer": "yes"}]'
    assert json.loads(safe_cell(["Kyllä, tietysti", "Ei"])) == ["Kyllä, tietysti", "Ei"]  # not "Kyllä, tietysti Ei"
    assert safe_cell({"b": 1, "a": "=x"}) == '{"a": "=x", "b": 1}'
    assert "{'" not in safe_cell([{"at": "2026-11-23T10:00:00+00:00"}])


def test_moments_are_helsinki_time_with_offset_dates_stay():
    assert local_times("2026-11-23T10:00:00+00:00") == "2026-11-23T12:00:00+02:00"
    assert local_times("2026-07-01T10:00:00.5+00:00") == "2026-07-01T13:00:00.500000+03:00"
    assert local_times({"x": ["2026-11-23T10:00:00Z", "2026-11-23"]}) == {"x": ["2026-11-23T12:00:00+02:00",
                                                                               "2026-11-23"]}
    assert local_times(datetime(2026, 11, 23, 10, tzinfo=UTC)) == "2026-11-23T12:00:00+02:00"


@pytest.mark.parametrize("separator", [";", ","])
def test_both_separators_read_back_with_a_csv_reader(separator):
    rows = [{"text": "a; b, c \"d\"", "share": 0.667, "n": 3, "formula": "=1+1", "when": "2026-11-23T10:00:00+00:00",
             "options": ["A; 1", "B, 2"]}]
    (row,) = read(to_csv(rows, separator=separator), separator)
    assert row["text"] == "a; b, c \"d\"" and row["n"] == "3" and row["formula"] == "'=1+1"
    assert row["share"] == ("0,667" if separator == ";" else "0.667")  # what that Excel reads as a number
    assert row["when"] == "2026-11-23T12:00:00+02:00"
    assert json.loads(row["options"]) == ["A; 1", "B, 2"]


async def seed(bot):
    bot.make_admin("admin")
    await bot.say("/alue Maunula", user="admin")
    await bot.say("/idea Kesäterassi kirjaston eteen", user="u1", name="Aino")
    await bot.say("/idea =HYPERLINK(\"http://evil\") aurinkopaneelit", user="u2", name="Bertil")
    await bot.say("/tila 2 käsitelty", user="admin")


@pytest.mark.parametrize(("lang", "separator"), [("fi", ";"), ("sv", ";"), ("en", ",")])
async def test_record_exports_default_to_the_separator_of_the_language(bot, lang, separator):
    await seed(bot)
    data = await feature.render_export(bot.services, "ideas", "csv", first=W48, last=W48, lang=lang)
    rows = read(data, separator)
    assert [r["number"] for r in rows] == ["1", "2"]
    assert rows[0]["created_at"] == "2026-11-23T12:00:00+02:00"  # the test clock: 10:00 UTC
    assert rows[1]["text"].startswith("'=HYPERLINK")
    other = "," if separator == ";" else ";"
    assert read(await feature.render_export(bot.services, "ideas", "csv", first=W48, last=W48, lang=lang,
                                            separator=other), other)[0]["number"] == "1"


async def test_json_records_have_helsinki_times(bot):
    await seed(bot)
    doc = json.loads(await feature.render_export(bot.services, "ideas", "json", first=W48, last=W48))
    assert doc["records"][0]["created_at"] == "2026-11-23T12:00:00+02:00"
    assert doc["generated_at"].endswith("+02:00")


async def test_markdown_has_labels_and_single_bullets(bot):
    await seed(bot)
    await bot.run_due(W48_DUE)
    data = (await feature.render_export(bot.services, "digests", "md", first=W48, last=W48, lang="fi")).decode()
    assert "activity.messages" not in data and "status\\_changes" not in data and "ideas." not in data
    totals = next(line for line in data.splitlines() if line.startswith("Alueen luvut yhteensä:"))
    assert "uusia ideoita 2" in totals and "ideoiden tilamuutoksia 1" in totals
    assert "- •" not in data and "• " not in data
    assert "- 💡 Ideat: " in data
    assert "  - \\#1 Kesäterassi kirjaston eteen" in data  # an item, one level in


async def test_digest_title_has_one_pair_of_brackets(bot):
    await bot.say("/idea Kesäterassi")
    so_far = (await bot.say("/kooste"))[0].split("\n")[0]
    assert so_far == "📰 Viikko 48 tähän mennessä (ma 23.11.2026 – su 29.11.2026)"
    assert so_far.count("(") == 1
    sv = (await bot.say("/sammandrag", lang="sv"))[0].split("\n")[0]
    assert sv.startswith("📰 Vecka 48 hittills (") and sv.count("(") == 1


async def test_no_digest_is_posted_into_a_private_chat(bot):
    await bot.say("/idea Oma idea yksityisesti", chat="private-u1", private=True)
    await bot.say("/idea Ryhmän idea")
    await bot.run_due(W48_DUE)
    posted = [s for s in bot.transport.sent if s.kind == "message" and s.plain.startswith("📰")]
    assert [s.chat_id for s in posted] == ["group"]
    async with bot.services.db.session() as session:
        from sqlalchemy import select
        rows = {d.chat_key: d for d in (await session.execute(select(store.Digest))).scalars()}
    assert rows["fake:private-u1"].post_error == "private"  # stored for the record, not posted


def test_platform_ids_tell_private_chats_apart():
    from storage.core import Chat

    def chat(key):
        return Chat(key=key, platform=key.split(":")[0], created_at=datetime(2026, 1, 1, tzinfo=UTC))

    assert feature.is_private(chat("telegram:123456"))
    assert not feature.is_private(chat("telegram:-100123"))
    assert feature.is_private(chat("console:private-aino")) and not feature.is_private(chat("console:kehra"))


def _fi(bot):
    return bot.services.locale("fi")


async def test_experiments_heading_counts_what_is_listed(bot):
    from handlers.experiments import render_digest

    done = {"number": 1, "title": "Kesäterassi", "status": "done", "phase": "deliver", "steps": [], "indicators": [],
            "outcome": "Onnistui"}
    waiting = {**done, "number": 2, "title": "Penkit", "status": "cancelled", "outcome": ""}
    with _fi(bot):
        lines = [to_plain(ln) for ln in render_digest({"experiments": [done, waiting]})]
        assert lines[0] == "🧪 Kokeilut: 2 kokeilua"
        active = {**done, "number": 3, "status": "active", "outcome": ""}
        assert to_plain(render_digest({"experiments": [done, active]})[0]) == "🧪 Kokeilut: 2 kokeilua, niistä 1 käynnissä"
        assert to_plain(render_digest({"experiments": [active]})[0]) == "🧪 Kokeilut: 1 käynnissä"
    assert [ln.startswith("• #") for ln in lines[1:] if not ln.startswith("  ")] == [True, True]


async def test_checklist_digest_lines_have_a_heading_and_distinct_labels(bot):
    from handlers.checklist import render_digest

    base = {"title": {"fi": "Kehrän itsearviointi", "sv": "Kehräs självvärdering", "en": "Kehrä self-assessment"},
            "started": 3, "finished": 2, "answers_in_period": 5, "closes_at": None, "closed_at": None}
    rounds = [{**base, "round": 4, "started_at": "2026-09-01T09:00:00+00:00", "closed_at": "2026-10-01T09:00:00+00:00"},
              {**base, "round": 9, "started_at": "2026-11-23T09:00:00+00:00"}]
    with _fi(bot):
        lines = [to_plain(ln) for ln in render_digest({"rounds": rounds})]
    assert lines[0] == "📋 Itsearviointi"
    assert lines[1].startswith("• Kehrän itsearviointi, kierros ti 1.9.2026 (")
    assert lines[2].startswith("• Kehrän itsearviointi, kierros ma 23.11.2026 (")
    with _fi(bot):
        one = [to_plain(ln) for ln in render_digest({"rounds": rounds[1:]})]
    assert one[1].startswith("• Kehrän itsearviointi (")  # one round: its title is enough
