"""The self-assessment as a new user meets it (issue 18): an area change keeps the chat's rounds,
a round start handled again answers as the first time, the bar chart's scale and labels, and a
text alternative with every chart."""

import csv
import io

from tests.test_checklist_profile import MINI, _run_round  # noqa: F401  (the same three answerers)


def _files(sent):
    return [s for s in sent if s.kind == "file"]


async def test_rounds_follow_the_chat_into_an_area_and_out_of_it(bot, tmp_path):
    await _run_round(bot, tmp_path)  # started while the chat had no area (its title "group")
    await bot.say("/checklist close", user="admin", lang="en")
    for name in ("Maunula", "ei"):
        out = await bot.say(f"/alue {name}", user="admin", lang="fi")
        assert "alue" in out[0].casefold()
        sent = await bot.event(chat_id="group", sender_id="u1", text="/itsearviointi vertaa", language_hint="fi",
                               chat_title="group")
        assert "Minilista" in sent[0].plain and "ei ole vielä" not in sent[0].plain
        assert _files(sent)  # the chart
        sent = await bot.event(chat_id="group", sender_id="u1", text="/itsearviointi vie csv", language_hint="fi",
                               chat_title="group")
        rows = list(csv.DictReader(io.StringIO(sent[0].file.data.decode("utf-8-sig")), delimiter=";"))
        assert [r["dimension"] for r in rows] == ["res", "eff"]
        # the rows name the area the chat is in now
        assert {r["area"] for r in rows} == {"Maunula" if name == "Maunula" else "group"}


async def test_an_area_shows_the_rounds_of_the_chats_in_it_now(bot, tmp_path):
    await _run_round(bot, tmp_path, chat="group")
    bot.make_admin("admin", "group2")
    for chat in ("group", "group2"):
        await bot.say("/area Maunula", user="admin", chat=chat, lang="en")
    # another chat of the area sees the area's rounds, also one started before the area was set
    out = await bot.say("/checklist compare", user="u5", chat="group2", lang="en")
    assert "Maunula over time" in out[0] and "Resources of the area: 3.5" in out[0]
    # a chat that leaves takes its rounds with it
    await bot.say("/area Pakila", user="admin", chat="group", lang="en")
    out = await bot.say("/checklist compare", user="u5", chat="group2", lang="en")
    assert out == ["This chat has no self-assessment rounds yet."]
    out = await bot.say("/checklist compare", user="u5", chat="group", lang="en")
    assert "Pakila over time" in out[0]


# --- the bar chart and its text alternative --------------------------------------------------------


def _partial():
    from handlers.checklist.format import check_text
    from handlers.checklist.profile import AnswerRow, compute_profile

    cl, _problems = check_text(MINI)
    # "Resources" answered 5, 5, 3 (mean 4.33, spread 0.94: mean + spread is past 5); "Effects" by nobody
    rows = [AnswerRow("p1", "q1", 5), AnswerRow("p2", "q1", 5), AnswerRow("p3", "q1", 3)]
    return cl, compute_profile(cl, rows, {})


async def test_the_bar_chart_spans_the_scale_and_keeps_every_dimension(bot):
    from handlers.charts import figure_texts
    from handlers.checklist import profile_figure

    cl, profile = _partial()
    with bot.services.locale("fi"):
        fig = profile_figure(cl, {"2026": profile}, title="Minilista · Maunula")
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert low == 1 and 5 <= high <= 5.5  # a 1–5 scale, not 0–5
    assert [t for t in ax.get_yticks() if low <= t <= high] == [1, 2, 3, 4, 5]
    [bars] = [c for c in ax.containers if hasattr(c, "errorbar")]
    assert all(bar.get_y() == 1 for bar in bars)  # the bars rise from 1
    # the error bar is whole inside the axes (kept within the scale), cap included
    segments = [seg for coll in bars.errorbar.lines[2] for seg in coll.get_segments()]
    ends = [y for seg in segments for _x, y in seg if y == y]
    caps = [y for line in bars.errorbar.lines[1] for y in line.get_ydata()]
    assert max(ends + caps) <= 5 < high and min(ends + caps) >= low
    # the empty dimension keeps its place and says why it is empty; its label is inside the picture
    texts = figure_texts(fig)
    assert "Vaikutukset\n(ei vastauksia)" in texts
    left, right = ax.get_xlim()
    assert left <= -0.4 and right >= len(cl.dimensions) - 1 + 0.4
    renderer = fig.canvas.get_renderer()
    for label in ax.get_xticklabels():
        box = label.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= fig.bbox.x1


async def test_every_checklist_chart_comes_with_its_figures_as_text(bot, tmp_path):
    await _run_round(bot, tmp_path)
    for text, lang, expected in (
        ("/itsearviointi profiili", "fi", ["(keskiarvot asteikolla 1–5)",
                                           "• Alueen resurssit: keskiarvo 3,5 (hajonta 1,1, n=4)",
                                           "• Vaikutukset: keskiarvo 4,0 (hajonta 1,0, n=2)"]),
        ("/sjalvvardering profil spindel", "sv", ["(medelvärden på skalan 1–5)",
                                                  "• Områdets resurser: medelvärde 3,5 (spridning 1,1, n=4)"]),
        ("/checklist compare", "en", ["(means on the scale 1–5)", "• Resources of the area: "]),
    ):
        sent = await bot.event(chat_id="group", sender_id="u9", text=text, language_hint=lang, chat_title="group")
        [chart] = _files(sent)
        caption = chart.file.caption_html
        for line in expected:
            assert line in caption, (line, caption)
        assert caption.startswith("📊 <b>")


async def test_the_text_of_a_partial_profile_says_which_dimension_has_no_answers(bot):
    from handlers.checklist import profile_text

    cl, profile = _partial()
    with bot.services.locale("sv"):
        text = profile_text(cl, {"2026": profile}, "Minilista")
        two = profile_text(cl, {"2026": profile, "2027": profile}, "Minilista")
    assert "• Effekter: inga svar" in text and "• Områdets resurser: medelvärde 4,3 (spridning 0,9, n=3)" in text
    assert "• Områdets resurser: 2026: 4,3 · 2027: 4,3" in two and "• Effekter: 2026: inga svar · 2027: inga svar" in two
