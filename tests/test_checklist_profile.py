"""Profiles against hand-computed numbers, privacy of free-text authors, charts, comparisons,
exports and the digest hook, in fi/sv/en."""

import csv
import io
import json
import math
import struct
from datetime import timedelta

import pytest

from handlers.charts import figure_texts, line_chart, to_png
from handlers.checklist import FEATURE, profile_figure
from handlers.checklist.format import check_text
from handlers.checklist.profile import AnswerRow, Respondent, compute_profile
from storage.core import Chat

T = "{fi: Kysymys, sv: Fråga, en: Question}"
MINI = f"""
id: mini
version: 2
title: {{fi: Minilista, sv: Minilista, en: Mini list}}
dimensions:
  - id: res
    title: {{fi: Alueen resurssit, sv: Områdets resurser, en: Resources of the area}}
    questions:
      - {{id: q1, type: scale, text: {T}, low: {T}, high: {T}}}
      - {{id: q2, type: scale, required: false, text: {T}, low: {T}, high: {T}}}
      - {{id: q3, type: yesno, text: {T}}}
      - {{id: q4, type: text, required: false, text: {T}}}
  - id: eff
    title: {{fi: Vaikutukset, sv: Effekter, en: Effects}}
    questions:
      - id: e1
        type: single
        text: {T}
        options:
          - {{id: a, text: {{fi: Ahti, sv: Alfa, en: Alpha}}}}
          - {{id: b, text: {{fi: Beeta, sv: Beta, en: Beta}}}}
      - {{id: e2, type: scale, text: {T}, low: {T}, high: {T}}}
"""


def test_compute_profile_by_hand():
    cl, problems = check_text(MINI)
    assert problems == []
    rows = [AnswerRow("p1", "q1", 4), AnswerRow("p1", "q2", 2), AnswerRow("p1", "q3", "yes"),
            AnswerRow("p1", "q4", "Great library"), AnswerRow("p1", "e1", "a"), AnswerRow("p1", "e2", 5),
            AnswerRow("p2", "q1", 5), AnswerRow("p2", "q2", None, skipped=True), AnswerRow("p2", "q3", "no"),
            AnswerRow("p2", "q4", "Bad bus"), AnswerRow("p2", "e1", "b"), AnswerRow("p2", "e2", 3),
            AnswerRow("p3", "q1", 3), AnswerRow("p3", "q3", "yes"), AnswerRow("p3", "nosuch", 1)]
    people = {"p1": Respondent("Aino", False, True), "p2": Respondent("Eero", True, True), "p3": Respondent("X")}
    p = compute_profile(cl, rows, people)
    res, eff = p.dimension("res"), p.dimension("eff")
    assert (p.respondents, p.finished) == (3, 2)
    # scale answers 4, 2, 5, 3: mean 3.5; deviations ±0.5, ±1.5 -> variance 1.25
    assert res.mean == 3.5 and res.spread == pytest.approx(math.sqrt(1.25)) and res.scale_n == 4
    assert res.yes_share == pytest.approx(2 / 3) and res.yes_n == 3
    assert (res.answers, res.respondents) == (9, 3)
    assert (eff.mean, eff.spread, eff.scale_n, eff.yes_share, eff.respondents) == (4, 1, 2, None, 2)
    assert p.choices == {"e1": {"a": 1, "b": 1}}
    # names only for those who agreed
    assert p.texts == [("q4", "Great library", None), ("q4", "Bad bus", "Eero")]


