"""The self-assessment's and the experiments' messages as a native reader sees them (issue 18):
plural forms, numbers through Babel, dates without zero padding, Swedish that reads as Swedish."""

from datetime import datetime

import pytest

from handlers.base import UserError
from handlers.when import HELSINKI

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=HELSINKI)


@pytest.mark.parametrize("lang, future, far", [
    ("fi", "ke 2.12.2026 on tulevaisuudessa", "ti 1.1.2019 on liian kaukana"),
    ("sv", "ons 2.12.2026 är i framtiden", "tis 1.1.2019 ligger för långt"),
    ("en", "Wed 2 Dec 2026 is in the future", "Tue 1 Jan 2019 is too far back"),
])
def test_a_measured_day_refused_is_written_as_the_language_writes_dates(bot, lang, future, far):
    from handlers.experiments import parse_value_date

    with bot.services.locale(lang):
        with pytest.raises(UserError) as err:
            parse_value_date("2.12.2026", NOW)
        assert str(err.value.args[0]).startswith(future)
        with pytest.raises(UserError) as err:
            parse_value_date("1.1.2019", NOW)
        assert str(err.value.args[0]).startswith(far)


def test_the_axis_of_a_chart_writes_days_by_babel(bot):
    from handlers.charts import day_label

    day = datetime(2026, 3, 2, 12, tzinfo=HELSINKI)
    for lang, text in (("fi", "2.3.2026"), ("sv", "2.3.2026"), ("en", "2 Mar 2026")):
        with bot.services.locale(lang):
            assert day_label(day) == text


@pytest.mark.parametrize("lang, text", [
    ("fi", "Vastauksesi on liian pitkä: 2 001 merkkiä, enintään 2 000."),
    ("sv", "Ditt svar är för långt: 2\xa0001 tecken, högst 2\xa0000."),
    ("en", "Your answer is too long: 2,001 characters, at most 2,000."),
])
async def test_a_too_long_text_answer_counts_through_babel(bot, tmp_path, lang, text):
    from tests.test_checklist_profile import MINI

    (tmp_path / "checklists").mkdir(exist_ok=True)
    (tmp_path / "checklists" / "mini.yaml").write_text(MINI)
    bot.make_admin("admin")
    await bot.say("/checklist start mini", user="admin", lang="en")
    rid = int(bot.transport.sent[-1].reply.buttons[0][0].data.rsplit(":", 1)[1])
    await bot.press(f"checklist:go:{rid}", user="u1", lang=lang)
    pc = {"user": "u1", "chat": "private-u1", "lang": lang}
    for qid, value in (("q1", 4), ("q2", 2), ("q3", "yes")):
        await bot.press(f"checklist:a:{rid}:{qid}:{value}", **pc)
    out = await bot.say("x" * 2001, private=True, **pc)
    # Babel's group separator: a no-break space in Finnish and Swedish (as printed by plain text)
    assert out[-1].replace("\u202f", "\xa0").replace("\xa0", " ") == text.replace("\xa0", " ")


@pytest.mark.parametrize("lang, one, two", [
    ("fi", "tällä viikolla 1 vastaus", "tällä viikolla 2 vastausta"),
    ("sv", "1 svar den här veckan", "2 svar den här veckan"),
    ("en", "1 answer this week", "2 answers this week"),
])
def test_the_digest_line_of_a_round_agrees_with_its_count(bot, lang, one, two):
    from handlers.checklist import render_digest

    item = {"round": 1, "title": {"fi": "Lista", "sv": "Lista", "en": "List"}, "area": "Maunula",
            "started_at": NOW.isoformat(), "started": 1, "finished": 1, "closes_at": None, "closed_at": None}
    with bot.services.locale(lang):
        assert one in render_digest({"rounds": [{**item, "answers_in_period": 1}]})[1]
        assert two in render_digest({"rounds": [{**item, "answers_in_period": 2}]})[1]


def test_the_swedish_join_hint_reads_as_swedish(bot):
    with bot.services.locale("sv"):
        from core.i18n import _

        text = _("Only the team of experiment #{number} may do this. Join it with {command} {number}.")
    assert "med med" not in text and "Gå med i teamet" in text
