"""A stand-in ComfyUI upstream on 127.0.0.1 and FluxKit's token proxy in front of it, for the proxy tests
(tests/test_proxy.py, tests/test_proxy_cross_site.py)."""

from __future__ import annotations

import asyncio
import base64

from aiohttp import web

from fluxkit_comfy.server import free_port
from fluxkit_tools import proxy

TOKEN = "t0k3n-for-tests-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
MANY = 100  # the old client session's pool size: one more request than it held


class Upstream:
    """A stand-in ComfyUI: echoes what reached it; `/slow` and `/ws` hold until `release` is set."""

    def __init__(self):
        self.release = asyncio.Event()
        self.holding = 0
        self.seen = 0  # requests that reached this upstream
        self.url = ""

    @web.middleware
    async def count(self, request, handler):
        self.seen += 1
        return await handler(request)

    async def hello(self, request):
        return web.json_response({
            "raw_path": request.raw_path, "origin": request.headers.get("Origin"),
            "auth": request.headers.get("Authorization"), "query": dict(request.query),
            "cookie": request.headers.get("Cookie"),
        })  # fmt: skip

    async def echo(self, request):
        return web.Response(body=await request.read())

    async def slow(self, request):
        self.holding += 1
        await self.release.wait()
        return web.Response(text="slow done")

    async def stream(self, request):
        gap, chunks = float(request.query["gap"]), int(request.query["chunks"])
        response = web.StreamResponse()
        await response.prepare(request)
        for i in range(chunks):
            await asyncio.sleep(gap)
            await response.write(f"{i}\n".encode())
        await response.write_eof()
        return response

    async def ws(self, request):
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        await sock.send_str("hello " + request.query.get("clientId", ""))
        async for msg in sock:
            await sock.send_str("echo " + msg.data)
        return sock

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.count])
        app.add_routes([
            web.get("/hello", self.hello), web.get("/api/userdata/{file}", self.hello),
            web.post("/echo", self.echo), web.get("/slow", self.slow), web.get("/stream", self.stream),
            web.get("/ws", self.ws),
        ])  # fmt: skip
        return app


async def serve(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def run_with_proxy(
    test,
    timeouts: proxy.Timeouts | None = None,
    upstream_up: bool = True,
    origins: proxy.Origins | None = None,
):
    """Run `await test(base_url, upstream)` with the stand-in upstream and the proxy in front of it (`origins`: the
    public origins the launcher would add)."""

    async def go():
        up_port, px_port = free_port(), free_port()
        upstream = Upstream()
        upstream.url = f"http://127.0.0.1:{up_port}"
        up = await serve(upstream.app(), up_port) if upstream_up else None
        px = await proxy.start(
            f"http://127.0.0.1:{up_port}",
            TOKEN,
            px_port,
            timeouts=timeouts or proxy.Timeouts(),
            origins=origins,
        )
        try:
            await asyncio.wait_for(test(f"http://127.0.0.1:{px_port}", upstream), timeout=60)
        finally:
            upstream.release.set()
            await px.cleanup()
            if up is not None:
                await up.cleanup()

    asyncio.run(go())


def basic(user: str, password: str) -> dict[str, str]:
    """An `Authorization: Basic` header, as clients build it from `user:password`."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
