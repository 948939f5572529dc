"""The bot's HTTP server (bot/http.py): /healthz, /readyz and /metrics of a real App on SQLite
and PostgreSQL, the store going away and coming back, and `kehrabot run` as a real process
against the Telegram emulator."""

from __future__ import annotations

import asyncio
import io
import signal
import socket
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bot.config import ConfigError, HttpSettings, load_settings
from bot.http import HttpServer, NotReady
from bot.testing import FakeTransport, TestBot
from core.events import Reply
from core.transport import Ambiguous, Forbidden
from storage.core import schedule_job
from tests.botproc import start_process, telegram_env
from tests.matrix.synapse import free_port
from tests.test_pg_outage import RestartingProxy


@dataclass
class Flaky(FakeTransport):
    """A fake whose next sends raise the errors in ``raise_next``."""

    raise_next: list[Exception] = field(default_factory=list)

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        if self.raise_next:
            raise self.raise_next.pop(0)
        return await super().send(chat_id, reply)


async def get(port: int, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as client, client.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def readyz(port: int) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as client, client.get(f"http://127.0.0.1:{port}/readyz") as response:
        return response.status, await response.json()


def samples(exposition: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


async def scrape(port: int) -> dict:
    status, content_type, body = await get(port, "/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    return samples(body)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request) -> str | None:
    return request.getfixturevalue("pg_url") if request.param == "postgres" else None


@pytest.fixture
async def served(store_url, tmp_path):
    """A TestBot whose App serves HTTP on a free port (port 0 → bound, read back)."""
    tb = await TestBot(tmp_path, database_url=store_url, transport=Flaky()).open()
    await tb.app.http.start()
    yield tb
    await tb.app.http.stop()
    await tb.close()


async def test_health_readiness_and_metrics_count_what_was_done(served):
    bot, port = served, served.app.http.port
    assert port and bot.app.http.running
    assert await get(port, "/healthz") == (200, "text/plain; charset=utf-8", "ok")
    status, report = await readyz(port)
    assert status == 200, report
    assert report["ready"] is True and report["state"] == "running" and report["role"] == "single"
    assert report["store"]["reachable"] is True
    assert report["store"]["backend"] == ("sqlite" if bot.app.db.is_sqlite else "postgresql")
    assert report["transports"] == {"fake": {"ready": True}}
    before = await scrape(port)  # the platform's counters are there from the start, at 0
    assert value(before, "kehrabot_updates_handled_total", platform="fake") == 0
    assert value(before, "kehrabot_errors_total", platform="fake", kind="handler") == 0
    assert value(before, "kehrabot_job_lag_seconds") == 0
    assert value(before, "kehrabot_store_up") == 1

    n = iter(range(1, 100))

    async def say(text: str) -> list[str]:
        k = next(n)
        sent = await bot.event(chat_id="group", sender_id="u1", sender_name="Aino", chat_title="group", text=text,
                               message_id=f"in{k}", event_key=f"m:group:{k}")
        return [s.plain for s in sent]

    assert (await say("/idea Kesäterassi kirjaston eteen"))[0].startswith("💡 Idea #1")
    await say("Yhteinen kasvimaa #idea")
    await say("/ideat")
    await say("/help")
    await say("just chatting")  # handled, no reply
    transport: Flaky = bot.transport
    transport.fail_sends = 1  # refused once: nothing was sent, the event is handled again (one update)
    await say("/ideat")
    transport.raise_next = [Forbidden("blocked")]  # a handler error on the platform: the apology goes out
    assert (await say("/help"))[0].startswith("Pahoittelen")  # "Sorry, something went wrong"
    transport.raise_next = [Ambiguous("timed out")]  # may have arrived: no apology, its fate unknown
    assert await say("/ideat") == []
    async with bot.services.db.transaction() as session:  # a job an hour and a half overdue
        await schedule_job(session, "test.nothing", bot.clock.now())
    bot.clock.advance(minutes=90)

    replies = [s for s in transport.sent if s.kind in ("message", "file", "poll")]
    found = await scrape(port)
    assert value(found, "kehrabot_updates_handled_total", platform="fake") == 8
    assert value(found, "kehrabot_replies_sent_total", platform="fake") == len(replies) > 0
    assert value(found, "kehrabot_errors_total", platform="fake", kind="send") == 3  # refused, forbidden, unknown
    assert value(found, "kehrabot_errors_total", platform="fake", kind="handler") == 1
    assert value(found, "kehrabot_outbox_unsettled", state="unknown") == 1
    assert value(found, "kehrabot_outbox_unsettled", state="sending") == 0
    assert value(found, "kehrabot_job_lag_seconds") == 90 * 60
    # a transport that lost its connection: not ready
    transport.ready.clear()
    status, report = await readyz(port)
    assert status == 503 and report["ready"] is False and report["transports"] == {"fake": {"ready": False}}
    assert report["store"]["reachable"] is True
    transport.ready.set()
    assert (await readyz(port))[0] == 200
    bot.app.request_stop()  # a SIGTERM: not ready any more, alive until the stop is done
    status, report = await readyz(port)
    assert status == 503 and report["state"] == "stopping"
    assert (await get(port, "/healthz"))[0] == 200


async def test_a_port_in_use_stops_the_start_with_one_line(bot):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        bot.app.settings.http = HttpSettings(port=port)
        bot.app.http.port = port
        with pytest.raises(ConfigError) as err:
            await bot.app.run()
    assert str(err.value) == (f"config error: http.port (KEHRABOT_HTTP__PORT): cannot listen on 127.0.0.1:{port}: "
                              "Address already in use")
    assert not bot.app.http.running


async def test_readyz_is_503_while_the_store_is_away_and_200_when_it_is_back(pg_url, tmp_path):
    proxy = await RestartingProxy().start()
    host, name = pg_url.rsplit("/", 1)
    url = host.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}") + "/" + name
    bot = await TestBot(tmp_path, database_url=url).open()
    await bot.app.http.start()
    port = bot.app.http.port
    try:
        assert (await readyz(port))[0] == 200
        proxy.down.set()  # the server is gone: every connection cut, new ones refused
        for link in list(proxy.links):
            link.transport.abort()
        status, report = await readyz(port)
        assert status == 503, report
        assert report["store"]["reachable"] is False and report["store"]["error"]
        assert report["transports"] == {"fake": {"ready": True}} and report["state"] == "running"
        assert value(await scrape(port), "kehrabot_store_up") == 0  # /metrics still answers
        assert (await get(port, "/healthz"))[0] == 200  # the process is alive
        proxy.down.clear()
        status, report = await readyz(port)
        assert status == 200 and report["store"]["reachable"] is True, report
    finally:
        await bot.app.http.stop()
        await bot.close()
        await proxy.stop()


async def test_checks_routes_and_a_role_from_leader_election():
    server = HttpServer()
    calls = []

    async def feed(_request):
        calls.append(1)
        return web.Response(text="BEGIN:VCALENDAR")

    async def leader() -> str:
        return "follower"

    async def broken() -> str:
        raise NotReady({"why": "catching up"})

    server.add_route("GET", "/calendar.ics", feed)
    server.add_check("role", leader)
    await server.start()
    try:
        with pytest.raises(RuntimeError):
            server.add_route("GET", "/late", feed)
        assert (await get(server.port, "/calendar.ics"))[2] == "BEGIN:VCALENDAR" and calls == [1]
        assert await readyz(server.port) == (200, {"ready": True, "role": "follower"})
        server.add_check("sync", broken)
        assert await readyz(server.port) == (503, {"ready": False, "role": "follower", "sync": {"why": "catching up"}})
        assert (await get(server.port, "/nothing"))[0] == 404
    finally:
        await server.stop()
    assert not server.running


def test_http_settings(monkeypatch, tmp_path):
    assert HttpSettings() == HttpSettings(listen="127.0.0.1", port=0)  # off by default
    monkeypatch.setenv("KEHRABOT_HTTP__PORT", "9464")
    assert load_settings(None, data_dir=tmp_path).http.port == 9464
    monkeypatch.setenv("KEHRABOT_HTTP__PORT", "70000")
    with pytest.raises(ConfigError, match=r"http\.port \(KEHRABOT_HTTP__PORT\)"):
        load_settings(None, data_dir=tmp_path)


async def test_the_console_never_starts_the_server(tmp_path, monkeypatch):
    from bot.app import App
    from bot.config import Settings
    from bot.console import ConsoleTransport, run_console

    started = []
    monkeypatch.setattr(HttpServer, "start", lambda self: started.append(self))
    settings = Settings.model_construct(**{**dict(Settings.model_construct()), "data_dir": tmp_path,
                                           "http": HttpSettings(port=free_port())})
    out = io.StringIO()
    transport = ConsoleTransport(out=out, data_dir=tmp_path)
    app = App(settings, transports=[transport])
    transport.services = app.services
    await run_console(app, transport, stdin=io.StringIO("/idea Yhteinen kasvimaa\n"))
    assert "Idea #1" in out.getvalue() and started == []


@pytest.mark.integration
async def test_kehrabot_run_serves_readiness_and_metrics(tmp_path):
    from tests.telegram.emulator import BotApiEmulator

    emu = await BotApiEmulator().start()
    port = free_port()
    process = await start_process(tmp_path, telegram_env(emu), KEHRABOT_HTTP__PORT=str(port))
    try:
        loop = asyncio.get_running_loop()
        until = loop.time() + 30
        status, report = 0, {}
        while loop.time() < until:  # polled: the process has no event to wait for from here
            try:
                status, report = await readyz(port)
            except aiohttp.ClientConnectionError:
                status = 0  # not listening yet
            if status == 200:
                break
            await asyncio.sleep(0.1)
        assert status == 200, report
        # alone on its store it holds the polling lock (bot/leader.py)
        assert report["transports"] == {"telegram": {"ready": True, "role": "leader"}}
        assert report["role"] == "leader" and report["store"]["reachable"]
        print(f"ready {loop.time() - (until - 30):.2f} s after the start")
        person = emu.user("Aino", lang="fi")
        emu.post(emu.private(person), person, "/idea Yhteinen kasvimaa")
        await emu.wait_call("sendMessage", 1, within=20)
        found = await scrape(port)
        assert value(found, "kehrabot_updates_handled_total", platform="telegram") >= 1
        assert value(found, "kehrabot_replies_sent_total", platform="telegram") == 1
        assert value(found, "kehrabot_errors_total", platform="telegram", kind="handler") == 0
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
        await emu.stop()
    assert code == 0
    with pytest.raises(aiohttp.ClientConnectionError):  # the server stopped with the bot
        await get(port, "/healthz")


async def test_the_job_lag_counts_only_due_unclaimed_jobs(bot):
    from bot.metrics import store_figures

    now = bot.clock.now()
    async with bot.services.db.transaction() as session:
        await schedule_job(session, "test.later", now + timedelta(hours=1))
    assert await store_figures(bot.services.db, now) == ({}, 0.0)
    assert (await store_figures(bot.services.db, now + timedelta(hours=1, seconds=30)))[1] == 30.0
