"""/ideat <words>: full-text search on SQLite (FTS5) and PostgreSQL (text-search configurations),
inflected forms as far as the stemmers go (docs/search.md), one chat's ideas only, hostile text."""

import random

import pytest
from sqlalchemy import text

from bot.testing import TestBot
from handlers.ideas import parse_list
from storage import ideas as store
from storage.db import Database
from storage.migrate import upgrade


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def sbot(request, tmp_path, pg_url_factory):
    url = await pg_url_factory() if request.param == "postgres" else None
    tb = await TestBot(tmp_path, database_url=url).open()
    tb.make_admin("admin")
    yield tb
    await tb.close()


async def chat_language(bot, lang: str, chat: str = "group") -> None:
    bot.make_admin("admin", chat)
    command = {"fi": "/kieli ryhmä fi", "sv": "/sprak grupp sv", "en": "/lang chat en"}[lang]
    await bot.say(command, user="admin", chat=chat, lang=lang)
    assert await bot.services.chat_language(f"fake:{chat}") == lang


async def found(bot, words: str, *, lang: str, chat: str = "group") -> list[int]:
    """The numbers of the ideas a search lists (all on one page here)."""
    command = {"fi": "/ideat", "sv": "/ideer", "en": "/ideas"}[lang]
    reply = (await bot.say(f"{command} {words}", lang=lang, chat=chat))[0]
    return sorted(int(ln.split()[0][1:]) for ln in reply.split("\n")[1:] if ln.startswith("#"))


async def test_finnish_inflected_forms(sbot):
    await chat_language(sbot, "fi")
    for idea in ("Valaistus kadulla on huono", "Kadun valaistus pimeänä", "Katuvalaistus puuttuu Maunulasta",
                 "Katujen kunnossapito", "Kirjaston aukioloajat"):
        await sbot.say(f"/idea {idea}")
    # the stemmer makes kadulla, kadun → kadu; katu, katujen → katu (consonant gradation stays)
    assert await found(sbot, "kadun valaistus", lang="fi") == [1, 2]
    assert await found(sbot, "kadulla", lang="fi") == [1, 2]
    # a word is a prefix of its stem: "katu" finds the compound katuvalaistus too
    assert await found(sbot, "katu", lang="fi") == [3, 4]
    assert await found(sbot, "katuvalaistus", lang="fi") == [3]
    assert await found(sbot, "valaistus", lang="fi") == [1, 2]
    assert await found(sbot, "kirjasto", lang="fi") == [5]  # kirjaston → kirjasto
    reply = (await sbot.say("/ideat kadun valaistus"))[0]
    assert reply.startswith("Parhaat osumat (sivu 1/1, yhteensä 2)")


async def test_swedish_inflected_forms(sbot):
    await chat_language(sbot, "sv")
    for idea in ("Belysning på gatan behövs", "Gatorna saknar bänkar", "Gatubelysningen är trasig", "Fler bänkar i parken"):
        await sbot.say(f"/ide {idea}", lang="sv")
    # gatorna, gator, gata → gat (a prefix of gatan, gatubelysningen); gatan stays gatan
    assert await found(sbot, "gatorna", lang="sv") == [1, 2, 3]
    assert await found(sbot, "gata", lang="sv") == [1, 2, 3]
    assert await found(sbot, "gatan", lang="sv") == [1]
    assert await found(sbot, "bänk", lang="sv") == [2, 4]  # bänkar
    assert await found(sbot, "belysning gatan", lang="sv") == [1]


async def test_english_inflected_forms(sbot):
    await chat_language(sbot, "en")
    for idea in ("More lights in the park", "Street lighting at night", "A light festival in winter", "Benches",
                 "City libraries", "The city library"):
        await sbot.say(f"/idea {idea}", lang="en")
    assert await found(sbot, "lights", lang="en") == [1, 2, 3]
    assert await found(sbot, "library", lang="en") == [5, 6]  # → librari; SQLite: the prefix "librar"
    assert await found(sbot, "city", lang="en") == [5, 6]
    assert await found(sbot, "lighting", lang="en") == [1, 2, 3]
    assert await found(sbot, "streets lights", lang="en") == [2]
    assert await found(sbot, "bench", lang="en") == [4]


