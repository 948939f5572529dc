"""The date/time phrase parser: a table of phrases at fixed "now"s, errors, durations, splitting, CLI."""

from datetime import datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import main as cli_main
from core.i18n import Catalogs, use_locale
from handlers.when import HELSINKI, WhenError, parse_duration, parse_when, split_when

# Monday 23 Nov 2026 12:00 in Helsinki (UTC+2)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=HELSINKI)
# Friday before the spring switch (Sun 29 Mar 2026, 03:00 -> 04:00)
SPRING = datetime(2026, 3, 27, 12, 0, tzinfo=HELSINKI)
# Friday before the autumn switch (Sun 25 Oct 2026, 04:00 -> 03:00)
AUTUMN = datetime(2026, 10, 23, 12, 0, tzinfo=HELSINKI)
# Month and year end, leap year
DEC31 = datetime(2026, 12, 31, 20, 0, tzinfo=HELSINKI)
LEAP = datetime(2028, 2, 27, 9, 0, tzinfo=HELSINKI)

OK = [
    # Finnish
    ("ti 1.12. klo 18", "fi", NOW, "2026-12-01T18:00:00+02:00"),
    ("1.12.2026 18.00", "fi", NOW, "2026-12-01T18:00:00+02:00"),
    ("1.12.26 klo 18", "fi", NOW, "2026-12-01T18:00:00+02:00"),
    ("1.12 klo 18", "fi", NOW, "2026-12-01T18:00:00+02:00"),
    ("huomenna klo 17.30", "fi", NOW, "2026-11-24T17:30:00+02:00"),
    ("Huomenna kello 9", "fi", NOW, "2026-11-24T09:00:00+02:00"),
    ("ensi tiistaina klo 18", "fi", NOW, "2026-11-24T18:00:00+02:00"),
    ("tiistaina 18", "fi", NOW, "2026-11-24T18:00:00+02:00"),
    ("maanantaina klo 18", "fi", NOW, "2026-11-30T18:00:00+02:00"),
    ("ylihuomenna", "fi", NOW, "2026-11-25T12:00:00+02:00"),
    ("ylihuomenna klo 8.15", "fi", NOW, "2026-11-25T08:15:00+02:00"),
    ("ensi viikon keskiviikkona", "fi", NOW, "2026-12-02T12:00:00+02:00"),
    ("ensi viikon keskiviikkona klo 17", "fi", NOW, "2026-12-02T17:00:00+02:00"),
    ("keskiviikkona ensi viikolla klo 17", "fi", NOW, "2026-12-02T17:00:00+02:00"),
    ("2 tunnin päästä", "fi", NOW, "2026-11-23T14:00:00+02:00"),
    ("tunnin päästä", "fi", NOW, "2026-11-23T13:00:00+02:00"),
    ("puolen tunnin päästä", "fi", NOW, "2026-11-23T12:30:00+02:00"),
    ("30 min kuluttua", "fi", NOW, "2026-11-23T12:30:00+02:00"),
    ("3 päivän päästä klo 18", "fi", NOW, "2026-11-26T18:00:00+02:00"),
    ("1. joulukuuta klo 18", "fi", NOW, "2026-12-01T18:00:00+02:00"),
    ("joulukuun 5. päivänä klo 10", "fi", NOW, "2026-12-05T10:00:00+02:00"),
    ("pe 4.12. klo 16.45", "fi", NOW, "2026-12-04T16:45:00+02:00"),
    ("perjantaina klo 6 illalla", "fi", NOW, "2026-11-27T18:00:00+02:00"),
    ("tänään klo 18", "fi", NOW, "2026-11-23T18:00:00+02:00"),
    ("klo 18", "fi", NOW, "2026-11-23T18:00:00+02:00"),
    ("klo 23.59", "fi", NOW, "2026-11-23T23:59:00+02:00"),
    ("la klo 10", "fi", NOW, "2026-11-28T10:00:00+02:00"),
    ("2026-12-24 14:00", "fi", NOW, "2026-12-24T14:00:00+02:00"),
    ("1.3. klo 18", "fi", NOW, "2027-03-01T18:00:00+02:00"),  # next year's
    ("1.6. klo 18", "fi", NOW, "2027-06-01T18:00:00+03:00"),  # summer time
    ("1/12 klo 18", "fi", NOW, "2026-12-01T18:00:00+02:00"),
    # Swedish
    ("i morgon kl 18", "sv", NOW, "2026-11-24T18:00:00+02:00"),
    ("imorgon kl. 18.30", "sv", NOW, "2026-11-24T18:30:00+02:00"),
    ("på tisdag kl. 18", "sv", NOW, "2026-11-24T18:00:00+02:00"),
    ("nästa onsdag kl 19", "sv", NOW, "2026-11-25T19:00:00+02:00"),
    ("i övermorgon kl 10", "sv", NOW, "2026-11-25T10:00:00+02:00"),
    ("om 2 timmar", "sv", NOW, "2026-11-23T14:00:00+02:00"),
    ("om en timme", "sv", NOW, "2026-11-23T13:00:00+02:00"),
    ("den 1 december kl 18", "sv", NOW, "2026-12-01T18:00:00+02:00"),
    ("fredag 4 december kl 17", "sv", NOW, "2026-12-04T17:00:00+02:00"),
    ("lördagen kl 11", "sv", NOW, "2026-11-28T11:00:00+02:00"),
    ("tis 1.12. kl. 18", "sv", NOW, "2026-12-01T18:00:00+02:00"),
    # English
    ("next Tuesday 6pm", "en", NOW, "2026-11-24T18:00:00+02:00"),
    ("in 2 hours", "en", NOW, "2026-11-23T14:00:00+02:00"),
    ("in 90 minutes", "en", NOW, "2026-11-23T13:30:00+02:00"),
    ("an hour from now", "en", NOW, "2026-11-23T13:00:00+02:00"),
    ("tomorrow at 6:30 pm", "en", NOW, "2026-11-24T18:30:00+02:00"),
    ("tomorrow at 18:00", "en", NOW, "2026-11-24T18:00:00+02:00"),
    ("on Friday at 5pm", "en", NOW, "2026-11-27T17:00:00+02:00"),
    ("December 1st 2026 at 6pm", "en", NOW, "2026-12-01T18:00:00+02:00"),
    ("1 Dec 7pm", "en", NOW, "2026-12-01T19:00:00+02:00"),
    ("wednesday next week 10am", "en", NOW, "2026-12-02T10:00:00+02:00"),
    ("tomorrow noon", "en", NOW, "2026-11-24T12:00:00+02:00"),
    ("12am tomorrow", "en", NOW, "2026-11-24T00:00:00+02:00"),
    ("in 3 days", "en", NOW, "2026-11-26T12:00:00+02:00"),
    # DST weeks: wall-clock times keep their local hour
    ("sunnuntaina klo 18", "fi", SPRING, "2026-03-29T18:00:00+03:00"),
    ("huomenna klo 3.30", "fi", SPRING, "2026-03-28T03:30:00+02:00"),
    ("su klo 4", "fi", SPRING, "2026-03-29T04:00:00+03:00"),
    ("ensi maanantaina klo 12", "fi", SPRING, "2026-03-30T12:00:00+03:00"),
    ("in 48 hours", "en", SPRING, "2026-03-29T13:00:00+03:00"),  # an instant, not a wall time
    ("sunnuntaina klo 18", "fi", AUTUMN, "2026-10-25T18:00:00+02:00"),
    ("su klo 2.30", "fi", AUTUMN, "2026-10-25T02:30:00+03:00"),
    ("su klo 4", "fi", AUTUMN, "2026-10-25T04:00:00+02:00"),
    ("lauantaina klo 18", "fi", AUTUMN, "2026-10-24T18:00:00+03:00"),
    # month and year ends, leap day
    ("huomenna klo 10", "fi", DEC31, "2027-01-01T10:00:00+02:00"),
    ("ensi viikon maanantaina klo 9", "fi", DEC31, "2027-01-04T09:00:00+02:00"),
    ("31.1. klo 18", "fi", DEC31, "2027-01-31T18:00:00+02:00"),
    ("29.2. klo 18", "fi", NOW, "2028-02-29T18:00:00+02:00"),
    ("29.2.2028 klo 18", "fi", NOW, "2028-02-29T18:00:00+02:00"),
    ("ylihuomenna klo 18", "fi", LEAP, "2028-02-29T18:00:00+02:00"),
    ("ti klo 18", "fi", LEAP, "2028-02-29T18:00:00+02:00"),
]

