"""Checklist charts (issue 18): the radar leaves an unanswered dimension out of its polygon (as the
bar chart leaves out its bar, and labels it '(no answers)'); two rounds started on one day are two
series in the compare chart, told apart by their time."""

import math
from datetime import timedelta

from tests.test_checklist_issue18 import _partial
from tests.test_checklist_profile import _run_round


def _lines(fig):
    return [line for line in fig.axes[0].get_lines() if len(line.get_ydata())]


def test_the_radar_leaves_a_missing_value_out_of_the_polygon():
    from handlers.charts import radar_figure

    fig = radar_figure(["A", "B", "C", "D"], {"r": [3, None, 4, 2]})
    [line] = _lines(fig)
    assert list(line.get_ydata()) == [3, 4, 2, 3]  # closed over A, C, D; no 0 at B
    step = 2 * math.pi / 4
    assert list(line.get_xdata()) == [0, 2 * step, 3 * step, 0]
    # B keeps its spoke and label
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["A", "B", "C", "D"]


async def test_a_dimension_nobody_answered_is_marked_and_not_drawn_at_0_in_the_radar(bot):
    from handlers.charts import figure_texts
    from handlers.checklist import profile_figure

    cl, profile = _partial()  # "Effects" answered by nobody
    with bot.services.locale("fi"):
        radar = profile_figure(cl, {"2026": profile}, radar=True)
        bars = profile_figure(cl, {"2026": profile})
    assert "Vaikutukset\n(ei vastauksia)" in figure_texts(radar)
    assert "Vaikutukset\n(ei vastauksia)" in figure_texts(bars)
    assert all(y > 0 for line in _lines(radar) for y in line.get_ydata())


async def test_two_rounds_started_on_one_day_are_two_series_in_the_compare_chart(bot, tmp_path, monkeypatch):
    from handlers import charts

    series = []
    real = charts.bar_figure

    def spy(categories, data, **kw):
        series.append(list(data))
        return real(categories, data, **kw)

    monkeypatch.setattr(charts, "bar_figure", spy)
    await _run_round(bot, tmp_path)
    await bot.say("/checklist close", user="admin", lang="en")
    bot.clock.advance(hours=2)
    await _run_round(bot, tmp_path)
    await bot.say("/checklist close", user="admin", lang="en")
    out = await bot.event(chat_id="group", sender_id="u1", text="/itsearviointi vertaa", language_hint="fi",
                          chat_title="group")
    [labels] = series[-1:]
    assert labels == ["ma 23.11.2026 klo 12.00", "ma 23.11.2026 klo 14.00"]  # not one 'ma 23.11.2026'
    # the text says the same, and the chart's caption lists both rounds
    assert " → ".join(labels) in out[0].plain
    [file] = [s for s in out if s.kind == "file"]
    assert all(label in file.file.caption_html for label in labels)


def test_two_rounds_on_one_day_in_the_digest_are_told_apart_by_their_time(bot):
    from datetime import datetime

    from handlers.checklist import render_digest
    from handlers.when import HELSINKI

    title = {"fi": "Lista", "sv": "Lista", "en": "List"}
    item = {"title": title, "area": "Maunula", "started": 1, "finished": 0, "answers_in_period": 1,
            "closes_at": None, "closed_at": None}
    morning, evening = (datetime(2026, 12, 1, h, tzinfo=HELSINKI) for h in (9, 18))
    rounds = [{**item, "round": 1, "started_at": morning.isoformat()},
              {**item, "round": 2, "started_at": evening.isoformat()},
              {**item, "round": 3, "started_at": (evening + timedelta(days=1)).isoformat()}]
    with bot.services.locale("fi"):
        lines = render_digest({"rounds": rounds})
    assert "Lista, kierros ti 1.12.2026 klo 9.00" in lines[1]
    assert "Lista, kierros ti 1.12.2026 klo 18.00" in lines[2]
    assert "Lista, kierros ke 2.12.2026" in lines[3] and "klo" not in lines[3].split("(")[0]
