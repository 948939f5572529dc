"""`kehrabot run` as a real process (for the fault tests): started with KEHRABOT_* settings in
its environment, its log in ``data_dir/bot.log``, killed or stopped by the test."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def telegram_env(emu) -> dict[str, str]:
    """Talk to the Bot API emulator ``emu``, with short back-offs."""
    return {
        "KEHRABOT_TRANSPORTS": '["telegram"]',
        "KEHRABOT_TELEGRAM__TOKEN": emu.token,
        "KEHRABOT_TELEGRAM__BASE_URL": emu.base_url,
        "KEHRABOT_TELEGRAM__BASE_FILE_URL": emu.base_file_url,
        "KEHRABOT_TELEGRAM__POLL_TIMEOUT": "1",
        "KEHRABOT_TELEGRAM__RETRY_BACKOFF": "0.05",
        "KEHRABOT_TELEGRAM__RETRY_BACKOFF_MAX": "0.5",
    }


def matrix_env(synapse, user_id: str, password: str) -> dict[str, str]:
    """Log in to the test Synapse as ``user_id``; anyone on it may invite the bot."""
    return {
        "KEHRABOT_TRANSPORTS": '["matrix"]',
        "KEHRABOT_MATRIX__HOMESERVER": synapse.url,
        "KEHRABOT_MATRIX__USER_ID": user_id,
        "KEHRABOT_MATRIX__PASSWORD": password,
        "KEHRABOT_MATRIX__ALLOWED_INVITERS": json.dumps([":localhost"]),
        "KEHRABOT_MATRIX__MAX_BACKOFF_SECONDS": "1",
        "KEHRABOT_MATRIX__SYNC_TIMEOUT_SECONDS": "5",
    }


async def start_process(data_dir: Path, settings: dict[str, str], **extra: str) -> asyncio.subprocess.Process:
    """Start the bot on ``data_dir``'s store with ``settings`` (and ``extra``) as KEHRABOT_* variables."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KEHRABOT_DATA_DIR": str(data_dir), "KEHRABOT_LOG_LEVEL": "INFO",
           **settings, **extra}
    env.pop("KEHRABOT_CONFIG", None)
    log = _append(data_dir / "bot.log")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=data_dir, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=log)
    finally:
        log.close()  # the child keeps its own descriptor


def _append(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("ab")


def pg_plain(url: str) -> str:
    """A SQLAlchemy asyncpg URL as asyncpg itself takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def lock_holder(url: str) -> str | None:
    """The instance holding a consumer lock (bot/leader.py: its lock connection is named after it)."""
    import asyncpg

    conn = await asyncpg.connect(pg_plain(url))
    try:
        name = await conn.fetchval(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'kehrabot leader %'")
    finally:
        await conn.close()
    return name.removeprefix("kehrabot leader ") if name else None


async def wait_lock_holder(url: str, not_this: str | None = None, within: float = 30.0) -> tuple[str, float]:
    """The instance that holds the lock (another than ``not_this``) and when it was seen."""
    import time

    until = time.monotonic() + within
    while time.monotonic() < until:
        name = await lock_holder(url)
        if name is not None and name != not_this:
            return name, time.monotonic()
        await asyncio.sleep(0.1)  # polling the server's lock table: there is no event to await
    raise AssertionError("no process took the lock")


def prepare_as_run_does(root: Path | None = None) -> None:
    """What ``./run`` does before it starts the bot: the catalogs and the bot's bytecode compiled
    (a bench measures the bot as it runs, not a first start compiling ~200 modules)."""
    import subprocess

    root = root or ROOT
    subprocess.run([sys.executable, "-m", "bot.i18n_tool", "compile"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "compileall", "-q", "bot", "core", "handlers", "storage"], cwd=root,
                   check=True, stdout=subprocess.DEVNULL)