ERRORS = [
    ("31.11. klo 18", "fi", NOW, "invalid"),
    ("29.2.2027 klo 18", "fi", NOW, "invalid"),
    ("huomenna klo 25", "fi", NOW, "invalid"),
    ("huomenna klo 18.75", "fi", NOW, "invalid"),
    ("13pm tomorrow", "en", NOW, "invalid"),
    ("1.12.2118 klo 18", "fi", NOW, "invalid"),
    ("su klo 3.30", "fi", SPRING, "invalid"),  # skipped by the spring switch
    ("su klo 3.30", "fi", AUTUMN, "ambiguous"),  # happens twice in autumn
    ("ke 1.12. klo 18", "fi", NOW, "ambiguous"),  # 1.12.2026 is a Tuesday
    ("tomorrow at 6", "en", NOW, "ambiguous"),
    ("3/4 at 18:00", "en", NOW, "ambiguous"),
    ("huomenna 1.12. klo 18", "fi", NOW, "ambiguous"),
    ("klo 9", "fi", NOW, "past"),
    ("20.11. klo 18", "fi", NOW, "past"),
    ("1.11.2026 klo 18", "fi", NOW, "past"),
    ("tänään klo 8", "fi", NOW, "past"),
    ("joskus", "fi", NOW, "unknown"),
    ("", "fi", NOW, "unknown"),
    ("kokous", "sv", NOW, "unknown"),
    ("huomenna klo 18 kokous", "fi", NOW, "unknown"),
]


