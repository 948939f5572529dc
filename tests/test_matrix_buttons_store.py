"""The Matrix button map, written after the reply (``write_soon``): a later read finds it, a
message's map is replaced, and the same message twice in one batch keeps its last map."""

import pytest

from bot.testing import TestBot
from storage import matrix as store


async def _check(db) -> None:
    await db.write_soon(store.set_buttons_soon, ("!r", "$a", [("1️⃣", "ideas:support:1"), ("2️⃣", "ideas:x:1")]))
    async with db.session() as s:  # not awaited above: the read waits for it
        assert await store.buttons_of(s, "$a") == {"1️⃣": "ideas:support:1", "2️⃣": "ideas:x:1"}
    await db.write_soon(store.set_buttons_soon, ("!r", "$b", [("1️⃣", "polls:vote:1")]))
    await db.write_soon(store.set_buttons_soon, ("!r", "$b", [("1️⃣", "polls:vote:2")]))  # one batch
    await db.write_soon(store.set_buttons_soon, ("!r", "$a", [("1️⃣", "ideas:support:9")]))
    async with db.session() as s:
        assert await store.buttons_of(s, "$b") == {"1️⃣": "polls:vote:2"}
        assert await store.buttons_of(s, "$a") == {"1️⃣": "ideas:support:9"}


async def test_button_map_written_soon_sqlite(bot):
    await _check(bot.app.db)


@pytest.mark.postgres
async def test_button_map_written_soon_postgres(tmp_path, pg_url):
    tb = await TestBot(tmp_path, database_url=pg_url).open()
    try:
        await _check(tb.app.db)
    finally:
        await tb.close()
