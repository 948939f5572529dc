"""Ideas end to end through the router, a fake transport and a real SQLite store."""

import pytest
from sqlalchemy import func, select

from core.markup import validate
from handlers.ideas import MAX_IDEA_CHARS, parse_idea, parse_list
from storage.ideas import Idea, IdeaEvent, IdeaSupport, IdeaTag

SAVED = {"fi": "💡 Idea #1 tallennettu.", "sv": "💡 Idé #1 sparad.", "en": "💡 Idea #1 saved."}
TAGS = {"fi": "Aiheet: paikallinen energia", "sv": "Taggar: lokal energi", "en": "Tags: local energy"}


async def count(bot, model):
    async with bot.services.db.session() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_capture_by_command_in_each_language(bot, lang):
    replies = await bot.say("/idea Aurinkopaneelit koulun katolle", lang=lang)
    assert len(replies) == 1
    first, tags, support = replies[0].split("\n")
    assert first == SAVED[lang] + " Aurinkopaneelit koulun katolle"
    assert tags == TAGS[lang]
    assert support == {"fi": "Kannata sitä 👍:llä tai komennolla /tue 1.",
                       "sv": "Stöd den med 👍 eller /stod 1.",
                       "en": "Support it with 👍 or /support 1."}[lang]
    async with bot.services.db.session() as s:
        idea = (await s.execute(select(Idea))).scalar_one()
    assert idea.author_key == "fake:u1" and idea.chat_key == "fake:group"
    assert idea.tags == "energy" and idea.status == "new"
    assert idea.bot_message_id == bot.transport.sent[-1].message_id


@pytest.mark.parametrize(("text", "lang"), [("Lähiruokapiiri taloyhtiöön #idea", "fi"),
                                            ("#idé matkooperativ i huset", "sv"),
                                            ("#idea a food coop for the block", "en")])
async def test_capture_by_hashtag(bot, text, lang):
    replies = await bot.say(text, lang=lang)
    assert replies[0].startswith(SAVED[lang])
    assert "#idea" not in replies[0].split("\n")[0] and "#idé" not in replies[0].split("\n")[0]
    async with bot.services.db.session() as s:
        idea = (await s.execute(select(Idea))).scalar_one()
    assert "food" in idea.tags.split()


async def test_plain_message_without_hashtag_is_ignored(bot):
    assert await bot.say("hyvää huomenta kaikille #kahvi") == []
    assert await count(bot, Idea) == 0


def test_tags_from_themes_keywords_and_free_hashtags():
    p = parse_idea("Putkiremontti yhdessä naapuritalojen kanssa #maunula #Energia #idea")
    assert p.tags == ("renovation", "energy", "maunula")
    assert parse_idea("Trygg belysning vid äldreboendet").tags == ("seniors", "safety")
    assert parse_idea("Wheelchair ramp to the shared space").tags == ("spaces", "accessibility")
    assert parse_idea("kirjasto auki sunnuntaisin").tags == ()


async def test_idea_is_committed_before_the_acknowledgement(bot):
    seen_in_store = []
    original = bot.transport.send

    async def send_and_look(chat_id, reply):
        # A second connection sees the idea already: it was committed before the reply.
        seen_in_store.append(await count(bot, Idea))
        return await original(chat_id, reply)

    bot.transport.send = send_and_look
    await bot.say("/idea Penkkejä puistoon")
    assert seen_in_store == [1]