@pytest.mark.parametrize(("phrase", "lang", "now", "expected"), OK)
def test_phrase(phrase, lang, now, expected):
    result = parse_when(phrase, now, lang)
    assert result.isoformat() == expected
    assert result.tzinfo is not None


@pytest.mark.parametrize(("phrase", "lang", "now", "kind"), ERRORS)
def test_error(phrase, lang, now, kind):
    with pytest.raises(WhenError) as info:
        parse_when(phrase, now, lang)
    assert info.value.kind == kind
    assert info.value.message


def test_table_is_big_enough():
    assert len(OK) + len(ERRORS) >= 60


def test_missing_time_is_asked_when_required():
    with pytest.raises(WhenError) as info:
        parse_when("ylihuomenna", NOW, "fi", default_time=None)
    assert info.value.kind == "missing_time"


@pytest.mark.parametrize(("lang", "snippet"), [
    ("fi", "ei ole keskiviikko"),
    ("sv", "är ingen onsdag"),
    ("en", "is not a Wednesday"),
])
def test_errors_are_localized(lang, snippet):
    with use_locale(Catalogs(), lang), pytest.raises(WhenError) as info:
        parse_when("ke 1.12. klo 18", NOW, lang)
    assert snippet in info.value.message


def test_past_message_names_the_date_in_finnish():
    with use_locale(Catalogs(), "fi"), pytest.raises(WhenError) as info:
        parse_when("klo 9", NOW, "fi")
    assert info.value.message == "Kello 9.00 on tänään jo mennyt. Tarkoitatko huomenna, ti 24.11.2026 klo 9.00?"


