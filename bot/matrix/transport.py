"""Matrix transport (matrix-nio): sync loop with gap back-fill, idempotent dispatch, invites,
reactions as buttons, MSC3381 polls, media, end-to-end encryption and back-off on faults.

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
and then with the stored device id). After 24 hours the delivery log decides alone.

Failures are the neutral errors of bot/transport.py (subclasses of :class:`MatrixError`, itself a
TransportError): M_FORBIDDEN → Forbidden, M_NOT_FOUND → MessageGone, M_LIMIT_EXCEEDED after the
retries → RateLimited, connection refused or logged out → Unavailable, timeouts and 5xx after the
retries → Ambiguous (the request may have arrived), other refusals (M_TOO_LARGE …) → MatrixError.

``ready`` is set once logged in and the first sync is processed, cleared while the homeserver
cannot be reached and at the stop (jobs for Matrix chats wait meanwhile). Events are claimed
before they are handled and finished after; the sync token is saved only once every event of
its batch (and all before) is handled, so after a restart an unfinished batch is synced again:
events finished are skipped, those claimed but unfinished are handled again with ``replay``.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import ClientConnectionError, ClientConnectorError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    InviteMemberEvent,
    JoinedMembersResponse,
    JoinError,
    LocalProtocolError,
    LoginResponse,
    MegolmEvent,
    ReactionEvent,
    RedactionEvent,
    RoomCreateResponse,
    RoomGetStateResponse,
    RoomMemberEvent,
    RoomMessagesResponse,
    RoomMessageText,
    RoomSendResponse,
    RoomUpgradeEvent,
    SyncError,
    SyncResponse,
    UnknownEvent,
    UploadResponse,
    WhoamiResponse,
)
from nio.api import RoomPreset

from bot.config import Settings
from bot.events import FileOut, Incoming, Kind, PollOutcome, PollSpec, Reply, Role
from bot.markup import esc, split, to_matrix_html, to_plain
from bot.transport import (
    Ambiguous,
    Capabilities,
    Dispatch,
    Forbidden,
    MessageGone,
    RateLimited,
    TransportError,
    Unavailable,
)
from handlers.base import Services
from storage import matrix as store
from storage.core import DONE, REPLAY, begin_events, finish_events, get_state, set_state

log = logging.getLogger(__name__)

PLATFORM = "matrix"
#: reaction keys offered for buttons, in order (Element shows them under the message)
BUTTON_KEYS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟")
POLL_START = ("m.poll.start", "org.matrix.msc3381.poll.start")
POLL_RESPONSE = ("m.poll.response", "org.matrix.msc3381.poll.response")
POLL_END = ("m.poll.end", "org.matrix.msc3381.poll.end")
#: one Matrix event stays well below the 64 KiB limit
MAX_HTML = 30_000
SEND_ATTEMPTS = 6
TOKEN_SAVE_SECONDS = 1.0
_REPLY_FALLBACK = re.compile(r"^(> .*\n)+\n", re.M)


class MatrixError(TransportError):
    """A request to the homeserver failed (after retries); refused as it was (M_TOO_LARGE …)
    when it is none of the subclasses below."""


class LoginError(MatrixError):
    """The configured credentials do not work: the bot cannot start on Matrix."""


class MatrixForbidden(Forbidden, MatrixError):
    pass


class MatrixMessageGone(MessageGone, MatrixError):
    pass


class MatrixRateLimited(RateLimited, MatrixError):
    pass


class MatrixUnavailable(Unavailable, MatrixError):
    pass


class MatrixAmbiguous(Ambiguous, MatrixError):
    pass


#: errcodes after which sending again does not help
_LOGGED_OUT = ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN")


def txn_id(key: str, part: str) -> str:
    """The transaction id of one request made for an idempotency key: the same key and part
    always give the same id, so the homeserver drops a repeated request."""
    return "kb" + hashlib.sha256(f"{key}.{part}".encode()).hexdigest()[:40]


def _http_status(resp: Any) -> int | None:
    transport = getattr(resp, "transport_response", None)
    return getattr(transport, "status", None)


def refusal(resp: ErrorResponse, what: str) -> MatrixError | None:
    """The neutral error for an error response that is final (not worth retrying), or None for
    one worth retrying (rate limits, 5xx)."""
    code = resp.status_code
    status = _http_status(resp)
    if code == "M_FORBIDDEN":
        return MatrixForbidden(f"{what}: {resp}")
    if code == "M_NOT_FOUND":
        return MatrixMessageGone(f"{what}: {resp}")
    if code in _LOGGED_OUT:
        return MatrixUnavailable(f"{what}: logged out ({code})")
    if code == "M_LIMIT_EXCEEDED" or status == 429:
        return None
    if status is not None and 400 <= status < 500:
        return MatrixError(f"{what}: {resp}")
    return None  # 5xx, or no status: the request may have arrived


def allowed_inviter(sender: str, allowed: list[str]) -> bool:
    for rule in allowed:
        if rule == "*" or rule == sender or (rule.startswith(":") and sender.endswith(rule)):
            return True
    return False


def poll_selections(content: dict) -> list[str] | None:
    """Answer ids of a poll response in either the stable or the unstable form."""
    if isinstance(content.get("m.selections"), list):
        return content["m.selections"]
    unstable = content.get("org.matrix.msc3381.poll.response")
    if isinstance(unstable, dict) and isinstance(unstable.get("answers"), list):
        return unstable["answers"]
    return None


def count_choices(answer_ids: list[str], max_selections: int, selections: list[Any] | None) -> tuple[int, ...]:
    """Option indexes of one response by the spec's rules: an unknown answer spoils the vote
    (empty), only the first ``max_selections`` count, duplicates once."""
    if not selections or any(s not in answer_ids for s in selections):
        return ()
    chosen: list[int] = []
    for s in selections[:max_selections]:
        index = answer_ids.index(s)
        if index not in chosen:
            chosen.append(index)
    return tuple(chosen)


def room_admins(create_sender: str | None, create_content: dict, room_version: str) -> set[str]:
    """Users who are room creators with unlimited power (room version 12 and later)."""
    try:
        modern = int(room_version) >= 12
    except (TypeError, ValueError):
        modern = False
    if not modern:
        return set()
    creators = {create_sender} if create_sender else set()
    creators.update(u for u in create_content.get("additional_creators", []) if isinstance(u, str))
    return creators


def strip_mention(body: str, names: list[str]) -> str | None:
    """The text after a leading mention of the bot ("kehrabot: idea x"), or None."""
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        if body[: len(name)].casefold() == name.casefold():
            rest = body[len(name):]
            if not rest or rest[0] in ":, \t\n":
                return rest.lstrip(":, \t\n")
    return None


@dataclass
class _Batch:
    token: str
    tasks: list[asyncio.Task]


class MatrixTransport:
    platform = PLATFORM
    command_prefixes: tuple[str, ...] = ("!",)
    #: polls are MSC3381 poll events; buttons are reaction keys under the message
    capabilities = Capabilities(native_polls=True, reactions=True, edits=True, member_count=True)
    #: a repeated send with the same key is dropped by the homeserver (transaction ids)
    idempotent_sends = True

    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.cfg = settings.matrix
        self.services = services
        self.bot_username = self.cfg.user_id or ""
        self.client: AsyncClient | None = None
        self.ready = asyncio.Event()
        self.healthy = True
        self._dispatch: Dispatch | None = None
        self._stopping = False
        self._sync_task: asyncio.Task | None = None
        self._sem = asyncio.Semaphore(self.cfg.max_concurrency)
        self._last_task: dict[tuple[str, str], asyncio.Task] = {}
        self._batches: list[_Batch] = []
        self._joining: set[str] = set()
        self._creators: dict[str, set[str]] = {}
        self._direct: dict[str, str] = {}
        self._token_to_save: str | None = None
        self._token_saved_at = 0.0
        #: seconds the stop waits for the events in hand (App.close sets it from its deadline)
        self.stop_grace = 10.0
        self._stop_task: asyncio.Future | None = None

    # -- login and state ----------------------------------------------------------------------

    async def _state(self, name: str) -> str | None:
        async with self.services.db.session() as s:
            return await get_state(s, PLATFORM, name)

    async def _set_state(self, name: str, value: str) -> None:
        async with self.services.db.transaction() as s:
            await set_state(s, PLATFORM, name, value)

    def _make_client(self, device_id: str | None) -> AsyncClient:
        store_path = None
        if self.cfg.encryption:
            path = self.services.data_dir / "matrix-crypto"
            path.mkdir(parents=True, exist_ok=True)
            store_path = str(path)
        config = AsyncClientConfig(
            max_limit_exceeded=3,
            max_timeouts=2,
            backoff_factor=0.2,
            max_timeout_retry_wait_time=5,
            request_timeout=self.cfg.request_timeout_seconds,
            encryption_enabled=self.cfg.encryption,
            store_sync_tokens=False,
        )
        return AsyncClient(self.cfg.homeserver or "", self.cfg.user_id or "", device_id=device_id,
                           store_path=store_path, config=config)

    async def _login(self) -> None:
        """Log in as the same device every time: the configured access token, else the stored
        one (from an earlier password login), else a password login with the stored device id
        (whose token is then stored). Transaction ids are scoped to the device (module doc)."""
        device_id = await self._state("device_id")
        self.client = self._make_client(device_id)
        token = self.cfg.secret_access_token()
        if token:
            who = await self._whoami(token)
            if who is None:
                raise LoginError("matrix.access_token was refused by the homeserver")
            self.client.restore_login(who.user_id, who.device_id or device_id or "", token)
        else:
            password = self.cfg.secret_password()
            if not password:
                raise LoginError("matrix.password or matrix.access_token is required")
            if not await self._restore_stored(device_id):
                await self._password_login(password)
        self.bot_username = self.client.user_id
        if self.client.device_id and self.client.device_id != device_id:
            await self._set_state("device_id", self.client.device_id)
        if self.cfg.encryption and self.client.should_upload_keys:
            await self.client.keys_upload()

    async def _whoami(self, token: str) -> WhoamiResponse | None:
        """Who the token belongs to; None when the homeserver refuses it (other failures raise,
        and the start retries)."""
        assert self.client is not None
        self.client.access_token = token
        who = await self.client.whoami()
        if isinstance(who, WhoamiResponse):
            return who
        self.client.access_token = ""
        if isinstance(who, ErrorResponse) and (who.status_code in (*_LOGGED_OUT, "M_FORBIDDEN")
                                               or _http_status(who) == 401):
            return None
        raise MatrixUnavailable(f"whoami failed: {who}")

    async def _restore_stored(self, device_id: str | None) -> bool:
        """Reuse the access token of an earlier start, if it is still ours and of this device."""
        assert self.client is not None
        token = await self._state("access_token")
        if not token or not device_id:
            return False
        who = await self._whoami(token)
        if who is None or who.device_id != device_id or (self.cfg.user_id and who.user_id != self.cfg.user_id):
            log.info("matrix: the stored session is no longer valid; logging in again as device %s", device_id)
            await self._set_state("access_token", "")
            return False
        self.client.restore_login(who.user_id, device_id, token)
        log.info("matrix: resumed the session of device %s", device_id)
        return True

    async def _password_login(self, password: str) -> None:
        assert self.client is not None
        resp = await self.client.login(password, device_name=self.cfg.device_name)  # the stored device id, if any
        if not isinstance(resp, LoginResponse):
            status = _http_status(resp)
            if status is not None and 400 <= status < 500 and status != 429:
                raise LoginError(f"login failed: {resp}")  # a wrong password, a deactivated user
            raise MatrixUnavailable(f"login failed: {resp}")
        await self._set_state("device_id", resp.device_id)
        await self._set_state("access_token", resp.access_token)

    async def _relogin(self) -> bool:
        """The homeserver forgot our token (logged out elsewhere, expired): log in again as the
        same device when a password is configured."""
        password = self.cfg.secret_password()
        if self.cfg.secret_access_token() or not password or self.client is None:
            log.error("matrix: the access token was refused; configure a new one")
            return False
        try:
            await self._set_state("access_token", "")
            self.client.access_token = ""
            await self._password_login(password)
        except Exception as exc:
            log.warning("matrix: logging in again failed: %s", exc)
            return False
        log.warning("matrix: the session had ended; logged in again as device %s", self.client.device_id)
        return True

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch
        self._stopping = False
        self._stop_task = None
        self._batches, self._token_to_save = [], None  # a restart syncs from the saved token
        backoff = 1.0
        while not self._stopping:
            try:
                await self._login()
                break
            except LoginError:
                raise
            except Exception as exc:  # homeserver down at start: keep trying
                self._set_health(False, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.cfg.max_backoff_seconds)
        self._sync_task = asyncio.create_task(self._sync_loop())
        try:
            await self._sync_task
        except asyncio.CancelledError:
            if not self._stopping:
                raise

    async def stop(self) -> None:
        """No new events; the ones in hand get ``stop_grace`` seconds, the rest are cancelled
        (claimed, not finished: handled again at the next start, their batch synced again)."""
        if self._stop_task is None:
            self._stop_task = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stop_task)

    async def _stop(self) -> None:
        self._stopping = True
        self.ready.clear()
        if self._sync_task is not None:
            self._sync_task.cancel()
            try:
                await self._sync_task
            except (asyncio.CancelledError, Exception):
                pass
        pending = [t for b in self._batches for t in b.tasks if not t.done()]
        if pending:
            _done, late = await asyncio.wait(pending, timeout=self.stop_grace)
            if late:
                log.warning("matrix: %d events still being handled at the stop; they are handled again "
                            "at the next start", len(late))
                for task in late:
                    task.cancel()
                await asyncio.wait(late, timeout=1.0)
        await self._commit_tokens(force=True)
        if self.client is not None:
            await self.client.close()

    def _set_health(self, ok: bool, why: object = None) -> None:
        if ok and not self.healthy:
            log.warning("matrix: homeserver reachable again")
        elif not ok and self.healthy:
            log.warning("matrix: homeserver unavailable (%s); retrying with back-off", why)
        self.healthy = ok

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
                if isinstance(resp, SyncError) and resp.status_code in _LOGGED_OUT and await self._relogin():
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

    # -- incoming -----------------------------------------------------------------------------

    def _base(self, room_id: str, sender: str) -> dict:
        room = self.client.rooms.get(room_id) if self.client else None
        return {
            "platform": PLATFORM,
            "chat_id": room_id,
            "sender_id": sender,
            "sender_name": room.user_name(sender) or sender if room else sender,
            "chat_title": room.display_name if room else "",
            "is_private": self._is_private(room_id),
        }

    def _is_private(self, room_id: str) -> bool:
        if room_id in self._direct.values():
            return True
        room = self.client.rooms.get(room_id) if self.client else None
        if room is None:
            return False
        return room.member_count <= 2 and not room.name and not room.canonical_alias

    async def _handle(self, room_id: str, event: Any) -> None:
        assert self._dispatch is not None
        if isinstance(event, MegolmEvent):
            log.warning("matrix: could not decrypt %s in %s (session %s)", event.event_id, room_id, event.session_id)
            return
        if isinstance(event, RoomMessageText):
            incoming = self._message(room_id, event)
        elif isinstance(event, ReactionEvent):
            incoming = await self._reaction(room_id, event)
        elif isinstance(event, RedactionEvent):
            incoming = await self._redaction(room_id, event)
        elif isinstance(event, UnknownEvent):
            incoming = await self._poll_event(room_id, event)
        elif isinstance(event, RoomUpgradeEvent):
            incoming = await self._upgraded(room_id, event)
        else:
            return
        if incoming is None:
            return
        state = await self._claim(event.event_id)
        if state == DONE:
            return
        if await self._dispatch(self, replace(incoming, event_key=event.event_id, replay=state == REPLAY)) is False:
            return  # cut short by the stop: handled again at the next start
        if isinstance(event, RedactionEvent):  # kept until handled: a replayed removal still finds it
            async with self.services.db.transaction() as s:
                await store.forget_reaction(s, event.redacts)
        await self.services.db.write_soon(finish_events, (PLATFORM, event.event_id, self.services.clock.now()))

    def _message(self, room_id: str, event: RoomMessageText) -> Incoming | None:
        content = event.source.get("content", {})
        relates = content.get("m.relates_to") or {}
        if relates.get("rel_type") == "m.replace":  # an edit of an earlier message
            new = content.get("m.new_content") or {}
            text = new.get("body") if isinstance(new.get("body"), str) else None
            if not text or not relates.get("event_id"):
                return None
            return Incoming(**self._base(room_id, event.sender), kind=Kind.EDIT, text=text,
                            target_id=relates["event_id"], message_id=event.event_id, raw=event.source)
        body = event.body or ""
        reply_to = (relates.get("m.in_reply_to") or {}).get("event_id")
        if reply_to:
            body = _REPLY_FALLBACK.sub("", body, count=1)
        mentions = (content.get("m.mentions") or {}).get("user_ids") or []
        room = self.client.rooms.get(room_id) if self.client else None
        own = self.bot_username
        names = [own, own.split(":")[0].lstrip("@"), room.user_name(own) if room else ""]
        rest = strip_mention(body, names)
        mentioned = own in mentions or rest is not None
        if rest is not None:
            body = rest if rest.startswith(self.command_prefixes) else self.command_prefixes[0] + rest
        return Incoming(**self._base(room_id, event.sender), text=body, message_id=event.event_id,
                        reply_to_id=reply_to, mentions_bot=mentioned, raw=event.source)

    async def _upgraded(self, room_id: str, event: RoomUpgradeEvent) -> Incoming | None:
        """The room was upgraded (tombstone): follow it to the new room and move the chat there.
        If the new room needs an invitation, joining waits for it; the data moves now."""
        new = event.replacement_room
        if not new or new == room_id:
            return None
        assert self.client is not None
        resp = await self.client.join(new)
        if isinstance(resp, JoinError):
            log.info("matrix: %s was replaced by %s, which I may join once invited: %s", room_id, new, resp)
        else:
            log.info("matrix: %s was replaced by %s; joined it", room_id, new)
        return Incoming(**self._base(room_id, event.sender), kind=Kind.CHAT_MOVED, target_id=new)

    async def _reaction(self, room_id: str, event: ReactionEvent) -> Incoming | None:
        async with self.services.db.transaction() as s:
            buttons = await store.buttons_of(s, event.reacts_to)
            data = buttons.get(event.key)
            if data is not None:
                return Incoming(**self._base(room_id, event.sender), kind=Kind.BUTTON, button_data=data,
                                target_id=event.reacts_to, message_id=event.event_id, raw=event.source)
            await store.remember_reaction(s, event.event_id, room_id, event.sender, event.key, event.reacts_to,
                                          self.services.clock.now())
        return Incoming(**self._base(room_id, event.sender), kind=Kind.REACTION, reaction=event.key,
                        target_id=event.reacts_to, message_id=event.event_id, raw=event.source)

    async def _redaction(self, room_id: str, event: RedactionEvent) -> Incoming | None:
        async with self.services.db.transaction() as s:
            row = await store.reaction_of(s, event.redacts)
            if row is not None and row.sender != event.sender:
                await store.forget_reaction(s, event.redacts)
                row = None  # a moderator's clean-up
        if row is None:
            return None  # not a tracked reaction (or one whose removal was handled)
        return Incoming(**self._base(room_id, row.sender), kind=Kind.REACTION, reaction=row.key,
                        reaction_removed=True, target_id=row.target_id, message_id=event.event_id,
                        raw=event.source)

    async def _poll_event(self, room_id: str, event: UnknownEvent) -> Incoming | None:
        if event.type not in POLL_RESPONSE:
            return None
        content = event.source.get("content", {})
        start_id = (content.get("m.relates_to") or {}).get("event_id")
        if not start_id:
            return None
        ts = int(event.source.get("origin_server_ts") or 0)
        async with self.services.db.transaction() as s:
            poll = await store.get_poll(s, start_id)
            if poll is None or poll.room_id != room_id:
                return None
            if poll.ended_at is not None and ts >= int(poll.ended_at.timestamp() * 1000):
                return None  # after the end event
            if not await store.newer_vote(s, start_id, event.sender, ts):
                return None
        choices = count_choices(json.loads(poll.answer_ids), poll.max_selections, poll_selections(content))
        return Incoming(**self._base(room_id, event.sender), kind=Kind.POLL_VOTE, poll_ref=start_id,
                        poll_choices=choices, message_id=event.event_id, raw=event.source)

    # -- invites and rooms --------------------------------------------------------------------

    async def _on_invite(self, room_id: str, info: Any) -> None:
        if room_id in self._joining or self.client is None:
            return
        inviter = None
        for ev in getattr(info, "invite_state", []):
            if isinstance(ev, InviteMemberEvent) and ev.state_key == self.bot_username and ev.membership == "invite":
                inviter = ev.sender
        self._joining.add(room_id)
        try:
            if inviter and allowed_inviter(inviter, self.cfg.allowed_inviters):
                resp = await self.client.join(room_id)
                if isinstance(resp, JoinError):
                    log.warning("matrix: joining %s failed: %s", room_id, resp)
                else:
                    log.info("matrix: joined %s on invitation by %s", room_id, inviter)
            else:
                log.info("matrix: declined invitation to %s by %s", room_id, inviter)
                await self.client.room_leave(room_id)
        finally:
            self._joining.discard(room_id)

    async def _leave_if_alone(self, room_id: str) -> None:
        """Leave (and forget) a room once everybody else has left it."""
        assert self.client is not None
        resp = await self.client.joined_members(room_id)
        if not isinstance(resp, JoinedMembersResponse) or len(resp.members) > 1:
            return
        log.info("matrix: leaving %s, nobody else is there", room_id)
        await self.client.room_leave(room_id)
        await self.client.room_forget(room_id)

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
                if not (resp.status_code == "M_LIMIT_EXCEEDED" or _http_status(resp) == 429):
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

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        html, buttons = self._with_buttons(reply)
        event_id = None
        for n, part in enumerate(split(html, MAX_HTML)):
            content = self._content(part, reply.notice)
            if n == 0 and reply.reply_to_id:
                content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply.reply_to_id}}
            event_id = await self._room_send(chat_id, "m.room.message", content,
                                             txn_id(reply.key, str(n)) if reply.key else None)
        if buttons and event_id:
            async with self.services.db.transaction() as s:
                await store.set_buttons(s, chat_id, event_id, buttons)
            await self._react_keys(chat_id, event_id, [k for k, _ in buttons])
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

    async def private_chat(self, user_id: str) -> str | None:
        assert self.client is not None
        room_id = self._direct.get(user_id) or await self._state(f"dm:{user_id}")
        if room_id and room_id in self.client.rooms:
            self._direct[user_id] = room_id
            return room_id
        initial = []
        if self.cfg.encryption:
            initial.append({"type": "m.room.encryption", "state_key": "",
                            "content": {"algorithm": "m.megolm.v1.aes-sha2"}})
        resp = await self.client.room_create(is_direct=True, invite=[user_id], preset=RoomPreset.trusted_private_chat,
                                             initial_state=initial)
        if not isinstance(resp, RoomCreateResponse):
            log.warning("matrix: could not open a direct chat with %s: %s", user_id, resp)
            return None
        self._direct[user_id] = resp.room_id
        await self._set_state(f"dm:{user_id}", resp.room_id)
        return resp.room_id

    async def member_count(self, chat_id: str) -> int | None:
        """Joined members of the room, the bot included (used for poll turnout)."""
        assert self.client is not None
        resp = await self.client.joined_members(chat_id)
        return len(resp.members) if isinstance(resp, JoinedMembersResponse) else None

    async def drain(self) -> None:
        """Wait until every event received so far is handled (tests, benchmarks, shutdown)."""
        while pending := [t for b in self._batches for t in b.tasks if not t.done()] + [
                t for t in self._last_task.values() if not t.done()]:
            await asyncio.wait(pending)

    async def role_of(self, chat_id: str, user_id: str) -> Role:
        assert self.client is not None
        room = self.client.rooms.get(chat_id)
        creators = self._creators.get(chat_id)
        if creators is None:
            creators = set()
            resp = await self.client.room_get_state(chat_id)
            if isinstance(resp, RoomGetStateResponse):
                for ev in resp.events:
                    if ev.get("type") == "m.room.create":
                        content = ev.get("content", {})
                        creators = room_admins(ev.get("sender"), content, str(content.get("room_version", "1")))
                self._creators[chat_id] = creators
        if user_id in creators:
            return Role.ADMIN
        level = room.power_levels.get_user_level(user_id) if room is not None else 0
        return Role.ADMIN if level >= self.cfg.admin_power_level else Role.MEMBER


def create(settings: Settings, services: Services) -> MatrixTransport:
    return MatrixTransport(settings, services)