async def test_a_swedish_reader_in_a_finnish_chat_is_searched_in_swedish_too(sbot):
    await sbot.say("/ide Gatorna saknar bänkar", lang="sv")
    await sbot.say("/idea Penkkejä kadulle")
    assert await found(sbot, "gata", lang="sv") == [1]  # the chat is Finnish, the reader Swedish
    assert await found(sbot, "kadun", lang="fi") == [2]


async def test_best_match_first_and_other_orders_and_filters_kept(sbot):
    await chat_language(sbot, "en")
    await sbot.say("/idea Benches by the library", lang="en")
    await sbot.say("/idea Benches benches benches: more benches", lang="en")
    await sbot.say("/idea A library garden #energy", lang="en")
    await sbot.say("/support 1", user="a", lang="en")
    best = (await sbot.say("/ideas benches", lang="en"))[0].split("\n")
    assert best[0] == "Best matches (page 1/1, 2 in all)"
    assert [ln.split()[0] for ln in best[1:]] == ["#2", "#1"]
    newest = (await sbot.say("/ideas newest benches", lang="en"))[0].split("\n")
    assert newest[0].startswith("Newest ideas") and [ln.split()[0] for ln in newest[1:]] == ["#2", "#1"]
    top = (await sbot.say("/ideas top benches", lang="en"))[0].split("\n")
    assert [ln.split()[0] for ln in top[1:]] == ["#1", "#2"]
    assert await found(sbot, "#energy library", lang="en") == [3]
    sbot.make_admin("boss")
    await sbot.say("/status 1 discussed", user="boss", lang="en")
    assert await found(sbot, "discussed bench", lang="en") == [1]
    await sbot.say("/withdraw 2", lang="en")
    assert await found(sbot, "benches", lang="en") == [1]


async def test_paging_a_search_keeps_its_order(sbot):
    for n in range(1, 13):
        await sbot.say(f"/idea Penkki {'penkki ' * (n % 3)}numero {n}")
    first = (await sbot.say("/ideat penkit"))[0].split("\n")
    assert first[0] == "Parhaat osumat (sivu 1/2, yhteensä 12)"
    (row,) = sbot.transport.sent[-1].reply.buttons
    assert row[0].data == "ideas:page:rel:::penkit:2"
    second = (await sbot.press(row[0].data))[0].plain.split("\n")
    assert second[0] == "Parhaat osumat (sivu 2/2, yhteensä 12)"
    numbers = [int(ln.split()[0][1:]) for ln in first[1:] + second[1:] if ln.startswith("#")]
    assert sorted(numbers) == list(range(1, 13))
    # most "penkki" first (n % 3 == 2), then 1, then 0; newest first among equals
    assert numbers[:4] == [11, 8, 5, 2]


async def test_another_chats_ideas_are_not_found(sbot):
    await sbot.say("/idea Kadun valaistus", chat="maunula")
    await sbot.say("/idea Kadun valaistus", chat="suutarila")
    await sbot.say("/idea Kirjasto", chat="suutarila")
    assert await found(sbot, "kadun", lang="fi", chat="maunula") == [1]
    assert await found(sbot, "kirjasto", lang="fi", chat="maunula") == []
    assert await sbot.say("/ideat kirjasto", chat="maunula") == ["Hakuun sopivia ideoita ei löytynyt."]


async def test_edited_and_withdrawn_ideas_follow_the_index(sbot):
    await sbot.say("/idea Kesäterassi kirjaston eteen")
    assert await found(sbot, "kirjasto", lang="fi") == [1]
    await sbot.say("/muokkaa 1 Kesäterassi uimahallin eteen")
    assert await found(sbot, "kirjasto", lang="fi") == []
    assert await found(sbot, "uimahalli", lang="fi") == [1]


