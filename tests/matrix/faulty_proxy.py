"""A reverse proxy in front of Synapse that can answer 502 or hang, to test fault handling."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from tests.matrix.synapse import free_port


class FaultyProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "ok"  # ok | 502 | hang
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.faults = 0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.mode == "502":
            self.faults += 1
            return web.json_response({"errcode": "M_UNKNOWN", "error": "bad gateway"}, status=502)
        if self.mode == "hang":
            self.faults += 1
            await asyncio.sleep(3600)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self.session.request(request.method, self.upstream + request.path_qs, data=body,
                                        headers=headers) as resp:
            data = await resp.read()
            return web.Response(body=data, status=resp.status,
                                headers={"Content-Type": resp.headers.get("Content-Type", "application/json")})

    async def start(self) -> FaultyProxy:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.session.close()
