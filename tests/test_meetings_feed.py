"""Calendars to subscribe to (issue 20): a chat's secret iCalendar feed served by the App's own HTTP
server, fetched over HTTP and read with ``icalendar`` and ``recurring-ical-events`` after a move, a
skip and a cancellation (stable UIDs, SEQUENCE rising, STATUS:CANCELLED), checked as RFC 5545 by
the suite's checker and by ``ical``'s strict reader; a wrong or rotated secret gets 404; the area's
secret feed; a published area's public feed without descriptions; no feeds without a public URL."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import aiohttp
import pytest
import recurring_ical_events
from icalendar import Calendar
from sqlalchemy import select

from bot.testing import TestBot
from handlers.when import HELSINKI
from storage.audit import AuditEvent
from tests import libical
from tests.test_meetings import rfc5545_problems


def hel(*args) -> datetime:
    return datetime(*args, tzinfo=HELSINKI)


@pytest.fixture
async def served(tmp_path):
    """A TestBot whose App serves HTTP on a free port, published at that address."""
    tb = await TestBot(tmp_path).open()
    await tb.app.http.start()
    tb.services.public_url = f"http://127.0.0.1:{tb.app.http.port}"
    tb.make_admin("admin")
    yield tb
    await tb.app.http.stop()
    await tb.close()


async def fetch(url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.read()


def link(bot, user: str = "u2") -> str:
    """The feed link the bot sent the person privately."""
    sent = next(s for s in reversed(bot.transport.sent) if s.chat_id == f"private-{user}" and s.kind == "message")
    return re.search(r"http://\S+\.ics", sent.plain)[0]


def events(data: bytes, start=hel(2026, 11, 23), end=hel(2027, 1, 31)):
    return sorted(recurring_ical_events.of(Calendar.from_ical(data)).between(start, end),
                  key=lambda e: e.decoded("DTSTART"))


def check(data: bytes) -> None:
    from ical.calendar_stream import IcsCalendarStream

    assert rfc5545_problems(data) == []
    assert libical.problems(data) == []  # libical's parser and its RFC 5545 / 5546 property tables
    IcsCalendarStream.calendar_from_ics(data.decode())  # a strict reader refuses what RFC 5545 does not allow


def test_libical_sees_what_rfc_5545_does_not_allow():
    good = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//kehrabot//tests//EN\r\nBEGIN:VEVENT\r\nUID:1@k\r\n"
            b"DTSTAMP:20261201T000000Z\r\nDTSTART:20261202T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    assert libical.problems(good) == []
    for broken, what in ((good.replace(b"UID:1@k\r\n", b"UID:1@k\r\nUID:2@k\r\n"), "UID"),
                         (good.replace(b"DTSTART:20261202T100000Z", b"DTSTART:someday"), "DTSTART"),
                         (good.replace(b"VERSION:2.0\r\n", b""), "VERSION")):
        found = libical.problems(broken)
        assert len(found) == 1 and what in found[0], found
    published = good.replace(b"VERSION:2.0\r\n", b"VERSION:2.0\r\nMETHOD:PUBLISH\r\n")
    assert libical.problems(published) == [] and "ORGANIZER" in libical.problems(published, itip=True)[0]


async def test_the_feed_follows_moves_skips_and_cancellations(served):
    bot = served
    await bot.say("/kokous joka tiistai klo 18 Viikkopalaveri @ Maunula-talo", user="admin", lang="fi")
    await bot.say("/kokous to 3.12. klo 17 Talkoot", user="admin", lang="fi")
    before = len(bot.transport.sent)
    out = await bot.say("/kalenteri tilaa", user="u2", lang="fi")
    assert out[-1] == "Lähetin kalenterilinkin sinulle yksityisviestinä."
    url = link(bot)
    # the link went to the person alone, not to the group
    assert [s.chat_id for s in bot.transport.sent[before:]] == ["private-u2", "group"]
    assert out[0].startswith("🗓 Kalenteri: group\n" + url + "\nLisää se kalenterisovellukseesi tilauksena")
    assert url.startswith(bot.services.public_url + "/calendar/")
    status, content_type, data = await fetch(url)
    assert status == 200 and content_type.startswith("text/calendar")
    check(data)
    cal = Calendar.from_ical(data)
    assert str(cal["X-WR-CALNAME"]) == "group" and "REFRESH-INTERVAL" in cal
    first = events(data)
    assert [e.decoded("DTSTART") for e in first[:3]] == [hel(2026, 11, 24, 18), hel(2026, 12, 1, 18),
                                                          hel(2026, 12, 3, 17)]
    uids = {str(e["UID"]) for e in first}
    assert len(uids) == 2 and all(int(e.get("SEQUENCE", 0)) == 0 for e in first)
    # a move of one occurrence, a skip of another, the single meeting cancelled
    await bot.say("/siirrakokous 1 1.12. -> 2.12. klo 19", user="admin", lang="fi")
    await bot.say("/ohitakokous 1 8.12.", user="admin", lang="fi")
    await bot.say("/perukokous 2", user="admin", lang="fi")
    status, _ct, data = await fetch(url)
    assert status == 200
    check(data)
    after = events(data, end=hel(2026, 12, 16))
    by_start = {e.decoded("DTSTART"): e for e in after}
    assert hel(2026, 12, 1, 18) not in by_start and hel(2026, 12, 2, 19) in by_start  # moved
    assert hel(2026, 12, 8, 18) not in by_start and hel(2026, 12, 15, 18) in by_start  # skipped
    assert {str(e["UID"]) for e in after} == uids  # the same events, not new ones
    moved = by_start[hel(2026, 12, 2, 19)]
    assert moved.decoded("RECURRENCE-ID") == hel(2026, 12, 1, 18) and int(moved["SEQUENCE"]) >= 1
    cancelled = by_start[hel(2026, 12, 3, 17)]
    assert str(cancelled["STATUS"]) == "CANCELLED" and int(cancelled["SEQUENCE"]) == 1
    series = next(c for c in Calendar.from_ical(data).walk("VEVENT") if "RRULE" in c)
    assert int(series["SEQUENCE"]) == 2 and str(series["STATUS"]) == "CONFIRMED"  # a move and a skip
    # nothing personal: RSVPs and names are not in it
    await bot.say("/osallistun 1 kyllä", user="u3", name="Salainen Sanna", lang="fi")
    assert b"Sanna" not in (await fetch(url))[2]


async def test_a_wrong_or_rotated_secret_gets_404_and_the_rotation_is_logged(served):
    bot = served
    await bot.say("/kokous ti 1.12. klo 18 Kokous", user="admin", lang="fi")
    await bot.say("/kalenteri tilaa", user="u2", lang="fi")
    old = link(bot)
    assert (await fetch(old))[0] == 200
    assert (await fetch(old.replace(".ics", "x.ics")))[0] == 404
    assert (await fetch(bot.services.public_url + "/calendar/.ics"))[0] == 404
    assert await bot.say("/kalenteri uusi", user="u2", lang="fi") == ["Vain ryhmän ylläpitäjät voivat tehdä tämän."]
    out = await bot.say("/kalenteri uusi", user="admin", lang="fi")
    assert out == ["🔑 Kalenterilla on nyt uusi linkki; vanha ei enää toimi. Saat uuden komennolla /kalenteri tilaa."]
    assert (await fetch(old))[0] == 404
    await bot.say("/kalenteri tilaa", user="u2", lang="fi")
    new = link(bot)
    assert new != old and (await fetch(new))[0] == 200
    async with bot.services.db.session() as s:
        (row,) = (await s.execute(select(AuditEvent).where(AuditEvent.action == "calendar.rotate"))).scalars()
    assert row.actor_key == "fake:admin" and row.target == "chat" and new.rsplit("/", 1)[1][:-4] not in (row.after or "")


async def test_the_area_feed_and_the_public_feed_of_a_published_area(served):
    bot = served
    await bot.say("/alue Maunula", user="admin", lang="fi")
    bot.make_admin("admin", "other")
    await bot.say("/alue Maunula", user="admin", chat="other", lang="fi")
    await bot.say("/kokous ti 1.12. klo 18 Ryhmän kokous", user="admin", lang="fi")
    await bot.say("/meeting Wednesday 2.12. 5pm Other group's meeting", user="admin", chat="other", lang="en")
    await bot.say("/calendar subscribe area", user="u2", lang="en")
    status, _ct, data = await fetch(link(bot))
    assert status == 200
    check(data)
    assert [str(e["SUMMARY"]) for e in events(data)] == ["Ryhmän kokous", "Other group's meeting"]
    public = bot.services.public_url + "/calendar/public/Maunula.ics"
    assert (await fetch(public))[0] == 404  # not published
    await bot.say("/julkaise kokoukset", user="admin", lang="fi")
    status, _ct, data = await fetch(public)
    assert status == 200
    check(data)
    assert [str(e["SUMMARY"]) for e in events(data)] == ["Ryhmän kokous", "Other group's meeting"]
    assert b"DESCRIPTION" not in data
    await bot.say("/kalender prenumerera", user="u3", lang="sv")
    sent = next(s for s in reversed(bot.transport.sent) if s.chat_id == "private-u3")
    assert "Områdets offentliga kalender: " + public in sent.plain


async def test_without_a_public_url_there_are_no_feeds(bot):
    assert await bot.say("/calendar subscribe", user="u2", lang="en") == [
        "Calendar feeds are not enabled: the bot's operator has not given its web address."]
    bot.services.public_url = "https://kehra.example.org"
    assert await bot.say("/kalenteri tilaa", user="u2", private=True, chat="private-u2", lang="fi") == [
        "Lähetä /kalenteri tilaa siinä ryhmässä, jonka kalenterin haluat: lähetän linkin sinulle tänne "
        "yksityisesti."]


def test_the_feed_route_is_declared_neutrally():
    from handlers.meetings import FEATURE

    assert {(r.method, r.path) for r in FEATURE.http_routes} == {
        ("GET", "/calendar/{secret}.ics"), ("GET", "/calendar/public/{area}.ics")}
    assert datetime.now(UTC)  # handlers/ imports no aiohttp: tests/test_layers.py checks the layers


async def test_the_public_url_is_offered_only_with_a_port(tmp_path):
    from bot.app import App
    from bot.config import HttpSettings, Settings

    def app(**http) -> App:
        return App(Settings.model_construct(**{**dict(Settings.model_construct()), "data_dir": tmp_path,
                                               "http": HttpSettings(**http)}))

    assert app(port=9464, public_url="https://kehra.example.org/").services.public_url == "https://kehra.example.org"
    assert app(port=0, public_url="https://kehra.example.org").services.public_url == ""
