"""A token-checking reverse proxy for putting ComfyUI behind a public tunnel.

ComfyUI has no login: whoever reaches it can run prompts and read every output. The launcher therefore points the
tunnel at this proxy, never at ComfyUI. A request passes when it carries the token: `?token=…` once (the proxy
then sets an HttpOnly, SameSite=Strict cookie and redirects to the same URL without the token), the cookie, or an
`Authorization: Bearer …` header (scripts). Everything else gets 401. HTTP requests are forwarded with their bodies
streamed; websocket upgrades (`/ws`, ComfyUI's progress channel) are proxied both ways. The `Origin` header is
rewritten to the upstream's, because ComfyUI on a loopback address rejects requests whose Origin differs from its
Host; the token check is what guards the server.
"""

from __future__ import annotations

import asyncio
import hmac

import aiohttp
from aiohttp import web

COOKIE = "fluxkit_token"
SESSION = web.AppKey("session", aiohttp.ClientSession)
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
}  # fmt: skip


def _authorised(request: web.Request, token: str) -> bool:
    offered = [
        request.query.get("token", ""),
        request.cookies.get(COOKIE, ""),
        request.headers.get("Authorization", "").removeprefix("Bearer "),
    ]
    return any(o and hmac.compare_digest(o.encode(), token.encode()) for o in offered)


def _upstream_headers(request: web.Request, upstream: str) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers.pop("Authorization", None)
    if "Origin" in headers:
        headers["Origin"] = upstream
    cookies = "; ".join(f"{k}={v}" for k, v in request.cookies.items() if k != COOKIE)
    headers.pop("Cookie", None)
    if cookies:
        headers["Cookie"] = cookies
    return headers


async def _proxy_ws(
    request: web.Request, session: aiohttp.ClientSession, upstream: str
) -> web.WebSocketResponse:
    query = {k: v for k, v in request.query.items() if k != "token"}
    async with session.ws_connect(f"{upstream}{request.path}", params=query, max_msg_size=0) as up:
        down = web.WebSocketResponse(max_msg_size=0)
        await down.prepare(request)

        async def pump(src, dst):
            async for msg in src:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await dst.send_str(msg.data)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    await dst.send_bytes(msg.data)
                else:
                    break

        tasks = [asyncio.ensure_future(pump(up, down)), asyncio.ensure_future(pump(down, up))]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in tasks:
            t.cancel()
        await down.close()
        return down


def make_app(upstream: str, token: str) -> web.Application:
    """The proxy as an aiohttp app forwarding to `upstream` (e.g. http://127.0.0.1:8188)."""
    if len(token) < 16:
        raise ValueError("token too short: use at least 16 characters (the launcher makes 32)")
    upstream = upstream.rstrip("/")

    async def handle(request: web.Request) -> web.StreamResponse:
        if not _authorised(request, token):
            return web.Response(
                status=401, text="FluxKit proxy: missing or wrong token (open the URL printed at start)"
            )
        if "token" in request.query and request.method == "GET":
            clean = request.rel_url.with_query({k: v for k, v in request.query.items() if k != "token"})
            response = web.Response(status=302, headers={"Location": str(clean)})
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=request.secure)
            return response
        session: aiohttp.ClientSession = request.app[SESSION]
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await _proxy_ws(request, session, upstream)
        query = {k: v for k, v in request.query.items() if k != "token"}
        async with session.request(
            request.method, f"{upstream}{request.path}", params=query,
            headers=_upstream_headers(request, upstream), data=request.content if request.body_exists else None,
            allow_redirects=False,
        ) as up:  # fmt: skip
            response = web.StreamResponse(status=up.status, headers={
                k: v for k, v in up.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}
            })  # fmt: skip
            await response.prepare(request)
            async for chunk in up.content.iter_chunked(1 << 16):
                await response.write(chunk)
            await response.write_eof()
            return response

    async def open_session(app: web.Application):
        app[SESSION] = aiohttp.ClientSession(auto_decompress=True)
        yield
        await app[SESSION].close()

    app = web.Application(client_max_size=1 << 30)
    app.cleanup_ctx.append(open_session)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def start(upstream: str, token: str, port: int, host: str = "127.0.0.1") -> web.AppRunner:
    """Serve the proxy on host:port; returns the runner (`await runner.cleanup()` stops it)."""
    runner = web.AppRunner(make_app(upstream, token))
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
