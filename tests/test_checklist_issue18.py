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