async def test_support_by_command_button_and_reaction(bot):
    await bot.say("/idea Penkkejä puistoon", user="author")
    ack_id = bot.transport.sent[-1].message_id
    # command
    replies = await bot.say("/tue 1", user="u2")
    assert replies[0] == "👍 Kannatat ideaa #1. Kannattajia: 1."
    assert bot.transport.sent[-1].kind == "edit" and bot.transport.sent[-1].message_id == ack_id
    assert replies[1] == "💡 Idea #1 Penkkejä puistoon\n1 kannattaja"
    assert await bot.say("/tue 1", user="u2") == ["Kannatat jo ideaa #1."]
    # button on the idea's message: toast and the message edited in place
    sent = await bot.press("ideas:sup:1", user="u3", target_id=ack_id)
    assert [s.kind for s in sent] == ["ack", "edit"]
    assert sent[0].text == "👍 Kannatat ideaa #1."
    assert "2 kannattajaa" in sent[1].plain and sent[1].message_id == ack_id
    sent = await bot.press("ideas:sup:1", user="u3", target_id=ack_id)
    assert [s.kind for s in sent] == ["ack"] and sent[0].text == "Kannatat jo ideaa #1."
    # reaction on the bot's message, then on the author's original message
    await bot.react(ack_id, user="u4")
    await bot.react("in1", "👍🏽", user="u5")
    await bot.react(ack_id, "❤️", user="u6")  # not a support reaction
    assert await count(bot, IdeaSupport) == 4
    # withdrawals: reaction removed, command
    await bot.react(ack_id, user="u4", removed=True)
    assert (await bot.say("/peru_tuki 1", user="u2"))[0] == "Et enää kannata ideaa #1. Kannattajia: 2."
    assert await bot.say("/peru_tuki 1", user="u2") == ["Et kannattanut ideaa #1."]
    async with bot.services.db.session() as s:
        idea = (await s.execute(select(Idea))).scalar_one()
        supporters = set((await s.execute(select(IdeaSupport.person_key))).scalars())
    assert idea.support_count == 2 == len(supporters)
    assert supporters == {"fake:u3", "fake:u5"}


async def test_listing_pages_order_tags_status_and_search(bot):
    for n in range(1, 13):
        await bot.say(f"/idea Idea number {n} about {'energy' if n % 3 == 0 else 'benches'}", lang="en")
    await bot.say("/support 2", user="a")
    await bot.say("/support 2", user="b")
    await bot.say("/support 5", user="a")
    page1 = (await bot.say("/ideas", lang="en"))[0].split("\n")
    assert page1[0] == "Newest ideas (page 1/2, 12 in all)"
    assert page1[1].startswith("#12 ") and len([ln for ln in page1 if ln.startswith("#")]) == 10
    assert bot.transport.sent[-1].reply.buttons[0][0].data == "ideas:page:new::::2"
    sent = await bot.press("ideas:page:new::::2", lang="en")
    assert sent[0].plain.split("\n")[0] == "Newest ideas (page 2/2, 12 in all)"
    top = (await bot.say("/ideas top", lang="en"))[0].split("\n")
    assert top[1].startswith("#2 ") and top[2].startswith("#5 ")
    tagged = (await bot.say("/ideas #energy", lang="en"))[0].split("\n")
    assert [ln.split()[0] for ln in tagged[1:]] == ["#12", "#9", "#6", "#3"]
    found = (await bot.say("/ideas number 1", lang="en"))[0]  # words "number", page 1
    assert "(page 1/2, 12 in all)" in found
    # words with no order asked: the best match first (tests/test_ideas_search.py)
    assert (await bot.say("/ideas IDEA 2", lang="en"))[0].startswith("Best matches (page 2/")
    assert await bot.say("/ideas kahvi", lang="en") == ["No ideas match."]
    assert await bot.say("/ideas 9", lang="en") == ["There are only 2 pages."]
    # a page number out of any range is a page, not words to search for
    assert await bot.say("/ideas page 99999999999999999999", lang="en") == ["There are only 2 pages."]
    assert (await bot.say("/ideas page -3", lang="en"))[0].startswith("Newest ideas (page 1/2")


def test_parse_list_words_in_three_languages():
    assert parse_list("suosituimmat #Energia 2") == parse_list("populära #energi 2")
    q = parse_list("käsitelty kirjasto")
    assert (q.status, q.words, q.page) == ("discussed", ("kirjasto",), 1)


