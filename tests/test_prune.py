"""Handled events, what they made and delivery outcomes are forgotten after two days, on every
platform; what is unfinished or of unknown fate stays."""

from __future__ import annotations

from bot.testing import TestBot
from core.clock import ManualClock, SystemClock
from storage import outbox as delivery_log
from storage.core import EventEffect, ProcessedEvent, begin_events, finish_events


async def test_old_handled_events_and_outcomes_are_forgotten_on_every_platform(tmp_path):
    bot = await TestBot(tmp_path, clock=ManualClock(SystemClock().now())).open()
    db, old = bot.services.db, bot.clock.now()
    for platform in ("telegram", "matrix"):
        await db.write(begin_events, (platform, ("done", "unfinished"), old))
        await db.write(finish_events, (platform, "done", old))
    async with db.transaction() as session:
        session.add(EventEffect(event_key="matrix:done", kind="polls.create", ref="1", at=old))
    for key, state in (("sent", delivery_log.SENT), ("sending", delivery_log.SENDING)):
        await db.write(delivery_log.end_sends, (f"matrix:{key}", "matrix:!room", state, None, old, None))
    bot.clock.advance(days=3)
    await bot.app.prune()
    async with db.session() as session:
        events = {(r.platform, r.event_id) for r in (await session.execute(ProcessedEvent.__table__.select()))}
        effects = (await session.execute(EventEffect.__table__.select())).all()
        sends = {r.key for r in (await session.execute(delivery_log.Delivery.__table__.select()))}
    assert events == {("telegram", "unfinished"), ("matrix", "unfinished")}  # handled again at the next start
    assert effects == []
    assert sends == {"matrix:sending"}  # its fate unknown: kept for a month
    bot.clock.advance(days=30)
    await bot.app.prune()
    async with db.session() as session:
        assert (await session.execute(delivery_log.Delivery.__table__.select())).all() == []
    await bot.close()
