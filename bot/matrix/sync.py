"""The sync loop: gap back-fill, events of a room in order, claimed before they are handled and
finished after. The sync token is saved only once every event of its batch (and all before) is
handled, so after a restart an unfinished batch is synced again: events finished are skipped,
those claimed but unfinished are handled again with ``replay``.

A part of :class:`bot.matrix.transport.MatrixTransport`, whose ``__init__`` makes the state used here."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from nio import (
    MegolmEvent,
    ReactionEvent,
    RedactionEvent,
    RoomMemberEvent,
    RoomMessagesResponse,
    RoomMessageText,
    RoomUpgradeEvent,
    SyncError,
    SyncResponse,
    UnknownEvent,
)

from bot.matrix.errors import LOGGED_OUT
from bot.matrix.mapping import (
    PLATFORM,
)
from storage.core import DONE, begin_events

log = logging.getLogger("bot.matrix")

TOKEN_SAVE_SECONDS = 1.0


@dataclass
class _Batch:
    token: str
    tasks: list[asyncio.Task]



class Sync:
    """The sync loop, gap back-fill, per-room order, claimed and finished events."""

    # -- sync ---------------------------------------------------------------------------------

    def _filter(self) -> dict:
        return {"room": {"timeline": {"limit": self.cfg.timeline_limit}}}

    async def _sync_loop(self) -> None:
        assert self.client is not None
        token = await self._state("sync_token")
        full_state = True  # rebuild the room state (members, power levels) after every start
        backoff = 0.5
        while not self._stopping:
            try:
                resp = await self.client.sync(
                    timeout=int(self.cfg.sync_timeout_seconds * 1000) if token else 0,
                    sync_filter=self._filter(), since=token, full_state=full_state)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                resp = exc
            if not isinstance(resp, SyncResponse):
                self._set_health(False, resp)
                self.ready.clear()  # scheduled sends wait until a sync succeeds again
                if isinstance(resp, SyncError) and resp.status_code in LOGGED_OUT and await self._relogin():
                    continue
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.cfg.max_backoff_seconds)
                continue
            self._set_health(True)
            backoff = 0.5
            try:
                await self._crypto_housekeeping()
                tasks = await self._process(resp, since=token)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("matrix: processing a sync failed; retrying it")
                await asyncio.sleep(backoff)
                continue
            self._batches.append(_Batch(resp.next_batch, tasks))
            token = resp.next_batch
            full_state = False
            await self._commit_tokens()
            self.ready.set()

    async def _commit_tokens(self, force: bool = False) -> None:
        """Save the newest sync token whose events (and all before) are handled; at most once
        a second unless forced (each save is a durable write)."""
        done = None
        # a task cancelled at a stop left its event unfinished: its batch is synced again
        while self._batches and all(t.done() and not t.cancelled() for t in self._batches[0].tasks):
            done = self._batches.pop(0).token
        if done is not None:
            self._token_to_save = done
        now = time.monotonic()
        if self._token_to_save is not None and (force or now - self._token_saved_at >= TOKEN_SAVE_SECONDS):
            done, self._token_to_save, self._token_saved_at = self._token_to_save, None, now
            try:
                await self._set_state("sync_token", done)
            except Exception:
                log.warning("matrix: could not save the sync token", exc_info=True)

    async def _crypto_housekeeping(self) -> None:
        client = self.client
        if not self.cfg.encryption or client is None or client.olm is None:
            return
        if client.outgoing_to_device_messages:
            await client.send_to_device_messages()
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())

    async def _process(self, resp: SyncResponse, since: str | None) -> list[asyncio.Task]:
        tasks: list[asyncio.Task] = []
        for room_id, info in resp.rooms.invite.items():
            await self._on_invite(room_id, info)
        for room_id, info in resp.rooms.join.items():
            if since is None:
                continue  # first start: earlier history is not for us
            events = list(info.timeline.events)
            joined_at = next((i for i, e in enumerate(events) if isinstance(e, RoomMemberEvent)
                              and e.state_key == self.bot_username and e.membership == "join"
                              and e.prev_membership != "join"), None)
            if joined_at is not None:
                events = events[joined_at + 1:]  # just joined: what was said before is not for us
            elif info.timeline.limited:
                events = await self._backfill(room_id, info.timeline.prev_batch, since) + events
            for event in events:
                task = self._schedule(room_id, event)
                if task is not None:
                    tasks.append(task)
            if any(isinstance(e, RoomMemberEvent) and e.membership in ("leave", "ban") for e in events):
                await self._leave_if_alone(room_id)
        for room_id in resp.rooms.leave:
            self._creators.pop(room_id, None)
        return tasks

    async def _backfill(self, room_id: str, start: str | None, since: str) -> list:
        """Events skipped by a limited timeline: page back from the slice to the previous token."""
        assert self.client is not None
        found: list = []
        pages = 0
        while start and pages < 50:
            pages += 1
            resp = await self.client.room_messages(room_id, start=start, end=since, limit=100)
            if not isinstance(resp, RoomMessagesResponse):
                log.warning("matrix: back-fill of %s stopped: %s", room_id, resp)
                break
            found.extend(resp.chunk)
            if not resp.chunk or not resp.end or resp.end == start:
                break
            start = resp.end
        if found:
            log.info("matrix: back-filled %d events in %s after a sync gap", len(found), room_id)
        found.reverse()
        return found

    def _schedule(self, room_id: str, event: Any) -> asyncio.Task | None:
        """Handle an event concurrently, after the previous one of the same sender in the room."""
        sender = getattr(event, "sender", None)
        if not sender or sender == self.bot_username:
            return None
        # notices (other bots) are not RoomMessageText
        if not isinstance(event, RoomMessageText | ReactionEvent | RedactionEvent | UnknownEvent | MegolmEvent
                          | RoomUpgradeEvent):
            return None
        key = (room_id, sender)
        previous = self._last_task.get(key)
        task = asyncio.create_task(self._run(previous, room_id, event))
        self._last_task[key] = task
        task.add_done_callback(lambda t: self._last_task.pop(key, None) if self._last_task.get(key) is t else None)
        return task

    async def _run(self, previous: asyncio.Task | None, room_id: str, event: Any) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        async with self._sem:
            try:
                await self._handle(room_id, event)
            except Exception:
                log.exception("matrix: handling %s in %s failed", getattr(event, "event_id", "?"), room_id)

    async def _claim(self, event_id: str) -> str:
        """NEW or REPLAY (seen before a stop but never finished) to handle the event, DONE not to."""
        delay = 0.2
        for attempt in range(4):
            try:
                found = await self.services.db.write(begin_events, (PLATFORM, (event_id,), self.services.clock.now()),
                                                     durable=False)
                return found[event_id]
            except Exception:
                if attempt == 3:
                    log.error("matrix: could not record %s; not handled", event_id, exc_info=True)
                    return DONE
                await asyncio.sleep(delay)  # the store may be restarting: try again shortly
                delay *= 2
        return DONE


    async def drain(self) -> None:
        """Wait until every event received so far is handled (tests, benchmarks, shutdown)."""
        while pending := [t for b in self._batches for t in b.tasks if not t.done()] + [
                t for t in self._last_task.values() if not t.done()] + [t for t in self._seeding if not t.done()]:
            await asyncio.wait(pending)
