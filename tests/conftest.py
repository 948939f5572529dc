import os
import uuid

import pytest

from bot.testing import TestBot

PG_URL = os.environ.get("KEHRABOT_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@pytest.fixture
async def bot(tmp_path):
    tb = await TestBot(tmp_path).open()
    yield tb
    await tb.close()


@pytest.fixture
def make_bot(tmp_path):
    """Build more bots on the same data dir (a restart) or a fresh one."""
    bots = []

    async def make(**kw):
        tb = await TestBot(kw.pop("data_dir", tmp_path), **kw).open()
        bots.append(tb)
        return tb

    yield make


@pytest.fixture
async def pg_url():
    """A fresh PostgreSQL schema on the local server for one test."""
    import asyncpg

    schema = "t_" + uuid.uuid4().hex[:12]
    base = PG_URL.replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(base)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    conn = await asyncpg.connect(base)
    await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await conn.close()
