"""`kehrabot run` as a real process talking to the Bot API emulator (for the fault tests)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


async def start_process(emu, data_dir: Path, **extra: str) -> asyncio.subprocess.Process:
    """Start the bot on ``data_dir``'s store; its log goes to ``data_dir/bot.log``. ``extra`` are
    more KEHRABOT_* environment variables."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KEHRABOT_DATA_DIR": str(data_dir),
        "KEHRABOT_TRANSPORTS": '["telegram"]',
        "KEHRABOT_LOG_LEVEL": "INFO",
        "KEHRABOT_TELEGRAM__TOKEN": emu.token,
        "KEHRABOT_TELEGRAM__BASE_URL": emu.base_url,
        "KEHRABOT_TELEGRAM__BASE_FILE_URL": emu.base_file_url,
        "KEHRABOT_TELEGRAM__POLL_TIMEOUT": "1",
        "KEHRABOT_TELEGRAM__RETRY_BACKOFF": "0.05",
        "KEHRABOT_TELEGRAM__RETRY_BACKOFF_MAX": "0.5",
        **extra,
    }
    env.pop("KEHRABOT_CONFIG", None)
    log = _append(data_dir / "bot.log")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=data_dir, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=log)
    finally:
        log.close()  # the child keeps its own descriptor


def _append(path: Path):
    return path.open("ab")
