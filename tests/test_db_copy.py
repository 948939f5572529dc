"""``kehrabot db copy``: a SQLite store with real data in every feature moves to PostgreSQL
without loss (counts and checksums per table), a non-empty target is refused and left alone, a
failed copy leaves the target empty, and a bot on the copy goes on where the old one stopped."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from bot.testing import TestBot
from core.clock import ManualClock
from core.events import Kind
from storage import copy
from storage.core import begin_events, finish_events
from storage.db import Database

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent
# Week 48 of 2026 (the TestBot clock starts on its Monday); its digest is due Mon 30.11. 07:00 UTC.
W48_DUE = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
#: tables the populated store must have rows in (every feature's records, and the bot's own)
FILLED = {
    "chat", "person", "processedevent", "delivery", "job", "event_effect",
    "idea", "ideatag", "ideasupport", "ideaevent", "audit_event",
    "poll", "pollvote", "pollvoteevent",
    "meeting", "meetingrsvp", "meetingexception",
    "checklistround", "checklistresponse", "checklistanswer",
    "experiment", "experimentmember", "experimentstep", "indicator", "indicatorvalue",
    "digest", "activitycount", "activityperson",
}


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'kehrabot.sqlite3').as_posix()}"


async def keyed(bot: TestBot, n: int, *, user: str, lang: str = "fi", text: str | None = None,
                button: str | None = None) -> None:
    """An event as a platform delivers it, with its own key: begun and finished as a transport
    does (the processed events), its effects kept by that key."""
    now = bot.clock.now()
    await bot.services.db.write(begin_events, ("fake", (str(n),), now))
    kind = {"kind": Kind.BUTTON, "button_data": button} if button else {"text": text, "message_id": f"k{n}"}
    await bot.event(chat_id="group", sender_id=user, sender_name=user.capitalize(), language_hint=lang,
                    chat_title="group", event_key=str(n), **kind)
    await bot.services.db.write(finish_events, ("fake", str(n), now))


async def populate(bot: TestBot) -> None:
    """Drive every feature through its commands, as people in a chat would."""
    bot.make_admin("admin")
    await bot.say("/kieli sv", user="u2", lang="sv")  # a person's own language
    # ideas: tags, support, a status change with a reason (history and audit log)
    await bot.say("/idea Kesäterassi kirjaston eteen, lähiruokaa tarjolle #tila", user="u1", name="Aino")
    await bot.say("Ett #förslag om trygghet i parken", user="u2", name="Bertil", lang="sv")
    await bot.say("/idea Aurinkopaneelit taloyhtiöiden katoille", user="u3", name="Çarla Ñ")
    for user in ("u2", "u3", "u4"):
        await bot.say("/tue 1", user=user)
    await bot.say("/tue 2", user="u1")
    await bot.say("/tila 3 käsitelty Hyvä, mutta kallis", user="admin")
    # a poll with votes, closed by its job on the way; another that stays open
    await keyed(bot, 1, user="u1", text="/kysely Mikä ilta sopii? | tiistai | keskiviikko | sulkeutuu 2 päivän päästä")
    await keyed(bot, 2, user="u2", button="polls:vote:1:0")
    await keyed(bot, 3, user="u3", button="polls:vote:1:1")
    await bot.say("/poll Open question? | yes | no | closes in 30 days", user="u2", lang="en")
    # a weekly meeting with RSVPs and a skipped evening; its reminders are jobs
    await keyed(bot, 4, user="admin", lang="en", text="/meeting every Tuesday 6pm Board meeting")
    await bot.say("/rsvp 1 yes", user="u2", lang="en")
    await bot.say("/rsvp 1 no", user="u3", lang="en")
    await bot.say("/ohitakokous 1 8.12.", user="admin")
    # a checklist round with answers in a private chat
    await bot.say("/checklist start closes 7d", user="admin", lang="en")
    await bot.press("checklist:go:1", user="u1", lang="en")
    p = {"chat": "private-u1", "user": "u1", "lang": "en"}
    await bot.press("checklist:a:1:r1:4", **p)
    await bot.press("checklist:t:1:r2:associations", **p)
    await bot.press("checklist:d:1:r2", **p)
    # an experiment on idea 1 with a team, an indicator and a value
    await bot.say("/experiment 1 start", user="admin", lang="en")
    await bot.say("/join 1", user="u3", lang="en")
    await bot.say("/indicator 1 volunteers | people | 10", user="u3", lang="en")
    await bot.say("/measure 1 volunteers 3,3", user="u3", lang="en")  # not exact in binary
    # the week's digest (the first poll closes on the way; handled events older than two days go)
    await bot.run_due(W48_DUE)
    await keyed(bot, 5, user="u1", button="polls:vote:2:0")


async def row_counts(url: str) -> dict[str, int]:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            return {t.name: (await conn.execute(select(func.count()).select_from(t))).scalar_one()
                    for t in copy.tables()}
    finally:
        await db.close()


async def checksums(url: str) -> dict[str, tuple[int, str]]:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            return {t.name: await copy.table_check(conn, t) for t in copy.tables()}
    finally:
        await db.close()


@pytest.fixture
async def store(tmp_path) -> Path:
    """A SQLite store with data in every feature, its bot closed (as before a move)."""
    data = tmp_path / "old"
    bot = await TestBot(data).open()
    try:
        await populate(bot)
    finally:
        await bot.close()
    return data


def plain_pg(url: str) -> str:
    """The URL as an operator writes it (postgresql://…, the driver chosen by the bot)."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def table_names(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            return await conn.run_sync(lambda sync: sorted(inspect(sync).get_table_names()))
    finally:
        await db.close()


async def test_copy_to_postgresql_keeps_everything_and_the_bot_goes_on(store, pg_url, tmp_path):
    source = sqlite_url(store)
    before = await checksums(source)
    assert {name for name, (rows, _) in before.items() if rows == 0} & FILLED == set()  # real data

    lines: list[str] = []
    checks = await copy.copy_store(source, pg_url, progress=lines.append)
    assert [c.name for c in checks] == [t.name for t in copy.tables()]
    assert all(c.ok for c in checks)
    assert {c.name: c.target_rows for c in checks} == {name: rows for name, (rows, _) in before.items()}
    # the same checksums, computed again on each side after the commit
    assert await checksums(pg_url) == before == await checksums(source)
    for table in copy.tables():  # progress per table
        assert any(f"] {table.name}: " in line for line in lines), table.name
    # on PostgreSQL the values have its own types, not SQLite's text and integers
    db = Database(pg_url)
    async with db.engine.connect() as conn:
        kinds = (await conn.execute(text(
            "SELECT pg_typeof(created_at)::text, pg_typeof(multiple)::text FROM poll LIMIT 1"))).one()
    await db.close()
    assert tuple(kinds) == ("timestamp without time zone", "boolean")

    # a second copy into the now non-empty target is refused and changes nothing
    with pytest.raises(copy.CopyRefused, match="not empty"):
        await copy.copy_store(source, pg_url)
    assert await checksums(pg_url) == before

    # a bot on the PostgreSQL store sees the data and goes on without a key clash
    bot = await TestBot(tmp_path / "new", database_url=pg_url, clock=ManualClock(W48_DUE)).open()
    try:
        bot.make_admin("admin")
        listing = "\n".join(await bot.say("/ideat"))
        for snippet in ("#1 Kesäterassi kirjaston eteen", "#2 Ett förslag om trygghet", "#3 Aurinkopaneelit"):
            assert snippet in listing
        assert (await bot.say("/idea Yhteinen kasvimaa", user="u5"))[0].startswith("💡 Idea #4 tallennettu")
        await bot.say("/tila 4 käsitelty", user="admin")  # new history and audit rows
        assert "#3" in (await bot.say("/poll Third? | a | b", user="u5", lang="en"))[0]
        assert "👍 3" in "\n".join(await bot.say("/idea 1"))
    finally:
        await bot.close()
    after = await row_counts(pg_url)
    for name in ("idea", "ideaevent", "audit_event", "poll"):
        assert after[name] > before[name][0], name


async def test_a_failed_copy_leaves_the_target_empty(store, pg_url, monkeypatch):
    def broken(_conn):
        raise RuntimeError("disk full")

    monkeypatch.setattr(copy, "_reset_sequences", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        await copy.copy_store(sqlite_url(store), pg_url)
    assert await table_names(pg_url) == []  # not even the migration stayed
    monkeypatch.undo()
    assert all(c.ok for c in await copy.copy_store(sqlite_url(store), pg_url))  # and it can be done again


async def test_a_source_written_to_during_the_copy_fails_verification(store, pg_url):
    def meanwhile(line: str) -> None:  # a bot still running on the source
        if line.startswith("verifying"):
            with sqlite3.connect(store / "kehrabot.sqlite3") as conn:
                conn.execute("UPDATE idea SET support_count = support_count + 1 WHERE id = 1")

    with pytest.raises(copy.CopyMismatch) as failed:
        await copy.copy_store(sqlite_url(store), pg_url, progress=meanwhile)
    assert [c.name for c in failed.value.tables if not c.ok] == ["idea"]
    assert await table_names(pg_url) == []


async def test_refusals(store, tmp_path, pg_url):
    with pytest.raises(copy.CopyRefused, match="no SQLite store"):
        await copy.copy_store(sqlite_url(tmp_path / "nowhere"), pg_url)
    assert not (tmp_path / "nowhere").exists()  # and none was made
    with pytest.raises(copy.CopyRefused, match="same store"):
        await copy.copy_store(sqlite_url(store), sqlite_url(store))
    assert await table_names(pg_url) == []


async def test_copy_between_sqlite_files(store, tmp_path):
    """Any store to any empty one: also SQLite to SQLite (its full-text index follows the ideas)."""
    target = sqlite_url(tmp_path / "copy")
    assert all(c.ok for c in await copy.copy_store(sqlite_url(store), target))
    bot = await TestBot(tmp_path / "copy", clock=ManualClock(W48_DUE)).open()
    try:
        assert "Aurinkopaneelit" in "\n".join(await bot.say("/ideat aurinkopaneelit"))
        assert (await bot.say("/idea Uusi"))[0].startswith("💡 Idea #4 tallennettu")
    finally:
        await bot.close()


def run_cli(*args: str, data_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEHRABOT_")}
    env["KEHRABOT_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_cli_copies_verifies_and_refuses(store, pg_url, tmp_path):
    env = {"data_dir": store, "cwd": tmp_path}
    done = run_cli("db", "copy", "--to", plain_pg(pg_url), **env)
    assert done.returncode == 0, done.stderr
    assert "[1/" in done.stderr and "verifying" in done.stderr  # progress
    rows = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()[2:-1]}
    assert set(rows) == {t.name for t in copy.tables()}
    assert rows["idea"] == ["3", "3", "ok"]
    assert done.stdout.splitlines()[-1].startswith("verified: ")

    again = run_cli("db", "copy", "--to", plain_pg(pg_url), **env)
    assert again.returncode == 2 and again.stdout == ""
    assert "refused: the target is not empty" in again.stderr

    missing = run_cli("db", "copy", "--to", plain_pg(pg_url), data_dir=tmp_path / "none", cwd=tmp_path)
    assert missing.returncode == 2 and "no SQLite store" in missing.stderr
    assert not (tmp_path / "none").exists()
