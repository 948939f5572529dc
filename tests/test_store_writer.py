"""The store's batch writer: group commit on SQLite, plain transactions on PostgreSQL."""

import asyncio
import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from bot.testing import TestBot
from storage import ideas as store


def _row(chat: str, text: str | None) -> dict:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    return dict(chat_key=chat, text=text, search="", tags="", author_key="fake:u", author_name="U", status="new",
                support_count=0, created_at=now, updated_at=now, source_message_id=None)


def _numbers(path, chat: str) -> list[int]:
    with sqlite3.connect(path) as conn:  # a separate, plain connection: only committed rows
        return [n for (n,) in conn.execute("SELECT number FROM idea WHERE chat_key = ? ORDER BY number", (chat,))]


async def _capture_from_chats(bot: TestBot, chats: int, per_chat: int) -> None:
    for c in range(chats):  # everyone has said something before (chat and languages known)
        for u in range(3):
            await bot.event(chat_id=f"g{c}", sender_id=f"u{u}", sender_name="U", text="moi", chat_title="g")

    async def chat(c: int) -> None:
        for i in range(per_chat):
            await bot.event(chat_id=f"g{c}", sender_id=f"u{i % 3}", sender_name="U", text=f"/idea idea {i} of chat {c}",
                            message_id=f"m{c}-{i}", chat_title="g")

    await asyncio.gather(*(chat(c) for c in range(chats)))


async def test_concurrent_captures_share_commits_and_get_distinct_numbers(bot, tmp_path):
    await _capture_from_chats(bot, chats=8, per_chat=15)
    writer = bot.services.db._writer
    for c in range(8):
        assert _numbers(tmp_path / "kehrabot.sqlite3", f"fake:g{c}") == list(range(1, 16))
    acks = [s.plain for s in bot.transport.sent]
    assert len(acks) == 120 and all("#" in a for a in acks)
    async with bot.services.db.session() as s:  # waits for the message ids queued with write_soon
        from sqlalchemy import func, select

        unset = (await s.execute(select(func.count()).where(store.Idea.bot_message_id.is_(None)))).scalar_one()
    assert unset == 0
    # 120 ideas and their 120 bot message ids, in far fewer transactions than ideas
    assert writer.items == 240
    assert writer.commits <= 60


async def test_a_reaction_right_after_the_capture_finds_the_idea(bot):
    await bot.say("/idea Penkkejä puistoon")
    bot_message = bot.transport.sent[-1].message_id
    await bot.react(bot_message, user="u2")  # the message id was queued, not awaited: the read waits
    assert "(1)" in bot.transport.sent[-1].reply.buttons[0][0].label


async def test_a_failed_queued_write_is_logged_not_raised(bot, caplog):
    db = bot.services.db

    def broken(conn, items):
        raise ValueError("broken op")

    await db.write_soon(broken, 1)
    async with db.session():
        pass  # the barrier waited for it
    assert any("queued write failed" in r.message and "broken op" in r.message for r in caplog.records)


async def test_a_failing_write_fails_only_its_own_caller(bot, tmp_path):
    db = bot.services.db
    # Queued in the same tick, so they land in one batch; the bad one (no text) breaks NOT NULL.
    results = await asyncio.gather(
        *(db.write(store.insert_ideas, (_row("fake:x", f"good {i}"), ["energy"])) for i in range(5)),
        db.write(store.insert_ideas, (_row("fake:x", None), [])),
        *(db.write(store.insert_ideas, (_row("fake:x", f"good {i}"), [])) for i in range(5, 10)),
        return_exceptions=True,
    )
    assert isinstance(results[5], IntegrityError)
    good = [r for i, r in enumerate(results) if i != 5]
    assert sorted(r.number for r in good) == list(range(1, 11))
    assert _numbers(tmp_path / "kehrabot.sqlite3", "fake:x") == list(range(1, 11))
    with sqlite3.connect(tmp_path / "kehrabot.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM ideatag").fetchone() == (5,)
        assert conn.execute("SELECT count(*) FROM idea WHERE chat_key = 'fake:x'").fetchone() == (10,)


async def test_writes_queued_before_close_are_committed(tmp_path):
    bot = await TestBot(tmp_path).open()
    db = bot.services.db
    await db.write(store.insert_ideas, (_row("fake:y", "first"), []))  # the writer is running
    tasks = [asyncio.create_task(db.write(store.insert_ideas, (_row("fake:y", f"idea {i}"), []))) for i in range(30)]
    await asyncio.sleep(0)  # all queued
    await bot.close()
    assert len({(await t).number for t in tasks}) == 30
    assert _numbers(tmp_path / "kehrabot.sqlite3", "fake:y") == list(range(1, 32))


