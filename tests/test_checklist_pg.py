"""The checklist conversation and profile on PostgreSQL (the same code as on SQLite)."""

from datetime import timedelta

import pytest

from bot.testing import TestBot

pytestmark = pytest.mark.postgres


async def test_conversation_and_profile_on_postgres(tmp_path, pg_url):
    bot = await TestBot(tmp_path, database_url=pg_url).open()
    try:
        bot.make_admin("admin")
        await bot.say("/checklist start closes 2d", user="admin", lang="en")
        await bot.press("checklist:go:1", user="u1", lang="en")
        p = {"user": "u1", "chat": "private-u1", "lang": "en"}
        await bot.press("checklist:a:1:r1:4", **p)
        await bot.press("checklist:t:1:r2:library", **p)
        await bot.press("checklist:d:1:r2", **p)
        sent = await bot.press("checklist:a:1:r3:no", **p)
        assert "Question 4/25" in sent[0].plain
        await bot.say("Kirjaston kokoushuone", private=True, **p)
        sent = await bot.press("checklist:stop:1", **p)
        assert "Paused at question 5/25" in sent[0].plain
        out = await bot.say("/checklist profile", user="u2", lang="en")
        assert "Resources of the area: mean 4.0 (spread 0.0, n=1) · yes 0% (n=1) · 1 respondent" in out[0]
        assert "• Kirjaston kokoushuone" in out[0]
        await bot.run_due(bot.clock.now() + timedelta(days=3))
        assert "Vastaajia: 1 (valmiita 0)" in bot.transport.sent[-1].plain
    finally:
        await bot.close()