async def test_lifecycle_needs_admin_and_records_history(bot):
    await bot.say("/idea Kesäterassi kirjaston eteen", user="author", name="Aino")
    assert await bot.say("/tila 1 käsitelty", user="u2") == ["Vain ryhmän ylläpitäjät voivat tehdä tämän."]
    bot.make_admin("boss")
    # each reply is followed by the card refreshed (tests/test_ideas_issue18.py)
    assert (await bot.say("/tila 1 käsitelty hyvä idea", user="boss", name="Pekka"))[:1] == [
        "Idea #1: uusi → käsitelty. Perustelu: hyvä idea"]
    assert await bot.say("/status 1 done", user="boss", lang="en") == [
        "Idea #1 is discussed; it can move to: experiment, project, new, archived."]
    assert (await bot.say("/status 1 experiment", user="boss", name="Pekka", lang="en"))[:1] == ["Idea #1: discussed → experiment."]
    assert (await bot.say("/status 1 archived", user="boss", lang="en"))[0].startswith(
        "Give a reason for archiving, for example: /status 1 archived")
    assert (await bot.say("/status 1 klar", user="boss", name="Pekka", lang="en"))[:1] == ["Idea #1: experiment → done."]
    assert await bot.say("/status 1 valmis", user="boss", lang="en") == ["Idea #1 is already done."]
    assert (await bot.say("/status 1 banana", user="boss", lang="en"))[0].startswith('Unknown status “banana”')
    shown = (await bot.say("/idea 1", lang="en"))[0].split("\n")
    assert shown[0] == "💡 Idea #1" and shown[1] == "Kesäterassi kirjaston eteen"
    assert shown[2].startswith("By Aino, Mon 23 Nov 2026 · status: done · 👍 0")
    history = shown[shown.index("History") + 1:]
    assert history == [
        "• Mon 23 Nov 2026 12:00: posted by Aino",
        "• Mon 23 Nov 2026 12:00: new → discussed by Pekka — hyvä idea",
        "• Mon 23 Nov 2026 12:00: discussed → experiment by Pekka",
        "• Mon 23 Nov 2026 12:00: experiment → done by Pekka",
    ]
    assert await count(bot, IdeaEvent) == 3  # the changes; the posting is the idea row itself


async def test_history_of_an_older_store_shows_the_posting_once(bot):
    await bot.say("/idea Penkkejä puistoon", name="Aino")
    async with bot.services.db.transaction() as s:  # before 2026-12 the posting was also an event
        idea = (await s.execute(select(Idea))).scalar_one()
        s.add(IdeaEvent(idea_id=idea.id, at=idea.created_at, actor_key=idea.author_key, actor_name="Aino",
                        action="created", to_status="new"))
        await s.commit()
    shown = (await bot.say("/idea 1", lang="en"))[0].split("\n")
    assert [line for line in shown if "posted by" in line] == ["• Mon 23 Nov 2026 12:00: posted by Aino"]


async def test_coordinator_may_move_ideas(make_bot):
    bot = await make_bot(coordinators=["fake:pm"])
    await bot.say("/idea Yhteinen sauna")
    assert (await bot.say("/tila 1 käsitelty", user="pm"))[:1] == ["Idea #1: uusi → käsitelty."]


async def test_author_edits_and_withdraws_only_own(bot):
    await bot.say("/idea Penkkejä", user="author")
    assert await bot.say("/muokkaa 1 Penkkejä ja pöytiä puistoon", user="other") == [
        "Vain idean #1 ehdottaja voi tehdä sen."]
    assert (await bot.say("/muokkaa 1 Penkkejä ja aurinkopaneeli", user="author"))[:1] == [
        "Idea #1 päivitetty.\nAiheet: paikallinen energia"]
    assert await bot.say("/peru_idea 1", user="other") == ["Vain idean #1 ehdottaja voi tehdä sen."]
    assert (await bot.say("/peru_idea 1", user="author"))[:1] == ["Idea #1 peruttu."]
    assert await bot.say("/idea 1") == ["Tässä ryhmässä ei ole ideaa #1."]
    assert await bot.say("/ideat") == ["Ideoita ei vielä ole. Kirjaa ensimmäinen komennolla /idea <teksti> tai #idea."]