@pytest.mark.parametrize(("text", "expected"), [
    ("2 päivää", timedelta(days=2)),
    ("3 h", timedelta(hours=3)),
    ("in 3 hours", timedelta(hours=3)),
    ("2 tunnin päästä", timedelta(hours=2)),
    ("90 min", timedelta(minutes=90)),
    ("1,5 h", timedelta(minutes=90)),
    ("viikko", timedelta(weeks=1)),
    ("om 2 veckor", timedelta(weeks=2)),
    ("3 dagar", timedelta(days=3)),
    ("puoli tuntia", timedelta(minutes=30)),
    ("huomenna", None),
    ("0 h", None),
    ("kolme", None),
])
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


def test_split_when_takes_the_longest_phrase():
    when, rest = split_when("ti 1.12. klo 18 Kehrän  kokous @ Maunula-talo", NOW, "fi")
    assert when.isoformat() == "2026-12-01T18:00:00+02:00"
    assert rest == "Kehrän  kokous @ Maunula-talo"
    when, rest = split_when("next Tuesday 6pm Board meeting", NOW, "en")
    assert (when.day, when.hour, rest) == (24, 18, "Board meeting")
    when, rest = split_when("tiistaina 18 Talkoot", NOW, "fi")
    assert (when.day, rest) == (24, "Talkoot")


def test_split_when_reports_the_error_of_a_longer_phrase():
    with pytest.raises(WhenError) as info:
        split_when("huomenna klo 25 Kokous", NOW, "fi")
    assert info.value.kind == "invalid"
    with pytest.raises(WhenError) as info:
        split_when("huomenna Kokous", NOW, "fi", default_time=None)
    assert info.value.kind == "missing_time"
    with pytest.raises(WhenError) as info:
        split_when("Kokous huomenna", NOW, "fi")
    assert info.value.kind == "unknown"


def test_cli_prints_iso_or_error(capsys):
    assert cli_main(["when", "ensi tiistaina klo 18", "--lang", "fi", "--now", "2026-11-23T12:00"]) == 0
    assert capsys.readouterr().out.strip() == "2026-11-24T18:00:00+02:00"
    assert cli_main(["when", "31.11.", "--lang", "sv", "--now", "2026-11-23T12:00:00+02:00"]) == 1
    assert "Datumet 31.11.2026 finns inte" in capsys.readouterr().err


_PIECES = ["klo", "kl.", "at", "18", "6pm", "1.12.", "31.11.", "29.2.", "ti", "ensi", "next", "huomenna", "i morgon",
           "tiistaina", "viikon", "in", "2", "hours", "tunnin", "päästä", "om", "²", "٣", "25:99", "/", "-", "12/13",
           "december", "joulukuuta", "@", "am", "illalla", "", "0", "24"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(st.sampled_from(_PIECES), max_size=6).map(" ".join)),
       st.sampled_from(["fi", "sv", "en", None]))
def test_any_text_gives_a_future_instant_or_a_when_error(text, lang):
    try:
        result = parse_when(text, NOW, lang)
    except WhenError as err:
        assert err.message and err.kind in {"unknown", "invalid", "ambiguous", "past", "missing_time"}
    else:
        assert result > NOW and result.tzinfo is not None
    assert parse_duration(text) is None or parse_duration(text) > timedelta(0)


# --- issue 18: evening words, noon, past days, examples in the person's language ----------------


