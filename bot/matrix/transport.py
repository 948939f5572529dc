"""Matrix transport (matrix-nio): sync loop with gap back-fill, idempotent dispatch, invites,
reactions as buttons, MSC3381 polls, media, end-to-end encryption and back-off on faults.

:class:`MatrixTransport` is put together from the parts beside this module, each named for what
it holds: sync.py (the sync loop and the claimed/finished rule), mapping.py (room events →
neutral events), rooms.py (invites, private chats, roles), sending.py (sends once, under
transaction ids: what Synapse keeps), errors.py (the neutral errors). This module holds the state
they share (``__init__``), the login and the stored device and token, the start and the stop.

``ready`` is set once logged in and the first sync is processed, cleared while the homeserver
cannot be reached and at the stop (jobs for Matrix chats wait meanwhile). The device id and the
access token are kept in ``TransportState`` (``device_id``, ``access_token``) and reused at every
start (a password login is made only when there is no valid stored token, and then with the
stored device id), so the homeserver keeps dropping repeated sends (sending.py).
"""

from __future__ import annotations

import asyncio
import logging

from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    LoginResponse,
    WhoamiResponse,
)

from bot.config import Settings
from bot.matrix.errors import (
    LOGGED_OUT,
    LoginError,
    MatrixUnavailable,
    http_status,
)
from bot.matrix.mapping import (
    BUTTON_KEYS,
    PLATFORM,
    Mapping,
)
from bot.matrix.rooms import Rooms
from bot.matrix.sending import Sending
from bot.matrix.sync import Sync, _Batch
from core.transport import (
    Capabilities,
    Dispatch,
)
from handlers.base import Services
from storage.core import get_state, set_state

log = logging.getLogger("bot.matrix")


class MatrixTransport(Sync, Mapping, Rooms, Sending):
    """The Matrix transport (core/transport.py's Transport); its parts are the base classes."""

    platform = PLATFORM
    command_prefixes: tuple[str, ...] = ("!",)
    #: polls are MSC3381 poll events; buttons are reaction keys under the message
    capabilities = Capabilities(native_polls=True, reactions=True, edits=True, member_count=True, threads=True,
                                max_buttons=len(BUTTON_KEYS))
    #: a repeated send with the same key is dropped by the homeserver (transaction ids)
    idempotent_sends = True

    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.cfg = settings.matrix
        self.services = services
        self.bot_username = self.cfg.user_id or ""
        #: one sync loop per account, in the process that holds this lock (bot/leader.py)
        self.consumer = f"matrix:{self.cfg.user_id or self.cfg.homeserver}"
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
        #: button reactions being added after their message was sent (sending.py)
        self._seeding: set[asyncio.Task] = set()

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
            path = self.cfg.crypto_dir or self.services.data_dir / "matrix-crypto"
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
        if isinstance(who, ErrorResponse) and (who.status_code in (*LOGGED_OUT, "M_FORBIDDEN")
                                               or http_status(who) == 401):
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
            status = http_status(resp)
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
        pending = [t for b in self._batches for t in b.tasks if not t.done()] + list(self._seeding)
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



def create(settings: Settings, services: Services) -> MatrixTransport:
    return MatrixTransport(settings, services)
