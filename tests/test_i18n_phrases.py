"""Issue 18, "Language": the phrases a native speaker stopped at, as the catalogs now say them."""

from __future__ import annotations

import pytest

from core.i18n import Catalogs, format_number, gettext, ngettext, use_locale

CATALOGS = Catalogs()


def tr(lang: str, msgid: str) -> str:
    with use_locale(CATALOGS, lang):
        return gettext(msgid)


def ntr(lang: str, singular: str, plural: str, n: int, **kw) -> str:
    with use_locale(CATALOGS, lang):
        return ngettext(singular, plural, n).format(count=format_number(n), **kw)


def test_named_votes_read_as_votes_with_names():
    assert tr("fi", "named") == "äänet nimellä"
    assert tr("sv", "named") == "röster med namn"


def test_the_language_is_named_in_its_own_case():
    assert tr("fi", "I'll speak English with you now.") == "Puhun nyt kanssasi suomea."
    assert tr("sv", "I'll speak English with you now.") == "Jag talar svenska med dig nu."
    assert tr("en", "I'll speak English with you now.") == "I'll speak English with you now."


def test_voter_counts_have_a_noun_and_a_plural():
    assert ntr("fi", "{count} has voted.", "{count} have voted.", 1) == "1 henkilö on äänestänyt."
    assert ntr("fi", "{count} has voted.", "{count} have voted.", 3) == "3 henkilöä on äänestänyt."
    assert ntr("sv", "{count} has voted.", "{count} have voted.", 1) == "1 person har röstat."


@pytest.mark.parametrize(("lang", "expected"), [
    ("fi", "Tämä ryhmä kuuluu alueeseen Maunula (alueella on 1 ryhmä)."),
    ("sv", "Den här gruppen hör till området Maunula (området har 1 grupp)."),
    ("en", "This chat belongs to the area Maunula (1 chat in it)."),
])
def test_one_chat_in_an_area_is_singular(lang, expected):
    assert ntr(lang, "This chat belongs to the area {area} ({count} chat in it).",
               "This chat belongs to the area {area} ({count} chats in it).", 1, area="Maunula") == expected


def test_large_numbers_are_grouped_as_each_language_writes_them():
    singular, plural = "That message is too long for me ({count} character).", "That message is too long for me ({count} characters)."
    assert ntr("fi", singular, plural, 10000) == "Viesti on minulle liian pitkä (10\xa0000 merkkiä)."
    assert ntr("sv", singular, plural, 10000) == "Meddelandet är för långt för mig (10\xa0000 tecken)."
    assert ntr("en", singular, plural, 10000) == "That message is too long for me (10,000 characters)."


def test_glossary_words():
    assert tr("fi", "meetings") == "kokoukset"  # not "tapaamiset"
    assert "självvärdering" in tr("sv", "self-assessment profile")  # not "självutvärdering"
    skipped = tr("sv", "Skipped: {title} on {when}.")
    assert "Inställ" not in skipped and skipped.startswith("Hoppas över")  # skipped, not cancelled
    assert tr("sv", "Skipped: {dates}").startswith("Hoppas över")
    assert tr("fi", "This button no longer works.") == "Tämä painike ei ole enää käytössä."


@pytest.mark.parametrize(("lang", "command", "expected"), [
    ("en", "/digest friday 16:00", "The weekly digest comes every Friday at 16:00."),
    ("fi", "/kooste pe 16:00", "Viikkokooste tulee joka perjantai klo 16.00."),
    ("sv", "/sammandrag fredag 16.00", "Veckosammandraget kommer varje fredag kl. 16.00."),
])
async def test_digest_day_and_time_as_the_language_writes_them(bot, lang, command, expected):
    bot.make_admin("admin")
    assert (await bot.say(command, user="admin", lang=lang))[0] == expected


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "Give a weekday and a time, for example: Monday 09:00, or off / on."),
    ("fi", "Anna viikonpäivä ja kellonaika, esimerkiksi: maanantai 9.00, tai pois / päälle."),
])
async def test_digest_time_example_in_the_persons_language(bot, lang, expected):
    bot.make_admin("admin")
    reply = (await bot.say({"en": "/digest sometime", "fi": "/kooste joskus"}[lang], user="admin", lang=lang))[0]
    assert reply.startswith(expected)