async def test_chats_are_isolated(bot):
    await bot.say("/idea Maunula-talon terassi", chat="maunula")
    await bot.say("/idea Suutarilan kävelyryhmä", chat="suutarila")
    assert (await bot.say("/idea 1", chat="maunula"))[0].split("\n")[1] == "Maunula-talon terassi"
    assert (await bot.say("/idea 1", chat="suutarila"))[0].split("\n")[1] == "Suutarilan kävelyryhmä"
    maunula_idea_msg = bot.transport.sent[0].message_id
    # a button or reaction from another chat cannot touch it
    sent = await bot.press("ideas:sup:1", chat="suutarila", user="x")
    assert sent[0].text == "Tätä ideaa ei ole enää saatavilla."
    await bot.react(maunula_idea_msg, chat="suutarila", user="x")
    assert await count(bot, IdeaSupport) == 0
    assert "Suutarila" not in (await bot.say("/ideat", chat="maunula"))[0]


BAD = [
    ("/idea", {"fi": "Idea on tyhjä.", "sv": "Idén är tom.", "en": "The idea is empty."}),
    ("/idea    #idea  ", {"fi": "Idea on tyhjä.", "sv": "Idén är tom.", "en": "The idea is empty."}),
    ("/idea " + "x" * (MAX_IDEA_CHARS + 1), {"fi": "Idea on liian pitkä: 1\xa0001 merkkiä, enintään 1\xa0000.",
                                             "sv": "Idén är för lång: 1\xa0001 tecken, högst 1\xa0000.",
                                             "en": "The idea is too long: 1,001 characters, at most 1,000."}),
    ("/idea 🎉🎉🎉 !!!", {"fi": "Kuvaile idea sanoin", "sv": "Beskriv idén med ord", "en": "Please describe the idea in words"}),
    ("/tue 99", {"fi": "Tässä ryhmässä ei ole ideaa #99.", "sv": "Det finns ingen idé #99 i den här gruppen.",
                 "en": "There is no idea #99 in this chat."}),
    ("/tue kaksi", {"fi": "Anna idean numero, esimerkiksi 12.\nKäyttö: /tue <numero>",
                    "sv": "Ange idéns nummer, till exempel 12.\nAnvändning: /stod <nummer>",
                    "en": "Give the idea's number, for example 12.\nUsage: /support <number>"}),
    ("/eiole", {"fi": "En tunne komentoa /eiole.", "sv": "Jag känner inte till kommandot /eiole.",
                "en": "I don't know the command /eiole."}),
]


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
@pytest.mark.parametrize(("text", "expected"), BAD, ids=[b[0][:12] for b in BAD])
async def test_bad_input_gets_a_clear_reply_and_changes_nothing(bot, lang, text, expected):
    replies = await bot.say(text, lang=lang)
    assert len(replies) == 1 and replies[0].startswith(expected[lang])
    assert await count(bot, Idea) == 0


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_someone_elses_idea_cannot_be_edited(bot, lang):
    await bot.say("/idea Oma idea", user="author")
    before = bot.transport.sent[-1]
    reply = await bot.say("/edit 1 Muutettu", user="other", lang=lang)
    assert reply == [{"fi": "Vain idean #1 ehdottaja voi tehdä sen.", "sv": "Bara förslagsställaren för idé #1 kan göra det.",
                      "en": "Only the author of idea #1 can do that."}[lang]]
    assert (await bot.say("/idea 1"))[0].split("\n")[1] == "Oma idea" and before


