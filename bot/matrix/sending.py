"""Sends, edits, files, MSC3381 polls and acknowledgements, each sent once.

Sends happen once (``idempotent_sends``): a keyed Reply/FileOut/PollSpec (bot/outbox.py) is sent
with a transaction id derived from its key (:func:`txn_id`: the key plus ``.<part>`` for each
part of a long message, ``.file``, ``.poll``; button reactions use the message's event id plus
the reaction key), so a request repeated after a timeout or a restart is dropped by the
homeserver, which answers with the event it made the first time. What Synapse keeps (read in
Synapse 1.163 and the spec, MSC3970):

- transaction ids are scoped to the *device* (user id + device id), not the access token
  (``HttpTransactionCache._get_transaction_key`` in synapse/rest/client/transactions.py: key =
  request path, "user", user id, device id; only admin-minted tokens without a device fall back
  to the token id);
- an in-memory cache of the responses, by that key, for 30 to 60 minutes (``CLEANUP_PERIOD``),
  lost when Synapse restarts, errors not cached;
- and, for room events, the table ``event_txn_id_device_id`` (room, user, device, txn id →
  event id), written with every event sent with a transaction id and checked before a new one is
  created (``get_event_id_from_transaction`` in synapse/handlers/message.py): it survives a
  Synapse restart and is cleaned after 24 hours (``_cleanup_old_transaction_ids`` in
  synapse/storage/databases/main/events_worker.py).

So a repeated send is de-duplicated for 24 hours *if the bot is still the same device*: the
device id and the access token are kept in ``TransportState`` (``device_id``, ``access_token``)
and reused at every start (a password login is made only when there is no valid stored token,
and then with the stored device id; transport.py). After 24 hours the delivery log decides alone.

A part of :class:`bot.matrix.transport.MatrixTransport`, whose ``__init__`` makes the state used here.
"""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from typing import Any

from aiohttp import ClientConnectionError, ClientConnectorError
from nio import (
    ErrorResponse,
    LocalProtocolError,
    RoomSendResponse,
    UploadResponse,
)

from bot.matrix.errors import (
    MatrixAmbiguous,
    MatrixError,
    MatrixRateLimited,
    MatrixUnavailable,
    http_status,
    refusal,
    txn_id,
)
from bot.matrix.mapping import (
    BUTTON_KEYS,
    PLATFORM,
)
from core.events import FileOut, Incoming, PollOutcome, PollSpec, Reply
from core.markup import esc, split, to_matrix_html, to_plain
from storage import matrix as store

log = logging.getLogger("bot.matrix")

#: one Matrix event stays well below the 64 KiB limit
MAX_HTML = 30_000
SEND_ATTEMPTS = 6



