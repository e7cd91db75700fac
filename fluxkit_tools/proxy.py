"""A token-checking reverse proxy for putting ComfyUI behind a public tunnel.

ComfyUI has no login: whoever reaches it can run prompts and read every output. The launcher therefore points the
tunnel at this proxy, never at ComfyUI. A request passes when it carries the token: `?token=…` once (the proxy
then sets an HttpOnly, SameSite=Strict cookie, `Secure` when the client side is https, and redirects to the same
path on this origin without the token), the cookie, an `Authorization: Bearer …` header (scripts), or HTTP Basic
auth whose password is the token, any user name (`https://fluxkit:TOKEN@host`, API clients' user/password options;
websockets too). Everything else gets 401 with a Basic challenge, and is never forwarded; the `Authorization`
header is never forwarded either, so the token does not reach ComfyUI.

What is forwarded is what was received: the request target's path and query bytes exactly as the client sent them
(ComfyUI's frontend URL-encodes `/` inside a path segment, `/api/userdata/workflows%2Fmy.json`; decoding it would
make a path no route matches), minus only the `token` parameter; bodies are streamed both ways, compressed bodies
pass through untouched. Each request has its own timeouts (connect, and idle between two reads) and no total cap,
the HTTP connection pool has no limit one user could exhaust, and websockets (`/ws`, ComfyUI's progress channel)
use a session of their own. When ComfyUI is down the answer is a one-line 502. The `Origin` header is rewritten to
the upstream's, because ComfyUI on a loopback address rejects requests whose Origin differs from its Host; the
token check is what guards the server.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
from dataclasses import dataclass
from urllib.parse import unquote_plus

import aiohttp
from aiohttp import web
from yarl import URL

log = logging.getLogger("fluxkit.proxy")

COOKIE = "fluxkit_token"
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "host",
}  # fmt: skip


@dataclass(frozen=True)
class Timeouts:
    """Seconds: `connect` to reach ComfyUI, `idle` between two reads of one response (no cap on the total, so a
    long download or a slow prompt upload is never cut while it moves)."""

    connect: float = 10.0
    idle: float = 300.0


SESSIONS = web.AppKey("sessions", dict)


def strip_token(raw_target: str) -> str:
    """The request target (`/path?query`, as received) without `token=…` parameters; all other bytes unchanged."""
    path, sep, query = raw_target.partition("?")
    if not sep:
        return raw_target
    kept = [p for p in query.split("&") if unquote_plus(p.partition("=")[0]) != "token"]
    return path + ("?" + "&".join(kept) if kept else "")


def same_origin_location(raw_target: str) -> str:
    """A redirect target that stays on this origin: one leading `/`, never `//host` or `/\\host` (which browsers
    read as another host)."""
    return "/" + raw_target.lstrip("/\\")


def header_credential(authorization: str) -> str:
    """The secret an `Authorization` header offers: a Bearer token, or the password of HTTP Basic auth
    (`user:password`, any user name; what `https://user:TOKEN@host` URLs and clients' user/password options send).
    '' for anything else (another scheme, broken base64, no colon)."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        user, colon, password = decoded.partition(":")
        return password if colon else ""
    return ""


def _authorised(request: web.Request, token: str) -> bool:
    offered = [
        request.query.get("token", ""),
        request.cookies.get(COOKIE, ""),
        header_credential(request.headers.get("Authorization", "")),
    ]
    # every form compared in constant time; an empty one never matches
    return any(o and hmac.compare_digest(o.encode(), token.encode()) for o in offered)


def _client_is_https(request: web.Request) -> bool:
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https"


def _upstream_headers(request: web.Request, upstream: str) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP | {"content-length"}}
    headers.pop("Authorization", None)
    if "Origin" in headers:
        headers["Origin"] = upstream
    cookies = "; ".join(f"{k}={v}" for k, v in request.cookies.items() if k != COOKIE)
    headers.pop("Cookie", None)
    if cookies:
        headers["Cookie"] = cookies
    return headers