async def _run_round(bot, tmp_path, chat="group"):
    """Three members answer MINI in private chats; returns the round id."""
    (tmp_path / "checklists").mkdir(exist_ok=True)
    (tmp_path / "checklists" / "mini.yaml").write_text(MINI)
    bot.make_admin("admin", chat)
    out = await bot.say("/checklist start mini", user="admin", chat=chat, lang="en")
    assert "Self-assessment started: Mini list" in out[0]
    rid = int(bot.transport.sent[-1].reply.buttons[0][0].data.rsplit(":", 1)[1])
    plan = {
        "u1": [("a", "q1", 4), ("a", "q2", 2), ("a", "q3", "yes"), ("text", "Great library"), ("a", "e1", "a"),
               ("a", "e2", 5)],
        "u2": [("a", "q1", 5), ("skip", "q2"), ("a", "q3", "no"), ("text", "Bad bus & <b>"), ("a", "e1", "b"),
               ("a", "e2", 3), ("name", 1)],
        "u3": [("a", "q1", 3), ("skip", "q2"), ("a", "q3", "yes")],
    }
    for user, steps in plan.items():
        await bot.press(f"checklist:go:{rid}", user=user, chat=chat, lang="en")
        pc = {"user": user, "chat": f"private-{user}"}
        for step in steps:
            if step[0] == "a":
                await bot.press(f"checklist:a:{rid}:{step[1]}:{step[2]}", **pc)
            elif step[0] == "skip":
                await bot.press(f"checklist:skip:{rid}:{step[1]}", **pc)
            elif step[0] == "name":
                await bot.press(f"checklist:name:{rid}:{step[1]}", **pc)
            else:
                await bot.say(step[1], private=True, **pc)
    return rid


async def test_profile_in_chat_numbers_privacy_and_chart(bot, tmp_path):
    await _run_round(bot, tmp_path)
    sent = await bot.event(chat_id="group", sender_id="u9", text="/checklist profile", language_hint="en",
                           chat_title="group")
    text = sent[0].plain
    assert "Respondents: 3 (finished 2)" in text
    assert "Resources of the area: mean 3.5 (spread 1.1, n=4) · yes 67% (n=3) · 3 respondents" in text
    assert "Effects: mean 4.0 (spread 1.0, n=2) · 2 respondents" in text
    assert "Question — Alpha 1, Beta 1" in text
    assert "• Great library\n" in text and "Aino" not in text and "U1" not in text
    assert "• Bad bus & <b> — U2" in text and "&amp;" in sent[0].reply.html  # escaped
    png = sent[1].file
    assert sent[1].kind == "file" and png.is_image and png.mime == "image/png"
    assert png.data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png.data[16:24])
    assert 400 <= width <= 2000 and 300 <= height <= 2000 and 5_000 < len(png.data) < 500_000
    # Finnish numbers and labels
    out = await bot.say("/itsearviointi profiili", user="u9", lang="fi")
    assert "Alueen resurssit: keskiarvo 3,5 (hajonta 1,1, n=4) · kyllä 67\xa0% (n=3) · 3 vastaajaa" in out[0]


@pytest.mark.parametrize("lang, labels", [
    ("fi", ["Alueen\nresurssit", "Vaikutukset", "Keskiarvo (1–5)"]),
    ("sv", ["Områdets\nresurser", "Effekter", "Medelvärde (1–5)"]),
    ("en", ["Resources of\nthe area", "Effects", "Mean (1–5)"]),
])
async def test_chart_labels_in_the_current_language(bot, lang, labels):
    cl, _ = check_text(MINI)
    p = compute_profile(cl, [AnswerRow("p", "q1", 3), AnswerRow("p", "e2", 4)], {})
    with bot.services.locale(lang):
        fig = profile_figure(cl, {"2026": p}, title="T")
        radar = profile_figure(cl, {"2026": p, "2027": p}, radar=True)
    found = figure_texts(fig)
    for label in labels:
        assert label in found
    others = {"fi": "Effects", "sv": "Vaikutukset", "en": "Effekter"}
    assert others[lang] not in found
    assert labels[1] in figure_texts(radar) and "2027" in figure_texts(radar)
    assert to_png(fig)[:4] == b"\x89PNG"


def test_line_chart_for_indicators():
    from datetime import UTC, datetime

    png = line_chart({"kävijät": [(datetime(2026, 1, d, tzinfo=UTC), d * 2.0) for d in (1, 8, 15)]},
                     title="Kokeilu", ylabel="määrä")
    width, height = struct.unpack(">II", png[16:24])
    assert png[:4] == b"\x89PNG" and width >= 400 and height >= 300