async def test_markup_and_rtl_text_are_escaped(bot):
    await bot.say('/idea <b>bold</b> & <a href="x">link</a> مرحبا بالحديقة')
    html = bot.transport.sent[-1].reply.html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href=&quot;x&quot;&gt;" in html
    assert validate(html) == []
    assert "مرحبا" in bot.transport.sent[-1].plain
    async with bot.services.db.session() as s:
        assert (await s.execute(select(Idea.text))).scalar_one().startswith("<b>bold</b> & <a")


async def test_numbers_are_per_chat_and_tags_stored(bot):
    await bot.say("/idea Eka #ruoka #kahvila", chat="a")
    await bot.say("/idea Toka", chat="a")
    await bot.say("/idea Kolmas", chat="b")
    async with bot.services.db.session() as s:
        rows = (await s.execute(select(Idea.chat_key, Idea.number).order_by(Idea.id))).all()
        tags = set((await s.execute(select(IdeaTag.tag))).scalars())
    assert rows == [("fake:a", 1), ("fake:a", 2), ("fake:b", 1)]
    assert tags == {"food", "kahvila"}


def test_theme_index_agrees_with_each_themes_own_words():
    from handlers.ideas import THEME_INDEX, THEMES

    words = {"kirjasto", "x", "talo"}
    for theme in THEMES:
        words |= theme.exact | set(theme.prefixes) | {p + "ssa" for p in theme.prefixes}
    for word in words:
        assert THEME_INDEX.of_word(word) == {t.id for t in THEMES if t.matches(word)}, word
    ordered = sorted(words)
    for start in range(0, len(ordered), 7):
        sample = set(ordered[start:start + 7])
        assert THEME_INDEX.of_words(sample) == [t.id for t in THEMES if any(t.matches(w) for w in sample)]


async def _edit(bot, message_id, text, user="u1", lang=None):
    from core.events import Kind

    return await bot.event(chat_id="group", sender_id=user, sender_name=user.capitalize(), kind=Kind.EDIT,
                           text=text, target_id=message_id, language_hint=lang)


async def test_editing_the_posting_message_edits_the_idea(bot):
    await bot.say("/idea Penkkejä puistoon", message_id="m1")
    await bot.say("Kahvila kirjastoon #idea", message_id="m2")
    sent = await _edit(bot, "m1", "/idea Penkkejä ja roskiksia puistoon #kortteli")
    assert [s.kind for s in sent] == ["edit"]  # the bot's message follows; no new message
    assert "Penkkejä ja roskiksia puistoon" in sent[0].plain and "#kortteli" in sent[0].plain
    await _edit(bot, "m2", "Kahvila ja lukusali kirjastoon #idea")
    async with bot.services.db.session() as s:
        texts = (await s.execute(select(Idea.text).order_by(Idea.number))).scalars().all()
        tags = set((await s.execute(select(IdeaTag.tag))).scalars())
    assert texts == ["Penkkejä ja roskiksia puistoon #kortteli", "Kahvila ja lukusali kirjastoon"]
    assert "kortteli" in tags
    shown = (await bot.say("/idea 1", lang="en"))[0]
    assert "edited by U1" in shown


@pytest.mark.parametrize("text", ["Kahvila kirjastoon", "/ideas", "/idea 1"])
async def test_an_edit_that_is_no_longer_an_idea_leaves_it(bot, text):
    await bot.say("Kahvila kirjastoon #idea", message_id="m1")
    assert await _edit(bot, "m1", text) == []
    async with bot.services.db.session() as s:
        assert (await s.execute(select(Idea.text))).scalar_one() == "Kahvila kirjastoon"


async def test_edits_by_others_or_to_nothing_change_nothing(bot):
    await bot.say("/idea Penkkejä puistoon", message_id="m1")
    assert await _edit(bot, "m1", "/idea Jotain muuta", user="u2") == []
    [reply] = await _edit(bot, "m1", "/idea", lang="en")
    assert reply.plain.startswith("The idea is empty")
    async with bot.services.db.session() as s:
        assert (await s.execute(select(Idea.text))).scalar_one() == "Penkkejä puistoon"
