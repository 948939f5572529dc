"""Webhook mode with two `kehrabot run` processes on one PostgreSQL database behind a load
balancer: Telegram's calls are spread over both, every update is answered once, and a call
with a wrong secret token is refused."""

from __future__ import annotations

import asyncio
import signal
import socket

import aiohttp
import pytest

from tests.botproc import start_process, telegram_env
from tests.telegram.balancer import Balancer

pytestmark = pytest.mark.integration

GROUPS, PER_GROUP = 10, 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_webhook_calls_spread_over_two_processes_are_answered_once(tmp_path, emu, pg_url):
    ports = [_free_port(), _free_port()]
    balancer = await Balancer([f"http://127.0.0.1:{p}/telegram" for p in ports], connections=40).start()
    env = {**telegram_env(emu), "KEHRABOT_DATABASE_URL": pg_url, "KEHRABOT_TELEGRAM__WEBHOOK_URL": balancer.url}
    procs = [await start_process(tmp_path / name, env, KEHRABOT_INSTANCE=name,
                                 KEHRABOT_TELEGRAM__WEBHOOK_PORT=str(port))
             for name, port in zip("ab", ports, strict=True)]
    try:
        await emu.wait_call("setWebhook", 2, within=60)  # both listen before they set the hook
        groups = [emu.group(f"Kehrä {n}") for n in range(GROUPS)]
        people = [emu.user(f"Asukas {n}") for n in range(PER_GROUP)]
        for g, group in enumerate(groups):
            for p, person in enumerate(people):
                emu.post(group, person, f"/idea Ajatus {g}-{p} kirjastosta")
        texts = {f"Ajatus {g}-{p} kirjastosta" for g in range(GROUPS) for p in range(PER_GROUP)}
        await emu.wait_call("sendMessage", len(texts), within=120,
                            where=lambda c: "Ajatus" in str(c.params.get("text")))
        await emu.wait_idle(quiet=1.0, within=60)

        async with aiohttp.ClientSession() as session:  # someone else calling the bot's hook
            async with session.post(balancer.url, json={"update_id": 1}, headers={
                    "X-Telegram-Bot-Api-Secret-Token": "guess"}) as resp:
                assert resp.status == 403
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(proc.wait(), 30) for proc in procs]
        await balancer.stop()
    assert codes == [0, 0]
    answers = [t for t in emu.sent_texts() if "Ajatus" in t]
    for text in texts:
        assert sum(text in a for a in answers) == 1, text  # each answered, once
    assert len(answers) == len(texts)
    assert min(balancer.served) >= len(texts) // 4  # both processes took calls
    assert all(status == 200 for _id, status in emu.webhook_deliveries)
    print(f"calls served: {balancer.served}")
