"""Fixtures for the Matrix integration tests: one real Synapse per session, the bot as in
production (App + real transport, SQLite in tmp_path), test users as plain nio clients."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinedMembersResponse,
    LoginResponse,
    RoomCreateResponse,
    RoomMessagesResponse,
    SyncResponse,
)

from bot.app import App
from bot.config import LimitSettings, MatrixSettings, Settings
from core.events import Incoming
from tests.matrix.synapse import Synapse

_names = itertools.count(1)


@pytest.fixture(scope="session")
def synapse(tmp_path_factory):
    server = Synapse(tmp_path_factory.mktemp("synapse"))
    server.start()
    yield server
    server.remove()


@pytest.fixture
def synapse_default_limits(tmp_path_factory):
    server = Synapse(tmp_path_factory.mktemp("synapse-limits"), default_limits=True)
    server.start()
    yield server
    server.remove()


def unique(name: str) -> str:
    return f"{name}{next(_names)}_{int(time.time() * 1000) % 1_000_000}"


class MatrixUser:
    """A person in the tests: a nio client that records the timeline of its rooms."""

    def __init__(self, server: Synapse, name: str, data_dir: Path | None = None, encryption: bool = False) -> None:
        self.server = server
        self.localpart = unique(name)
        self.user_id = server.register(self.localpart)
        config = AsyncClientConfig(max_limit_exceeded=20, max_timeouts=5, encryption_enabled=encryption,
                                   store_sync_tokens=False)
        store = None
        if encryption:
            assert data_dir is not None
            store = str(data_dir / f"crypto-{self.localpart}")
            Path(store).mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(server.url, self.user_id, store_path=store, config=config)
        self.token: str | None = None
        self.events: dict[str, list] = {}
        self.cursor: dict[str, int] = {}

    async def login(self) -> MatrixUser:
        resp = await self.client.login("secret-pw")
        assert isinstance(resp, LoginResponse), resp
        await self.sync(0)
        return self

    async def sync(self, timeout_ms: int = 500) -> None:
        c = self.client
        resp = await c.sync(timeout=timeout_ms, since=self.token, full_state=self.token is None,
                            sync_filter={"room": {"timeline": {"limit": 100}}})
        if not isinstance(resp, SyncResponse):
            await asyncio.sleep(0.2)
            return
        since, self.token = self.token, resp.next_batch
        for room_id, info in resp.rooms.join.items():
            if info.timeline.limited and room_id in self.events and since:
                self.events[room_id].extend(await self._backfill(room_id, info.timeline.prev_batch, since))
            self.events.setdefault(room_id, []).extend(info.timeline.events)
        if c.olm is not None:
            if c.outgoing_to_device_messages:
                await c.send_to_device_messages()
            if c.should_upload_keys:
                await c.keys_upload()
            if c.should_query_keys:
                await c.keys_query()
            if c.should_claim_keys:
                await c.keys_claim(c.get_users_for_key_claiming())

    async def _backfill(self, room_id: str, start: str, since: str) -> list:
        found: list = []
        while start:
            resp = await self.client.room_messages(room_id, start=start, end=since, limit=100)
            assert isinstance(resp, RoomMessagesResponse), resp
            found.extend(resp.chunk)
            if not resp.chunk or not resp.end or resp.end == start:
                break
            start = resp.end
        return found[::-1]

    async def create_room(self, invite: list[str], *, encrypted: bool = False, name: str = "Kehrä Maunula") -> str:
        initial = [{"type": "m.room.encryption", "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"}}] if encrypted else []
        resp = await self.client.room_create(name=name, invite=invite, initial_state=initial)
        assert isinstance(resp, RoomCreateResponse), resp
        self.cursor[resp.room_id] = 0
        return resp.room_id

    async def join(self, room_id: str) -> None:
        await self.client.join(room_id)
        self.cursor.setdefault(room_id, 0)
        await self.sync(0)

    async def wait_joined(self, room_id: str, user_id: str, within: float = 20) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            resp = await self.client.joined_members(room_id)
            if isinstance(resp, JoinedMembersResponse) and any(m.user_id == user_id for m in resp.members):
                await self.sync(0)
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{user_id} did not join {room_id}")

    async def send(self, room_id: str, event_type: str, content: dict) -> str:
        resp = await self.client.room_send(room_id, event_type, content, ignore_unverified_devices=True)
        assert hasattr(resp, "event_id"), resp
        return resp.event_id

    async def say(self, room_id: str, text: str) -> str:
        return await self.send(room_id, "m.room.message", {"msgtype": "m.text", "body": text})

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        return await self.send(room_id, "m.reaction",
                               {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}})

    async def expect(self, room_id: str, sender: str, count: int = 1, *, types: tuple[str, ...] = ("m.room.message",),
                     within: float = 20) -> list:
        """The next ``count`` events of ``sender`` of these types in the room (in order)."""
        deadline = time.monotonic() + within
        found: list = []
        while True:
            events = self.events.get(room_id, [])
            i = self.cursor.get(room_id, 0)
            while i < len(events) and len(found) < count:
                ev = events[i]
                i += 1
                if ev.sender == sender and event_type(ev) in types:
                    found.append(ev)
            self.cursor[room_id] = i
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} events from {sender}, got {[body(e) for e in found]}")
            await self.sync(300)

    async def quiet(self, room_id: str, sender: str, seconds: float = 2.0) -> list:
        """Events of ``sender`` that arrive in the next seconds (should be none)."""
        deadline = time.monotonic() + seconds
        extra = []
        while time.monotonic() < deadline:
            await self.sync(200)
            events = self.events.get(room_id, [])
            i = self.cursor.get(room_id, 0)
            extra += [e for e in events[i:] if e.sender == sender and event_type(e) == "m.room.message"]
            self.cursor[room_id] = len(events)
        return extra

    async def close(self) -> None:
        await self.client.close()


def event_type(ev) -> str:
    return ev.source.get("type", "")


def body(ev) -> str:
    return getattr(ev, "body", None) or ev.source.get("content", {}).get("body", "")


def content(ev) -> dict:
    return ev.source.get("content", {})


class BotRunner:
    """The bot as in production: App + the real Matrix transport, its own data dir."""

    def __init__(self, server: Synapse, data_dir: Path, *, localpart: str | None = None,
                 limits: LimitSettings | None = None, min_respondents: int = 3, **matrix) -> None:
        """``limits``: the bot's rate limit (default: the product's; a benchmark lifts it);
        ``min_respondents``: the product's 3, or 1 to see a profile of one respondent."""
        self.server = server
        self.limits = limits or LimitSettings()
        self.min_respondents = min_respondents
        self.data_dir = data_dir
        self.localpart = localpart or unique("kehrabot")
        self.user_id = f"@{self.localpart}:localhost"
        if localpart is None:
            server.register(self.localpart, "bot-pw")
        self.matrix = {"homeserver": server.url, "user_id": self.user_id, "password": "bot-pw",
                       "allowed_inviters": [":localhost"], "max_backoff_seconds": 1, "sync_timeout_seconds": 5,
                       "request_timeout_seconds": 10, **matrix}
        self.seen: list[Incoming] = []
        self.task: asyncio.Task | None = None

    async def start(self) -> BotRunner:
        settings = Settings.model_construct(**{**dict(Settings.model_construct()), "data_dir": self.data_dir,
                                               "transports": ["matrix"], "matrix": MatrixSettings(**self.matrix),
                                               "limits": self.limits,
                                               "min_respondents": self.min_respondents})
        from bot.matrix import create

        self.app = App(settings, strict=True)
        self.transport = create(settings, self.app.services)
        self.app.add_transport(self.transport)
        original = self.app.dispatch

        async def record(transport, event):
            self.seen.append(event)
            await original(transport, event)

        self.app.dispatch = record
        self.task = asyncio.create_task(self.app.run())
        done, _ = await asyncio.wait([self.task, asyncio.create_task(self.transport.ready.wait())],
                                     timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            self.task.result()
        assert self.transport.ready.is_set(), "bot did not sync"
        return self

    def tr(self, msgid: str, lang: str = "fi") -> str:
        from core.i18n import _

        with self.app.services.locale(lang):
            return _(msgid)

    async def stop(self) -> None:
        if self.task is None:
            return
        await self.transport.stop()
        try:
            await asyncio.wait_for(self.task, 20)
        except asyncio.CancelledError:
            pass
        self.task = None


@pytest.fixture
async def matrix_bot(synapse, tmp_path):
    runners: list[BotRunner] = []

    async def make(**kw) -> BotRunner:
        runner = await BotRunner(synapse, tmp_path / "bot", **kw).start()
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        await runner.stop()
    violations = [v for runner in runners for v in runner.app.violations or []]
    assert not violations, "platform calls inside an open transaction:\n" + "\n".join(violations)


@pytest.fixture
async def matrix_users(synapse, tmp_path):
    users: list[MatrixUser] = []

    async def make(name: str = "aino", **kw) -> MatrixUser:
        user = await MatrixUser(synapse, name, tmp_path, **kw).login()
        users.append(user)
        return user

    yield make
    for user in users:
        await user.close()