def _bad_gateway(upstream: str, error: BaseException) -> web.Response:
    reason = type(error).__name__ if not str(error) else str(error).splitlines()[0]
    log.warning("FluxKit proxy: ComfyUI at %s did not answer: %s", upstream, reason)
    return web.Response(
        status=502, text=f"FluxKit proxy: ComfyUI at {upstream} is not answering ({reason})\n"
    )


async def _proxy_ws(request: web.Request, session: aiohttp.ClientSession, target: URL) -> web.StreamResponse:
    try:
        up = await session.ws_connect(target, max_msg_size=0, autoping=True)
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as e:
        return _bad_gateway(str(target.origin()), e)
    async with up:
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


async def _proxy_http(
    request: web.Request, session: aiohttp.ClientSession, target: URL, upstream: str, timeouts: Timeouts
) -> web.StreamResponse:
    timeout = aiohttp.ClientTimeout(
        total=None, connect=timeouts.connect, sock_connect=timeouts.connect, sock_read=timeouts.idle
    )
    headers = _upstream_headers(request, upstream)
    data = request.content if request.body_exists else None
    try:
        up = await session.request(
            request.method, target, headers=headers, data=data, allow_redirects=False, timeout=timeout
        )
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as e:
        return _bad_gateway(upstream, e)
    async with up:
        response = web.StreamResponse(
            status=up.status, reason=up.reason,
            headers={k: v for k, v in up.headers.items() if k.lower() not in HOP_BY_HOP},
        )  # fmt: skip
        await response.prepare(request)
        # A failure from here on cannot change the status any more: it ends the connection (the client sees a
        # truncated body, never a complete-looking one).
        async for chunk in up.content.iter_chunked(1 << 16):
            await response.write(chunk)
        await response.write_eof()
        return response


def make_app(upstream: str, token: str, timeouts: Timeouts = Timeouts()) -> web.Application:
    """The proxy as an aiohttp app forwarding to `upstream` (e.g. http://127.0.0.1:8188)."""
    if len(token) < 16:
        raise ValueError("token too short: use at least 16 characters (the launcher makes 32)")
    upstream = upstream.rstrip("/")

    async def handle(request: web.Request) -> web.StreamResponse:
        if not _authorised(request, token):
            # The challenge lets clients that answer one (urllib, browsers' login box) send Basic auth.
            return web.Response(
                status=401,
                text="FluxKit proxy: missing or wrong token (open the URL printed at start, or send it as "
                "`Authorization: Bearer <token>` or as the password of Basic auth)\n",
                headers={"WWW-Authenticate": 'Basic realm="FluxKit", charset="UTF-8"'},
            )
        raw_target = strip_token(request.raw_path)
        if "token" in request.query and request.method == "GET":
            response = web.Response(status=302, headers={"Location": same_origin_location(raw_target)})
            response.set_cookie(
                COOKIE, token, httponly=True, samesite="Strict", secure=_client_is_https(request), path="/"
            )
            return response
        target = URL(upstream + raw_target, encoded=True)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await _proxy_ws(request, request.app[SESSIONS]["ws"], target)
        return await _proxy_http(request, request.app[SESSIONS]["http"], target, upstream, timeouts)

    async def open_sessions(app: web.Application):
        # limit=0: no pool limit one client's slow requests could exhaust; websockets on a session of their own
        app[SESSIONS] = {
            kind: aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None, connect=timeouts.connect),
            )
            for kind in ("http", "ws")
        }
        yield
        for session in app[SESSIONS].values():
            await session.close()

    app = web.Application(client_max_size=1 << 30)
    app.cleanup_ctx.append(open_sessions)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def start(
    upstream: str, token: str, port: int, host: str = "127.0.0.1", timeouts: Timeouts = Timeouts()
) -> web.AppRunner:
    """Serve the proxy on host:port; returns the runner (`await runner.cleanup()` stops it)."""
    runner = web.AppRunner(make_app(upstream, token, timeouts))
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
