"""The transaction rule: a handler's unit of work is one store transaction, closed before any
platform call. A strict App (every TestBot) refuses a platform call made inside an open session
and TestBot.close() fails on it."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

import bot.app
from bot.testing import TestBot
from core.transport import TransactionRuleError
from handlers import load_features
from handlers.base import Command, Feature
from storage.core import begin_events

raised: list[BaseException] = []


async def _inside(ctx, args: str) -> None:
    """Replies (or asks the platform for the sender's role) with the session still open."""
    async with ctx.db.transaction() as session:
        await session.execute(text("SELECT 1"))
        await session.commit()  # committed, but the session is still open
        try:
            if args == "role":
                await ctx.role()
            else:
                await ctx.reply("inside")
        except TransactionRuleError as err:
            raised.append(err)
            raise


async def _after(ctx, args: str) -> None:
    """The same unit of work, the platform asked and the reply sent only after the session."""
    if args == "role":
        await ctx.role()
    async with ctx.db.transaction() as session:
        await session.execute(text("SELECT 1"))
        await session.commit()
    await ctx.reply("after")


async def _nested(ctx, args: str) -> None:
    """A hot write or a second session started while the unit of work may hold the write lock."""
    async with ctx.db.transaction():
        try:
            if args == "write":
                await ctx.db.write(begin_events, ("fake", ("nested",), ctx.now()))
            else:
                async with ctx.db.session():
                    pass
        except RuntimeError as err:
            raised.append(err)
            raise


async def _store_down(ctx, args: str) -> None:
    raise OperationalError("SELECT 1", {}, ConnectionRefusedError("the server is restarting"))


RULE = Feature(name="rule", commands=[
    Command("inside", _inside, {"en": ("inside",)}, help="test"),
    Command("after", _after, {"en": ("after",)}, help="test"),
    Command("nested", _nested, {"en": ("nested",)}, help="test"),
    Command("storedown", _store_down, {"en": ("storedown",)}, help="test"),
])


@pytest.fixture
async def make(tmp_path, monkeypatch):
    monkeypatch.setattr(bot.app, "load_features", lambda: [*load_features(), RULE])
    raised.clear()

    async def make_bot() -> TestBot:
        tb = await TestBot(tmp_path).open()
        tb.make_admin("u1")
        return tb

    return make_bot


async def test_reply_inside_a_session_is_refused(make):
    tb = await make()
    assert tb.app.violations == []  # strict by default
    said = await tb.say("/inside reply", lang="en")
    assert said == ["Sorry, something went wrong on my side. Please try again later."]  # "inside" never went out
    assert len(raised) == 1 and "fake.send awaited inside an open transaction" in str(raised[0])
    assert len(tb.app.violations) == 1 and tb.app.violations[0].startswith("fake.send")
    with pytest.raises(AssertionError, match="platform calls inside an open transaction"):
        await tb.close()


async def test_role_lookup_inside_a_session_is_recorded(make):
    # the lookup is refused (not taken for a platform failure): the handler fails with an apology
    tb = await make()
    assert await tb.say("/inside role", lang="en") == ["Sorry, something went wrong on my side. Please try again later."]
    assert len(tb.app.violations) == 1 and tb.app.violations[0].startswith("fake.role_of")
    with pytest.raises(AssertionError, match="fake.role_of"):
        await tb.close()


@pytest.mark.parametrize("what", ["reply", "role"])
async def test_platform_call_after_the_session_passes(make, what):
    tb = await make()
    assert await tb.say(f"/after {what}", lang="en") == ["after"]
    assert raised == [] and tb.app.violations == []
    await tb.close()


@pytest.mark.parametrize("what", ["write", "session"])
async def test_a_hot_write_or_a_session_inside_a_transaction_is_refused(make, what):
    """On SQLite either would wait for the write lock the transaction may hold (busy_timeout)."""
    tb = await make()
    await tb.say(f"/nested {what}")
    assert len(raised) == 1 and "inside an open transaction" in str(raised[0])
    await tb.close()


async def test_an_unreachable_store_leaves_the_event_to_be_handled_again(make):
    """Nothing was committed: no apology, and the router reports the handling incomplete."""
    from core.events import Incoming

    tb = await make()
    event = Incoming(platform="fake", chat_id="group", sender_id="u1", sender_name="U1", text="/storedown",
                     message_id="m-down")
    assert await tb.app.router.dispatch(tb.transport, event) is False
    assert tb.transport.sent == []
    await tb.close()
