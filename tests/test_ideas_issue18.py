"""Ideas as a new user meets them (issue 18): readable text around a marker, cards that keep their
language and follow edits, tag-only ideas, paging, and an author's own support."""

import pytest
from sqlalchemy import select

from handlers.ideas import parse_idea
from storage.ideas import Idea, IdeaSupport


async def stored(bot) -> list[Idea]:
    async with bot.services.db.session() as s:
        return list((await s.execute(select(Idea).order_by(Idea.number))).scalars())


@pytest.mark.parametrize(("text", "expected"), [
    ("Ett #förslag om trygghet och gatubelysning", "Ett förslag om trygghet och gatubelysning"),
    ("Meillä on #idea: yhteinen kasvimaa pihalle", "Meillä on idea: yhteinen kasvimaa pihalle"),
    ("Ett #förslag.", "Ett förslag."),
    ("#idea Kesäterassi kirjaston eteen", "Kesäterassi kirjaston eteen"),
    ("#IDEA: Kesäterassi", "Kesäterassi"),
    ("Kesäterassi kirjaston eteen #idea", "Kesäterassi kirjaston eteen"),
    ("Kesäterassi #kirjasto #idea", "Kesäterassi #kirjasto"),
])
def test_a_marker_inside_a_sentence_stays_as_its_word(text, expected):
    assert parse_idea(text).text == expected


async def test_marker_mid_sentence_is_stored_readable(bot):
    replies = await bot.say("Ett #förslag om trygghet och gatubelysning", lang="sv")
    assert replies[0].startswith("💡 Idé #1 sparad. Ett förslag om trygghet och gatubelysning")
    assert (await stored(bot))[0].text == "Ett förslag om trygghet och gatubelysning"


@pytest.mark.parametrize(("text", "lang", "expected"), [
    ("#idea #kirppis", "fi", "”#kirppis” on pelkkiä aihetunnisteita. Kirjoita itse idea niiden viereen, esimerkiksi: "
                             "#idea kirpputori pihalle #kirppis"),
    ("#idé #loppis", "sv", "”#loppis” är bara taggar. Skriv själva idén bredvid dem, till exempel: "
                           "#idea en loppmarknad på gården #loppis"),
    ("#idea", "fi", "Kirjoita itse idea samaan viestiin #idea-tunnisteen kanssa, esimerkiksi: "
                    "#idea kesäterassi kirjaston eteen"),
    ("#idea", "en", "Write the idea itself in the same message as #idea, for example: "
                    "#idea a summer terrace at the library"),
])
async def test_tag_only_or_empty_marker_messages_are_explained(bot, text, lang, expected):
    assert await bot.say(text, lang=lang) == [expected]
    assert await stored(bot) == []


async def test_tag_only_after_the_command_is_refused_too(bot):
    replies = await bot.say("/idea #kirppis")
    assert replies[0].startswith("”#kirppis” on pelkkiä aihetunnisteita.")
    assert "esimerkiksi: kirpputori pihalle #kirppis" in replies[0]
    assert await stored(bot) == []


async def test_the_card_keeps_its_language_whoever_presses(bot):
    await bot.say("/idea Penkkejä puistoon", user="aino", lang="fi")
    card = bot.transport.sent[-1].message_id
    await bot.say("/stod 1", user="bertil", lang="sv")
    edit = bot.transport.sent[-1]
    assert edit.kind == "edit" and edit.message_id == card
    assert edit.plain == "💡 Idea #1 Penkkejä puistoon\n1 kannattaja"
    sent = await bot.press("ideas:sup:1", user="carl", target_id=card, lang="en")
    assert sent[0].text == "👍 You support idea #1."  # the toast is the presser's
    assert sent[1].plain == "💡 Idea #1 Penkkejä puistoon\n2 kannattajaa"
    await bot.react(card, user="dora")
    assert bot.transport.sent[-1].plain == "💡 Idea #1 Penkkejä puistoon\n3 kannattajaa"


async def test_a_swedish_card_stays_swedish(bot):
    await bot.say("/ide Bänkar i parken", user="bertil", lang="sv")
    card = bot.transport.sent[-1].message_id
    await bot.say("/tue 1", user="aino", lang="fi")
    assert bot.transport.sent[-1].message_id == card
    assert bot.transport.sent[-1].plain == "💡 Idé #1 Bänkar i parken\n1 stödjare"


