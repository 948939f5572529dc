"""The webhook server: Telegram's call is answered once the update is in the inbox (inbox.py).

A part of :class:`bot.telegram.transport.TelegramTransport`, whose ``__init__`` makes the state
used here.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlparse

from bot.telegram.errors import neutral_errors
from bot.telegram.inbox import ALLOWED_UPDATES, MAX_BACKLOG
from core.transport import TransportError
from storage import telegram as store
from storage.core import EVENT_LEASE

#: how often a webhook process looks for updates stored but left unfinished (another process
#: died with them); those begun less than EVENT_LEASE ago stay with the process that has them
SWEEP_SECONDS = 30.0

log = logging.getLogger("bot.telegram")


class Webhook:
    """The webhook server, in place of polling when ``webhook_url`` is set."""

    async def _run_webhook(self) -> None:
        """Telegram's call is answered once the update is stored in the inbox; it is handled
        after, in the chat's lane (a send waiting for its flood slot never holds the call)."""
        from aiohttp import web

        url = self.settings.webhook_url or ""
        path = urlparse(url).path or "/"

        async def receive(request: web.Request) -> web.Response:
            if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != self._webhook_secret:
                return web.Response(status=403)
            if self._stopping or self._inflight >= MAX_BACKLOG:
                return web.Response(status=503)  # Telegram delivers it again later
            try:
                data = await request.json()
            except Exception:
                log.warning("Telegram webhook body is not JSON; dropped")
                return web.Response(text="ok")  # a poison delivery: confirmed, not again
            update_id = data.get("update_id") if isinstance(data, dict) else None
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                log.warning("Telegram webhook update without an id; dropped")
                return web.Response(text="ok")
            update = self._parse(update_id, data)
            if update is None:
                return web.Response(text="ok")
            try:
                await self.services.db.write(store.stash_inbox, (update_id, json.dumps(data, ensure_ascii=False),
                                                                 self.services.clock.now()))
            except Exception:
                log.exception("could not store webhook update %s; Telegram delivers it again", update_id)
                return web.Response(status=500)
            if update_id not in self._queued and not self._stopping:
                self._enqueue(update)
            return web.Response(text="ok")

        await self._replay_inbox()  # first: a chat's older updates stay ahead of its new ones
        app = web.Application()
        app.router.add_post(path, receive)
        self._web_runner = web.AppRunner(app)
        await self._web_runner.setup()
        site = web.TCPSite(self._web_runner, self.settings.webhook_listen, self.settings.webhook_port)
        await site.start()
        delay = self.settings.retry_backoff
        while not self._stopping:
            try:
                with neutral_errors(sending=False):
                    await self.bot.set_webhook(url, allowed_updates=ALLOWED_UPDATES, secret_token=self._webhook_secret)
                break
            except TransportError as exc:
                log.warning("setWebhook failed (%s); retrying in %.1f s", exc, delay)
                await self._pause(delay)
                delay = min(delay * 2, self.settings.retry_backoff_max)
        if self._stopping:
            return
        log.info("Telegram webhook listening on %s:%s%s", self.settings.webhook_listen,
                 self.settings.webhook_port, path)
        self.ready.set()
        while not self._stopping:  # until stop(): updates another process took and left unfinished
            await self._pause(SWEEP_SECONDS)
            if not self._stopping:
                await self._replay_inbox(self.services.clock.now() - EVENT_LEASE)