async def test_a_restart_continues_the_numbers(make_bot, tmp_path):
    first = await make_bot()
    await first.say("/idea yksi")
    await first.say("/idea kaksi")
    await first.close()
    second = await make_bot()
    assert "#3" in (await second.say("/idea kolme"))[0]
    await second.close()


async def test_postgres_concurrent_writers_in_one_chat_get_distinct_numbers(tmp_path, pg_url):
    bot = await TestBot(tmp_path, database_url=pg_url).open()
    try:
        db = bot.services.db
        assert db._use_writer is False  # one transaction per write, numbers taken under a chat lock
        made = await asyncio.gather(*(db.write(store.insert_ideas, (_row("fake:z", f"idea {i}"), ["energy"]))
                                      for i in range(12)))
        assert sorted(m.number for m in made) == list(range(1, 13))
        await _capture_from_chats(bot, chats=3, per_chat=4)
        async with db.session() as s:
            from sqlalchemy import func, select

            rows = (await s.execute(select(store.Idea.chat_key, store.Idea.number))).all()
            tags = (await s.execute(select(func.count()).select_from(store.IdeaTag))).scalar_one()
        assert sorted(n for k, n in rows if k == "fake:z") == list(range(1, 13))
        for c in range(3):
            assert sorted(n for k, n in rows if k == f"fake:g{c}") == [1, 2, 3, 4]
        assert tags == 12
    finally:
        await bot.close()


async def test_a_failing_store_fails_the_batch_at_once_without_retrying_each_item(bot):
    from sqlalchemy.exc import OperationalError

    calls = []

    def locked(conn, items):
        calls.append(len(items))
        raise OperationalError("INSERT …", {}, Exception("database is locked"))

    db = bot.services.db
    await db.write(store.insert_ideas, (_row("fake:w", "starts the writer"), []))
    results = await asyncio.gather(*(db.write(locked, i) for i in range(6)), return_exceptions=True)
    assert all(isinstance(r, OperationalError) for r in results)
    assert calls == [6]  # one try for the whole batch, not one more per item
    assert (await db.write(store.insert_ideas, (_row("fake:w", "still works"), []))).number == 2


async def test_a_store_that_cannot_be_opened_fails_writes_instead_of_hanging(tmp_path):
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from storage.db import SQLiteWriter

    writer = SQLiteWriter(make_url(f"sqlite+aiosqlite:///{tmp_path}"))  # a directory, not a file
    try:
        for _ in range(2):  # the first while the thread finds out, the second after
            with pytest.raises(OperationalError):
                await asyncio.wait_for(writer.run(store.insert_ideas, (_row("fake:v", "x"), [])), 10)
    finally:
        writer.close()
        await asyncio.to_thread(writer.join)


async def test_writes_racing_the_close_are_written_or_refused_never_left_waiting(tmp_path):
    bot = await TestBot(tmp_path).open()
    db = bot.services.db
    await db.write(store.insert_ideas, (_row("fake:r", "first"), []))
    writer = db._writer
    early = [asyncio.create_task(db.write(store.insert_ideas, (_row("fake:r", f"idea {i}"), []))) for i in range(10)]
    await asyncio.sleep(0)  # queued in this turn of the loop, not handed over yet
    closing = asyncio.create_task(bot.close())
    late = asyncio.create_task(writer.run(store.insert_ideas, (_row("fake:r", "too late"), [])))
    results = await asyncio.wait_for(asyncio.gather(*early, late, return_exceptions=True), 20)
    await closing
    assert sorted(r.number for r in results[:10]) == list(range(2, 12))
    assert isinstance(results[10], RuntimeError)
    assert _numbers(tmp_path / "kehrabot.sqlite3", "fake:r") == list(range(1, 12))


async def test_a_queued_write_rides_with_the_next_or_goes_alone_soon(bot, tmp_path):
    db = bot.services.db
    made = await db.write(store.insert_ideas, (_row("fake:s", "first"), []))
    writer = db._writer
    commits = writer.commits
    await db.write_soon(store.set_bot_messages, (made.id, "b1", None))
    await db.write(store.insert_ideas, (_row("fake:s", "second"), []))  # takes the queued one along
    assert writer.commits == commits + 1
    await db.write_soon(store.set_bot_messages, (made.id, "b2", None))  # nothing follows: it goes alone, soon
    await asyncio.sleep(writer.SOON + 0.5)
    with sqlite3.connect(tmp_path / "kehrabot.sqlite3") as conn:
        assert conn.execute("SELECT bot_message_id FROM idea WHERE id = ?", (made.id,)).fetchone() == ("b2",)
    assert writer.commits == commits + 2
