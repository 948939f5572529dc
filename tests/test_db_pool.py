"""PostgreSQL connections: a burst busier than the pool reuses the pool's connections (none
opened per use and closed again), and one process never holds more than POOL_CONNECTIONS."""

import asyncio

import pytest
from sqlalchemy import event, text

from storage.db import POOL_CONNECTIONS, Database

pytestmark = pytest.mark.integration


def _select(conn, items):
    return [conn.execute(text("SELECT 1")).scalar() for _ in items]


async def test_bursts_reuse_the_pools_connections(pg_url):
    db = Database(pg_url)
    opened, held, peak = 0, 0, 0

    def on_connect(*_args):
        nonlocal opened
        opened += 1

    def on_checkout(*_args):
        nonlocal held, peak
        held += 1
        peak = max(peak, held)

    def on_checkin(*_args):
        nonlocal held
        held -= 1

    for engine in (db.engine, db._lazy_engine):
        pool = engine.sync_engine.pool
        event.listen(pool, "connect", on_connect)
        event.listen(pool, "checkout", on_checkout)
        event.listen(pool, "checkin", on_checkin)

    async def read() -> int:
        async with db.session() as session:
            return (await session.execute(text("SELECT 1 FROM pg_sleep(0.005)"))).scalar()

    try:
        for _round in range(4):  # bursts with quiet moments between them, as webhook calls come
            results = await asyncio.gather(*(read() for _ in range(60)),
                                           *(db.write(_select, None, durable=False) for _ in range(30)))
            assert results == [1] * 90
    finally:
        await db.close()
    assert peak <= POOL_CONNECTIONS
    assert opened <= POOL_CONNECTIONS  # each connection opened once, then reused
