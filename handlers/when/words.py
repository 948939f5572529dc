"""The words of the date parser, per language: weekdays with their case endings, months,
numbers, units of time, day words ("huomenna", "i morgon") and parts of the day. Tables only;
``grammar`` builds its regular expressions from them."""

from __future__ import annotations

_FI_WEEKDAYS = ("maanantai", "tiistai", "keskiviikko", "torstai", "perjantai", "lauantai", "sunnuntai")
_FI_ABBR = ("ma", "ti", "ke", "to", "pe", "la", "su")
_SV_WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
_SV_ABBR = (("mån", "må"), ("tis",), ("ons",), ("tors", "tor"), ("fre",), ("lör",), ("sön",))
_EN_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_EN_ABBR = (("mon",), ("tue", "tues"), ("wed",), ("thu", "thur", "thurs"), ("fri",), ("sat",), ("sun",))
_FI_CASES = ("", "na", "n", "sta", "hin", "ksi", "lle", "ista", "isin", "sin", "ta", "it", "ina")

WEEKDAY_WORDS: dict[str, int] = {}
for _i, _w in enumerate(_FI_WEEKDAYS):
    for _c in _FI_CASES:
        WEEKDAY_WORDS[_w + _c] = _i
    WEEKDAY_WORDS[_FI_ABBR[_i]] = _i
for _i, _w in enumerate(_SV_WEEKDAYS):
    for _c in ("", "en", "ar", "arna", "s"):
        WEEKDAY_WORDS[_w + _c] = _i
    for _a in _SV_ABBR[_i]:
        WEEKDAY_WORDS[_a] = _i
for _i, _w in enumerate(_EN_WEEKDAYS):
    WEEKDAY_WORDS[_w] = _i
    WEEKDAY_WORDS[_w + "s"] = _i
    for _a in _EN_ABBR[_i]:
        WEEKDAY_WORDS[_a] = _i

_FI_MONTHS = ("tammi", "helmi", "maalis", "huhti", "touko", "kesä", "heinä", "elo", "syys", "loka", "marras", "joulu")
_SV_MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
              "november", "december")
_EN_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
              "november", "december")
_ABBR_MONTHS = ("jan", "feb", "mar", "apr", "", "jun", "jul", "aug", "sep", "", "nov", "")

MONTH_WORDS: dict[str, int] = {}
for _i, _w in enumerate(_FI_MONTHS, 1):
    for _c in ("kuu", "kuuta", "kuun", "kuussa", "kuulla", "k", "k."):
        MONTH_WORDS[_w + _c] = _i
for _months in (_SV_MONTHS, _EN_MONTHS):
    for _i, _w in enumerate(_months, 1):
        MONTH_WORDS[_w] = _i
for _i, _w in enumerate(_ABBR_MONTHS, 1):
    if _w:
        MONTH_WORDS[_w] = _i
MONTH_WORDS.update({"sept": 9, "okt": 10, "oct": 10, "dec": 12})

NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10,
    "yksi": 1, "yhden": 1, "kaksi": 2, "kahden": 2, "kolme": 3, "kolmen": 3, "neljä": 4, "neljän": 4,
    "viisi": 5, "viiden": 5, "kuusi": 6, "kuuden": 6, "kymmenen": 10,
    "en": 1, "ett": 1, "två": 2, "tre": 3, "fyra": 4, "fem": 5, "sex": 6, "tio": 10,
    "puoli": 0.5, "puolen": 0.5, "half": 0.5, "halv": 0.5, "halvtimme": 0.5,
}
UNITS: dict[str, str] = {}
for _unit, _words in {
    "minutes": ("m", "min", "mins", "minute", "minutes", "minuutti", "minuuttia", "minuutin", "minuutiksi",
                "minuuttiin", "minuutissa", "minuter", "minut", "minuten", "minuters"),
    "hours": ("h", "t", "hr", "hrs", "hour", "hours", "tunti", "tuntia", "tunnin", "tunniksi", "tuntiin",
              "tunnissa", "timme", "timmar", "timmen", "tim", "timmars"),
    "days": ("d", "day", "days", "päivä", "päivää", "päivän", "päiväksi", "päivässä", "vrk", "vuorokauden",
             "vuorokautta", "dag", "dagar", "dagen", "dygn", "dagars"),
    "weeks": ("vk", "w", "wk", "week", "weeks", "viikko", "viikkoa", "viikon", "viikoksi", "viikossa", "vecka",
              "veckor", "veckan", "v", "veckors"),
}.items():
    for _w in _words:
        UNITS[_w] = _unit

DAY_WORDS = {
    "tänään": 0, "today": 0, "idag": 0, "i dag": 0,
    "huomenna": 1, "huomisna": 1, "tomorrow": 1, "imorgon": 1, "i morgon": 1, "imorrn": 1, "i morrn": 1,
    "ylihuomenna": 2, "day after tomorrow": 2, "the day after tomorrow": 2, "i övermorgon": 2, "iövermorgon": 2,
    # past days: understood, so that the answer is "that is past" rather than "I did not understand"
    "eilen": -1, "yesterday": -1, "igår": -1, "i går": -1,
    "toissapäivänä": -2, "toissa päivänä": -2, "the day before yesterday": -2, "day before yesterday": -2,
    "i förrgår": -2, "iförrgår": -2,
}
#: a day and a part of it in one phrase ("tänä iltana", "ikväll", "tonight"): today, in the evening
DAY_PARTS = {
    "tänä iltana": (0, "evening"), "tänään illalla": (0, "evening"), "tänä iltapäivänä": (0, "evening"),
    "tänä aamuna": (0, "morning"), "huomisiltana": (1, "evening"), "huomisaamuna": (1, "morning"),
    "ikväll": (0, "evening"), "i kväll": (0, "evening"), "i eftermiddag": (0, "evening"),
    "i morgon kväll": (1, "evening"), "imorgon kväll": (1, "evening"),
    "i morgon bitti": (1, "morning"), "imorgon bitti": (1, "morning"),
    "tonight": (0, "evening"), "this evening": (0, "evening"), "this afternoon": (0, "evening"),
    "this morning": (0, "morning"), "tomorrow evening": (1, "evening"), "tomorrow night": (1, "evening"),
    "tomorrow afternoon": (1, "evening"), "tomorrow morning": (1, "morning"),
}

#: parts of the day that make a bare hour p.m. ("klo 7 illalla" is 19.00)
EVENING_WORDS = {"illalla", "iltapäivällä", "på kvällen", "på eftermiddagen", "in the evening", "in the afternoon",
                 "tonight", "evening", "night", "kväll", "kvällen"}