async def test_compare_rounds_over_time_and_exports(bot, tmp_path):
    rid1 = await _run_round(bot, tmp_path)
    await bot.say("/checklist close", user="admin", lang="en")
    bot.clock.advance(days=30)
    rid2 = await _run_round(bot, tmp_path)
    sent = await bot.event(chat_id="group", sender_id="u1", text="/checklist compare", language_hint="en",
                           chat_title="group")
    assert "group over time" in sent[0].plain and "Resources of the area: 3.5 / yes 67% → 3.5 / yes 67%" in sent[0].plain
    assert sent[1].file.is_image
    # CSV: aggregate rows per round and dimension
    sent = await bot.event(chat_id="group", sender_id="u1", text="/checklist export csv", language_hint="en")
    assert sent[0].file.data.startswith(b"\xef\xbb\xbf")  # a BOM, like every CSV export
    rows = list(csv.DictReader(io.StringIO(sent[0].file.data.decode("utf-8-sig"))))
    assert [(int(r["round"]), r["dimension"]) for r in rows] == [(rid1, "res"), (rid1, "eff"), (rid2, "res"), (rid2, "eff")]
    assert rows[0]["mean"] == "3.5" and rows[0]["yes_share"] == "0.667" and rows[0]["respondents"] == "3"
    assert "u1" not in sent[0].file.data.decode()
    # JSON: written answers without names unless agreed
    sent = await bot.event(chat_id="group", sender_id="u1", text="/checklist export json", language_hint="en")
    data = json.loads(sent[0].file.data)
    assert data["rounds"][0]["texts"] == [{"question": "q4", "text": "Great library"},
                                          {"question": "q4", "text": "Bad bus & <b>", "name": "U2"}]
    # the Feature's raw-record export: public has no personal data
    public = await FEATURE.exports["checklist"](bot.services, ["fake:group"], True)
    assert public and all("person" not in r for r in public) and "fake:u1" not in json.dumps(public)
    private = await FEATURE.exports["checklist"](bot.services, ["fake:group"], False)
    assert {r["person"] for r in private} == {"fake:u1", "fake:u2", "fake:u3"}
    assert await FEATURE.exports["checklist"](bot.services, ["fake:other"], True) == []


async def test_areas_side_by_side_only_when_sharing(bot, tmp_path):
    await _run_round(bot, tmp_path, chat="group")
    await _run_round(bot, tmp_path, chat="group2")
    async with bot.services.db.transaction() as s:
        (await s.get(Chat, "fake:group")).area = "Maunula"
        (await s.get(Chat, "fake:group2")).area = "Suutarila"
        await s.commit()
    out = await bot.say("/checklist areas", user="u1", lang="en")
    assert "Only areas that share their own profile" in out[0]
    out = await bot.say("/checklist share on", user="admin", lang="en")
    assert "now shared" in out[0]
    # a chat's rounds follow it into its area, also those started before the area was set
    out = await bot.say("/checklist areas", user="u1", lang="en")
    assert "Areas side by side" in out[0] and "Maunula" in out[0] and "Suutarila" not in out[0]
    await bot.say("/checklist share on", user="admin", chat="group2", lang="en")
    sent = await bot.event(chat_id="group", sender_id="u1", text="/checklist areas", language_hint="en")
    assert "Maunula | Suutarila" in sent[0].plain and sent[1].file.is_image


async def test_digest_hook(bot, tmp_path):
    await _run_round(bot, tmp_path)
    now = bot.clock.now()
    data = await FEATURE.digest(bot.services, "fake:group", now - timedelta(days=7), now + timedelta(minutes=1))
    assert data["rounds"][0]["started"] == 3 and data["rounds"][0]["finished"] == 2
    assert data["rounds"][0]["answers_in_period"] == 15
    json.dumps(data)
    with bot.services.locale("sv"):
        lines = FEATURE.render_digest(data)
    assert lines[0] == "📋 <b>Självvärdering</b>"  # a heading, then one item per round
    assert "Minilista" in lines[1] and "påbörjade 3, klara 2, 15 svar den här veckan" in lines[1]
    assert await FEATURE.digest(bot.services, "fake:other", now - timedelta(days=7), now) is None
