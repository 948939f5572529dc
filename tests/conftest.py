import asyncio
import gc
import io
import os
import threading
import uuid

import pytest

from bot.testing import TestBot

PG_URL = os.environ.get("KEHRABOT_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


# A test that runs past pytest-timeout's limit (pyproject.toml) ends the run with every thread's
# stack; a hung event loop shows only its select() there, so the stack of each asyncio task of
# the loops still running is printed first (a task that ignores its cancellation, say).
@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item, settings):
    if settings.method != "thread":
        return None
    import pytest_timeout

    def expired() -> None:
        terminal = item.config.get_terminal_writer()
        out = io.StringIO()
        try:
            for loop in [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop)]:
                if loop.is_running():
                    for task in list(asyncio.all_tasks(loop)):
                        out.write(f"--- asyncio task {task!r}\n")
                        task.print_stack(file=out)
        except Exception as exc:  # a diagnosis only: the run still ends below
            out.write(f"could not list the asyncio tasks: {exc!r}\n")
        terminal.sep("+", title="asyncio tasks")
        terminal.write(out.getvalue())
        pytest_timeout.timeout_timer(item, settings)  # every thread's stack, then os._exit(1)

    timer = threading.Timer(settings.timeout, expired)
    timer.name = f"pytest-timeout {item.nodeid}"
    timer.daemon = True

    def cancel() -> None:
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel  # what pytest-timeout's own cancel hook calls
    timer.start()
    return True


@pytest.fixture
async def bot(tmp_path):
    tb = await TestBot(tmp_path).open()
    yield tb
    await tb.close()


@pytest.fixture
async def make_bot(tmp_path):
    """Build more bots on the same data dir (a restart) or a fresh one; closed after the test."""
    bots = []

    async def make(**kw):
        tb = await TestBot(kw.pop("data_dir", tmp_path), **kw).open()
        bots.append(tb)
        return tb

    yield make
    for tb in bots:  # a store left open finishes its driver threads after the loop has closed
        await tb.app.db.close()
    violations = [v for tb in bots for v in tb.app.violations or []]
    assert not violations, "platform calls inside an open transaction:\n" + "\n".join(violations)


async def _admin(sql: str) -> None:
    import asyncpg

    base = PG_URL.replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def pg_url():
    """A fresh, empty PostgreSQL database on the local server for one test (dropped after)."""
    name = "kehrabot_t_" + uuid.uuid4().hex[:12]
    await _admin(f'CREATE DATABASE "{name}"')
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url_factory():
    """Make more fresh PostgreSQL databases in one test."""
    names = []

    async def make() -> str:
        name = "kehrabot_t_" + uuid.uuid4().hex[:12]
        await _admin(f'CREATE DATABASE "{name}"')
        names.append(name)
        return PG_URL.rsplit("/", 1)[0] + "/" + name

    yield make
    import asyncio

    async def drop() -> None:
        for name in names:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    asyncio.run(drop())