class Sending:
    """Everything that posts, under transaction ids derived from the keys."""

    # -- outgoing -----------------------------------------------------------------------------

    async def _room_send(self, room_id: str, event_type: str, content: dict, tx_id: str | None = None) -> str:
        """Send with retries under one transaction id (derived from the send's key, else random),
        so neither a retry nor a send repeated after a restart is duplicated. Raises the neutral
        errors (module doc)."""
        if self.client is None:
            raise MatrixUnavailable("not connected")
        tx_id = tx_id or str(uuid.uuid4())
        what = f"sending to {room_id}"
        delay = 0.5
        last: object = None
        maybe_sent = False  # a request that may have arrived: a timeout, a 5xx, a dropped connection
        for _attempt in range(SEND_ATTEMPTS):
            try:
                resp = await self.client.room_send(room_id, event_type, content, tx_id=tx_id,
                                                   ignore_unverified_devices=True)
            except asyncio.CancelledError:
                raise
            except ClientConnectorError as exc:  # refused, no route, unknown host: it never left
                resp = exc
            except LocalProtocolError as exc:  # not logged in, no keys yet: it never left
                raise MatrixUnavailable(f"{what}: {exc}") from exc
            except (ClientConnectionError, TimeoutError) as exc:
                resp, maybe_sent = exc, True
            except Exception as exc:  # unknown: count it as possibly sent
                resp, maybe_sent = exc, True
            if isinstance(resp, RoomSendResponse):
                return resp.event_id
            last = resp
            if isinstance(resp, ErrorResponse):
                final = refusal(resp, what)
                if final is not None:
                    raise final
                if not (resp.status_code == "M_LIMIT_EXCEEDED" or http_status(resp) == 429):
                    maybe_sent = True  # a 5xx: perhaps after the event was made
            await asyncio.sleep(delay)
            delay = min(delay * 2, 8)
        if maybe_sent:
            raise MatrixAmbiguous(f"{what} failed, it may have arrived: {last}")
        if isinstance(last, ErrorResponse):
            raise MatrixRateLimited(f"{what}: {last}", retry_after=(last.retry_after_ms or 5000) / 1000)
        raise MatrixUnavailable(f"{what}: {last}")

    @staticmethod
    def _content(html: str, notice: bool) -> dict:
        return {
            "msgtype": "m.notice" if notice else "m.text",
            "body": to_plain(html),
            "format": "org.matrix.custom.html",
            "formatted_body": to_matrix_html(html),
        }

    @staticmethod
    def _with_buttons(reply: Reply) -> tuple[str, list[tuple[str, str]]]:
        flat = [b for row in reply.buttons for b in row][: len(BUTTON_KEYS)]
        keyed = [(BUTTON_KEYS[i], b) for i, b in enumerate(flat)]
        html = reply.html
        if keyed:
            html += "\n" + "\n".join(f"{key} {esc(b.label)}" for key, b in keyed)
        return html, [(key, b.data) for key, b in keyed]

    @staticmethod
    def _in_thread(content: dict, thread_id: str | None, reply_to: str | None = None) -> dict:
        """``content`` posted in the thread rooted at ``thread_id`` (``m.thread``, with the reply
        fallback clients without threads show), or as a reply to ``reply_to``."""
        if thread_id:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread_id,
                                       "is_falling_back": reply_to is None,
                                       "m.in_reply_to": {"event_id": reply_to or thread_id}}
        elif reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        return content

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        html, buttons = self._with_buttons(reply)
        event_id = None
        for n, part in enumerate(split(html, MAX_HTML)):
            content = self._in_thread(self._content(part, reply.notice), reply.thread_id,
                                      reply.reply_to_id if n == 0 else None)
            event_id = await self._room_send(chat_id, "m.room.message", content,
                                             txn_id(reply.key, str(n)) if reply.key else None)
        if buttons and event_id:
            # the button map and reactions follow the reply: the room's next command does not
            # wait for them. The map is committed before anything queued after it (the event's
            # finish) and read by every later session (a press is handled after it); the
            # reactions: one someone adds themselves works as well, and the stop waits for these
            await self.services.db.write_soon(store.set_buttons_soon, (chat_id, event_id, buttons))
            task = asyncio.create_task(self._react_keys(chat_id, event_id, [k for k, _ in buttons]))
            self._seeding.add(task)
            task.add_done_callback(self._seeding.discard)
        return event_id

    async def _react_keys(self, chat_id: str, event_id: str, keys: list[str]) -> None:
        """The button reactions of a message, each under a transaction id of (message, key): a
        message gets each key once, however often this runs."""
        for key in keys:
            try:
                await self._room_send(chat_id, "m.reaction", {
                    "m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}},
                    txn_id(f"react:{event_id}", key))
            except MatrixError as err:
                if "M_DUPLICATE_ANNOTATION" not in str(err):
                    log.warning("matrix: could not add button reaction %s: %s", key, err)

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> None:
        html, buttons = self._with_buttons(reply)
        html = split(html, MAX_HTML)[0]
        new = self._content(html, reply.notice)
        content = {**new, "body": "* " + new["body"], "formatted_body": "* " + new["formatted_body"],
                   "m.new_content": new,
                   "m.relates_to": {"rel_type": "m.replace", "event_id": message_id}}
        await self._room_send(chat_id, "m.room.message", content)
        async with self.services.db.transaction() as s:
            before = await store.buttons_of(s, message_id)
            if buttons or before:
                await store.set_buttons(s, chat_id, message_id, buttons)
        missing = [k for k, _ in buttons if k not in before]
        if missing:
            await self._react_keys(chat_id, message_id, missing)

    async def send_file(self, chat_id: str, file: FileOut) -> str | None:
        if self.client is None:
            raise MatrixUnavailable("not connected")
        encrypt = self._encrypted(chat_id)
        what = f"upload of {file.filename}"
        try:
            resp, keys = await self.client.upload(
                io.BytesIO(file.data), content_type=file.mime, filename=file.filename,
                encrypt=encrypt, filesize=len(file.data))
        except (ClientConnectionError, TimeoutError) as exc:  # nothing is in the room yet
            raise MatrixUnavailable(f"{what}: {exc}") from exc
        if not isinstance(resp, UploadResponse):
            final = refusal(resp, what) if isinstance(resp, ErrorResponse) else None
            raise final or MatrixUnavailable(f"{what} failed: {resp}")
        content: dict[str, Any] = {
            "msgtype": "m.image" if file.is_image else "m.file",
            "body": to_plain(file.caption_html) if file.caption_html else file.filename,
            "filename": file.filename,
            "info": {"mimetype": file.mime, "size": len(file.data)},
        }
        if file.caption_html:
            content.update(format="org.matrix.custom.html", formatted_body=to_matrix_html(file.caption_html))
        if encrypt and keys:
            content["file"] = {**keys, "url": resp.content_uri}
        else:
            content["url"] = resp.content_uri
        self._in_thread(content, file.thread_id)
        # a file sent again uploads again (a new media id), but the room gets one message
        return await self._room_send(chat_id, "m.room.message", content, txn_id(file.key, "file") if file.key else None)

    def _encrypted(self, room_id: str) -> bool:
        room = self.client.rooms.get(room_id) if self.client else None
        return bool(room and room.encrypted and self.cfg.encryption)

    async def send_poll(self, chat_id: str, poll: PollSpec) -> str | None:
        answer_ids = [f"a{i}" for i in range(len(poll.options))]
        max_sel = max(1, min(poll.max_choices if poll.multiple else 1, len(poll.options)))
        fallback = "\n".join([poll.question, *(f"{i + 1}. {o}" for i, o in enumerate(poll.options))])
        content = {
            "org.matrix.msc3381.poll.start": {
                "question": {"org.matrix.msc1767.text": poll.question, "body": poll.question},
                "kind": "org.matrix.msc3381.poll.undisclosed" if poll.hide_results
                else "org.matrix.msc3381.poll.disclosed",
                "max_selections": max_sel,
                "answers": [{"id": a, "org.matrix.msc1767.text": o} for a, o in zip(answer_ids, poll.options, strict=True)],
            },
            "org.matrix.msc1767.text": fallback,
            "body": fallback,
        }
        self._in_thread(content, poll.thread_id)
        event_id = await self._room_send(chat_id, "org.matrix.msc3381.poll.start", content,
                                         txn_id(poll.key, "poll") if poll.key else None)
        async with self.services.db.transaction() as s:  # a poll sent again is the same event: kept once
            await store.add_poll(s, event_id, chat_id, answer_ids, max_sel)
        return event_id

    async def close_poll(self, chat_id: str, poll_ref: str, outcome: PollOutcome) -> None:
        lines = [f"{o}: {c}" for o, c in zip(outcome.options, outcome.counts, strict=False)]
        text = "\n".join(lines)
        async with self.services.db.transaction() as s:
            await store.end_poll(s, poll_ref, self.services.clock.now())
        await self._room_send(chat_id, "org.matrix.msc3381.poll.end", {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll_ref},
            "org.matrix.msc3381.poll.end": {},
            "org.matrix.msc1767.text": text,
            "body": text,
        }, txn_id(f"end:{poll_ref}", "end"))  # a poll is ended once, however often this runs

    async def acknowledge(self, event: Incoming, text: str) -> None:
        """A short message; sent like the handler's replies (keyed by the event, logged), so a
        press handled again is not acknowledged twice."""
        name = event.sender_name or event.sender_id
        outer = self.services.transports.get(PLATFORM)
        via = outer if outer is not None and getattr(outer, "inner", None) is self else self
        await via.send(event.chat_id, Reply(html=f"{esc(name)}: {esc(text)}"))