async def test_edit_and_withdraw_update_the_card(bot):
    await bot.say("/ide Bänkar i parken", user="bertil", lang="sv")
    card = bot.transport.sent[-1].message_id
    sent = await bot.event(chat_id="group", sender_id="bertil", sender_name="Bertil", language_hint="sv",
                           text="/redigera 1 Bänkar och bord i parken", message_id="in9")
    assert sent[0].plain == "Idé #1 uppdaterad."
    assert sent[-1].kind == "edit" and sent[-1].message_id == card
    assert sent[-1].plain == "💡 Idé #1 Bänkar och bord i parken\n0 stödjare"
    assert sent[-1].reply.buttons  # still open for support
    sent = await bot.event(chat_id="group", sender_id="bertil", sender_name="Bertil", language_hint="sv",
                           text="/aterkalla 1", message_id="in10")
    assert sent[-1].kind == "edit" and sent[-1].message_id == card
    assert sent[-1].plain == "💡 Idé #1 Förslagsställaren har återkallat den här idén."
    assert sent[-1].reply.buttons == ()  # no live 👍 button on a withdrawn idea


async def test_archiving_takes_the_button_off_the_card(bot):
    bot.make_admin("admin")
    await bot.say("/idea Penkkejä puistoon")
    card = bot.transport.sent[-1].message_id
    await bot.say("/tila 1 käsitelty", user="admin")
    assert bot.transport.sent[-1].message_id == card
    assert bot.transport.sent[-1].plain == "💡 Idea #1 Penkkejä puistoon\nTila: käsitelty · 0 kannattajaa"
    assert bot.transport.sent[-1].reply.buttons
    await bot.say("/tila 1 arkistoitu yhdistetty ideaan 2", user="admin")
    assert bot.transport.sent[-1].message_id == card and bot.transport.sent[-1].reply.buttons == ()


@pytest.mark.parametrize(("args", "lang"), [("sivu 2", "fi"), ("sida 2", "sv"), ("page 2", "en"), ("2", "fi")])
async def test_page_words_and_a_previous_page_button(bot, args, lang):
    for n in range(1, 13):
        await bot.say(f"/idea Penkki numero {n}")
    command = {"fi": "/ideat", "sv": "/ideer", "en": "/ideas"}[lang]
    replies = await bot.say(f"{command} {args}", lang=lang)
    first = replies[0].split("\n")[0]
    assert first.endswith({"fi": "(sivu 2/2, yhteensä 12)", "sv": "(sida 2/2, totalt 12)",
                           "en": "(page 2/2, 12 in all)"}[lang])
    assert [ln.split()[0] for ln in replies[0].split("\n")[1:]] == ["#2", "#1"]
    (row,) = bot.transport.sent[-1].reply.buttons
    assert [b.label for b in row] == [{"fi": "◀ Edellinen sivu", "sv": "◀ Föregående sida",
                                       "en": "◀ Previous page"}[lang]]
    sent = await bot.press(row[0].data, lang=lang)
    assert " 1/2" in sent[0].plain.split("\n")[0]
    (row,) = sent[0].reply.buttons
    assert len(row) == 1 and "▶" in row[0].label  # page 1: only "next"


async def test_one_page_is_said_in_the_singular(bot):
    await bot.say("/idea Penkki")
    assert await bot.say("/ideas 3", lang="en") == ["There is only 1 page."]
    assert await bot.say("/ideer 3", lang="sv") == ["Det finns bara en sida."]


async def test_an_author_may_support_their_own_idea_once(bot):
    """Decided: support counts the people who want an idea, its author among them (README)."""
    await bot.say("/idea Penkkejä puistoon", user="aino")
    assert (await bot.say("/tue 1", user="aino"))[0] == "👍 Kannatat ideaa #1. Kannattajia: 1."
    assert await bot.say("/tue 1", user="aino") == ["Kannatat jo ideaa #1."]
    await bot.react("in1", user="aino")  # the author's 👍 on their own message: still one
    async with bot.services.db.session() as s:
        assert list((await s.execute(select(IdeaSupport.person_key))).scalars()) == ["fake:aino"]
    assert (await stored(bot))[0].support_count == 1
