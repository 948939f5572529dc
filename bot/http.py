"""The bot's own small HTTP server: health endpoints, Prometheus metrics, and whatever routes
other components add (``add_route``). Owned by the composition root (bot/app.py): built with
the App, started in ``App.run`` before the transports when ``[http] port`` is set, stopped in
``App.close`` before the store closes.

- ``GET /healthz``: 200 ``ok`` while the process's event loop runs (it answered).
- ``GET /readyz``: JSON of every readiness check (``add_check``); 200 when all are ready, else 503.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # aiohttp's server is imported when the server starts (most runs have none)
    from aiohttp import web

log = logging.getLogger(__name__)

#: a readiness check: returns what /readyz shows under its name, raises NotReady when not ready
Check = Callable[[], Awaitable[Any]]
Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]

#: seconds a readiness check may take before it counts as not ready
CHECK_TIMEOUT = 2.0
#: seconds the stop waits for requests in flight
SHUTDOWN_TIMEOUT = 1.0


class NotReady(Exception):
    """Raised by a readiness check: not ready; its argument is what /readyz shows."""

    def __init__(self, detail: Any = None) -> None:
        super().__init__(detail)
        self.detail = detail


class HttpServer:
    """``listen``/``port`` as in ``[http]``; port 0 binds a free port (``port`` tells which once
    started). Routes and checks are added before :meth:`start`."""

    def __init__(self, listen: str = "127.0.0.1", port: int = 0) -> None:
        self.listen = listen
        self.port = port
        self._routes: list[tuple[str, str, Handler]] = []
        self._checks: dict[str, Check] = {}
        self._runner: web.AppRunner | None = None
        self.add_route("GET", "/healthz", self._healthz)
        self.add_route("GET", "/readyz", self._readyz)

    @property
    def running(self) -> bool:
        return self._runner is not None

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        """Serve ``method path`` with ``handler`` (an aiohttp handler); before :meth:`start`."""
        if self._runner is not None:
            raise RuntimeError(f"{method} {path}: routes are added before the HTTP server starts")
        self._routes.append((method, path, handler))

    def add_check(self, name: str, check: Check) -> None:
        """A readiness check shown in /readyz under ``name``: what it returns is shown, a
        :class:`NotReady` (its detail shown), any other error or a timeout make /readyz 503. A
        check of a name already there replaces it (the app's ``role`` says "single" until one
        that knows better is added)."""
        if name == "ready":
            raise ValueError("'ready' is /readyz's own field")
        self._checks[name] = check

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Run every check at once; (all ready, what each one says)."""
        names = list(self._checks)
        results = await asyncio.gather(*(self._run(self._checks[name]) for name in names))
        report: dict[str, Any] = {"ready": all(ok for ok, _ in results)}
        report.update((name, shown) for name, (_ok, shown) in zip(names, results, strict=True))
        return report["ready"], report

    @staticmethod
    async def _run(check: Check) -> tuple[bool, Any]:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                return True, await check()
        except NotReady as err:
            return False, err.detail
        except TimeoutError:
            return False, {"error": f"no answer within {CHECK_TIMEOUT:g} s"}
        except Exception as err:  # e.g. the store refused the connection: named, not logged per probe
            log.debug("readiness check failed", exc_info=True)
            return False, {"error": type(getattr(err, "orig", None) or err).__name__}

    async def _healthz(self, _request: web.Request) -> web.Response:
        from aiohttp import web

        return web.Response(text="ok")

    async def _readyz(self, _request: web.Request) -> web.Response:
        from aiohttp import web

        ready, report = await self.readiness()
        return web.Response(text=json.dumps(report, ensure_ascii=False), status=200 if ready else 503,
                            content_type="application/json")

    async def start(self) -> None:
        """Listen; raises OSError when the address cannot be bound (a port in use)."""
        from aiohttp import web

        app = web.Application()
        for method, path, handler in self._routes:
            app.router.add_route(method, path, handler)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.listen, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        paths = sorted({path for _method, path, _handler in self._routes})
        log.info("HTTP server listening on %s:%d (%s)", self.listen, self.port, ", ".join(paths))

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