HOSTILE = ['"kadun', "kadun'", "&|!:*()", "kadun & | ! valaistus", "kadun:* | (", "'; DROP TABLE idea; --",
           "\" OR 1=1 --", "NEAR(kadun valaistus)", "kadun AND", "OR", "NOT kadun", "^kadun", "kadun*", "***",
           "%_", "\\", "katu-valaistus", "kadun\x00", "ääää", "a", "ja", "x" * 100, "<-> <2>", "kadun:a"]


@pytest.mark.parametrize("words", HOSTILE)
async def test_hostile_search_text_is_only_words(sbot, words):
    await sbot.say("/idea Kadun valaistus")
    await sbot.say(f"/idea {words} mukana")
    reply = (await sbot.say(f"/ideat {words}"))[0]
    assert reply.startswith(("Parhaat osumat", "Uusimmat ideat", "Hakuun sopivia ideoita ei löytynyt.")), reply
    async with sbot.services.db.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM idea"))).scalar_one() == 2


def test_search_words_are_letters_and_digits():
    assert store.search_words(["Kadun:*", "'valo'", "&|!", "katu-valo", "A_B"]) == ["kadun", "valo", "katu", "a", "b"]
    assert store.search_words(["!!!", "***"]) == []
    q = parse_list("kadun valaistus")
    assert (q.order, q.words) == ("rel", ("kadun", "valaistus"))
    assert parse_list("uusimmat kadun").order == "new" and parse_list("").order == "new"


async def test_random_text_is_a_valid_query(sbot):
    """Whatever a person types, the store takes the query (no match is fine, an error is not)."""
    rng = random.Random(16)
    alphabet = ("aäöå kKZ-_'\"&|!:*()<>\\%^~.,;@#$0123456789\u0301ß²ǅ\u200b\t\n"
                + "".join(chr(rng.randrange(0x80, 0x3000)) for _ in range(300)))
    await sbot.say("/idea Kadun valaistus")
    async with sbot.services.db.session() as s:
        for _ in range(300):
            words = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12))) for _ in range(rng.randrange(1, 4))]
            await store.list_ideas(s, "fake:group", words=words, languages=(rng.choice(["fi", "sv", "en"]), "sv"),
                                   order="rel")


async def test_a_broad_search_on_postgres_ranks_its_newest_matches(sbot, monkeypatch):
    """PostgreSQL ranks only the newest store.RANKED matches (ranking costs per row there), then
    the older ones newest first; SQLite ranks all (bm25 costs the same for any number)."""
    monkeypatch.setattr(store, "RANKED", 2)
    for idea in ("Penkki penkki penkki penkki", "Penkki", "Penkki", "Penkki penkki"):
        await sbot.say(f"/idea {idea}")
    reply = (await sbot.say("/ideat penkki"))[0]
    order = [ln.split()[0] for ln in reply.split("\n")[1:]]
    if sbot.services.db.engine.dialect.name == "postgresql":
        assert order == ["#4", "#3", "#2", "#1"]
    else:
        assert order == ["#1", "#4", "#3", "#2"]


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_ideas_from_before_the_index_are_found_after_the_upgrade(kind, tmp_path, pg_url_factory):
    url = await pg_url_factory() if kind == "postgres" else f"sqlite+aiosqlite:///{tmp_path}/old.sqlite3"
    db = Database(url)
    await upgrade(db, "0013_ideas_card_language")  # the ideas as they were before 0015_ideas_search
    async with db.engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO idea (chat_key, number, text, search, tags, author_key, author_name, status, support_count,"
            " created_at, updated_at) VALUES ('fake:group', 1, 'Valaistus kadulla', 'valaistus kadulla', '', 'fake:a',"
            " 'A', 'new', 0, '2026-11-01 10:00:00', '2026-11-01 10:00:00')"))
    await db.upgrade()
    async with db.session() as s:
        ideas, total = await store.list_ideas(s, "fake:group", words=["kadun"], languages=("fi",), order="rel")
    assert [i.number for i in ideas] == [1] and total == 1
    await db.close()