@pytest.mark.parametrize(("phrase", "lang", "expected"), [
    ("tänä iltana klo 19", "fi", "2026-11-23T19:00:00+02:00"),
    ("tänä iltana klo 7", "fi", "2026-11-23T19:00:00+02:00"),
    ("huomenna illalla klo 7", "fi", "2026-11-24T19:00:00+02:00"),
    ("ikväll kl 19", "sv", "2026-11-23T19:00:00+02:00"),
    ("i kväll kl. 19.30", "sv", "2026-11-23T19:30:00+02:00"),
    ("i morgon kväll kl 7", "sv", "2026-11-24T19:00:00+02:00"),
    ("tonight 7pm", "en", "2026-11-23T19:00:00+02:00"),
    ("tonight at 7", "en", "2026-11-23T19:00:00+02:00"),
    ("tomorrow evening 7", "en", "2026-11-24T19:00:00+02:00"),
    ("tomorrow at noon", "en", "2026-11-24T12:00:00+02:00"),
    ("huomenna klo 12", "fi", "2026-11-24T12:00:00+02:00"),
    ("tonight", "en", "2026-11-23T18:00:00+02:00"),  # a close time without an hour: the evening
])
def test_evening_words_and_noon(phrase, lang, expected):
    assert parse_when(phrase, NOW, lang).isoformat() == expected


@pytest.mark.parametrize(("phrase", "lang", "expected"), [
    ("eilen", "fi", "su 22.11.2026 on jo mennyt."),
    ("eilen klo 18", "fi", "su 22.11.2026 on jo mennyt."),
    ("yesterday", "en", "Sun 22 Nov 2026 is already past."),
    ("igår", "sv", "sön 22.11.2026 har redan passerat."),
    ("i går kl 18", "sv", "sön 22.11.2026 har redan passerat."),
    ("toissapäivänä", "fi", "la 21.11.2026 on jo mennyt."),
    ("last Friday 6pm", "en", "Fri 20 Nov 2026 is already past."),
    ("viime perjantaina", "fi", "pe 20.11.2026 on jo mennyt."),
    ("i fredags", "sv", "fre 20.11.2026 har redan passerat."),
])
def test_past_days_are_past_not_unknown(phrase, lang, expected):
    for default in (None, time(12, 0)):  # a meeting (needs a time) and a poll's close alike
        with use_locale(Catalogs(), lang), pytest.raises(WhenError) as info:
            parse_when(phrase, NOW, lang, default_time=default)
        assert info.value.kind == "past" and info.value.message == expected


@pytest.mark.parametrize(("lang", "examples"), [
    ("en", ["“Tue 1 Dec at 6pm”", "“tomorrow at 17:30”", "“in 2 hours”"]),
    ("fi", ["”ti 1.12. klo 18”", "”huomenna klo 17.30”", "”2 tunnin päästä”"]),
    ("sv", ["”tis 1.12. kl. 18”", "”i morgon kl. 17.30”", "”om 2 timmar”"]),
])
def test_examples_are_in_the_persons_language_and_work(lang, examples):
    with use_locale(Catalogs(), lang), pytest.raises(WhenError) as info:
        parse_when("joskus", NOW, lang)
    for example in examples:
        assert example in info.value.message
        assert parse_when(example.strip("“”"), NOW, lang) > NOW  # every example is understood
    with use_locale(Catalogs(), lang), pytest.raises(WhenError) as info:
        parse_when("", NOW, lang)
    assert examples[0] in info.value.message


def test_split_when_a_complete_phrase_leaves_day_words_to_the_title():
    when, rest = split_when("tomorrow 6pm Friday club", NOW, "en", default_time=None)
    assert (when.isoformat(), rest) == ("2026-11-24T18:00:00+02:00", "Friday club")
    when, rest = split_when("huomenna klo 18 torstaina tavataan", NOW, "fi", default_time=None)
    assert (when.day, rest) == (24, "torstaina tavataan")
    with pytest.raises(WhenError) as info:  # a time alone followed by an impossible date is still an error
        split_when("klo 18 31.11. Kokous", NOW, "fi", default_time=None)
    assert info.value.kind == "invalid"


def test_split_when_time_only_takes_no_day():
    when, rest = split_when("6pm Tuesday group", NOW, "en", default_time=None, time_only=True)
    assert ((when.hour, when.day), rest) == ((18, 23), "Tuesday group")
    when, rest = split_when("klo 18 tiistaina tavataan", NOW, "fi", default_time=None, time_only=True)
    assert ((when.hour, when.day), rest) == ((18, 23), "tiistaina tavataan")
