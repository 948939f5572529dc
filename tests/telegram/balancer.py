"""A load balancer for webhook tests and benches: round robin over several bot processes."""

from __future__ import annotations

import itertools

import aiohttp
from aiohttp import web

from tests.matrix.synapse import free_port


class Balancer:
    """Round robin over the backends on keep-alive connections; a backend that cannot be
    reached is skipped for this call."""

    def __init__(self, backends: list[str], connections: int) -> None:
        self.backends = backends
        self.turn = itertools.cycle(range(len(backends)))
        self.served = [0] * len(backends)
        self.connections = connections
        self.session: aiohttp.ClientSession | None = None
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> Balancer:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.connections))
        app = web.Application()
        app.router.add_post("/telegram", self.forward)
        self.runner = web.AppRunner(app, handle_signals=False)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/telegram"
        return self

    async def forward(self, request: web.Request) -> web.Response:
        assert self.session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-telegram")}
        headers["Content-Type"] = "application/json"
        first = next(self.turn)
        for n in range(len(self.backends)):
            index = (first + n) % len(self.backends)
            try:
                async with self.session.post(self.backends[index], data=body, headers=headers) as resp:
                    self.served[index] += 1
                    return web.Response(status=resp.status, body=await resp.read())
            except aiohttp.ClientError:
                continue
        return web.Response(status=502)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.session is not None:
            await self.session.close()
