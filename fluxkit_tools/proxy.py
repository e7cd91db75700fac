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
use a session of their own. When ComfyUI is down the answer is a one-line 502.

Cross-site requests are refused (403) before anything is forwarded, for HTTP and websockets: a browser that once
answered the Basic challenge sends those credentials with *any* site's request to this host, so a credential alone
does not show the user meant the request. A request is cross-site when its `Origin` is `null` or not one of this
proxy's own origins, or when its `Sec-Fetch-Site` is `cross-site` or `same-site` (another trycloudflare.com
tunnel). Own origins: the scheme and `Host` the request was addressed to (https when the tunnel says so in
`X-Forwarded-Proto`), and the public URLs the launcher adds once cloudflared prints one (`Origins.add`; cloudflared
may rewrite `Host` on websockets). Scripts send no `Origin` and pass. The one cross-site request that is let in is
the token exchange itself, a link to `…/?token=…` clicked in a notebook: it proves itself with the token, and is
answered by the proxy (cookie + a same-origin bounce page, so the SameSite=Strict cookie is sent on the next
request), never forwarded. Only then is `Origin` rewritten to the upstream's, because ComfyUI on a loopback
address rejects requests whose Origin differs from its Host.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import html
import logging
from dataclasses import dataclass, field
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
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
CROSS_SITE_FETCH = {"cross-site", "same-site"}  # same-site: another subdomain, e.g. someone else's tunnel


class ProxyConfigError(ValueError):
    """A proxy set up with a token too short to guard it, or a public URL that is not one."""


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` in lower case, the default port left out; None for what is not an http(s) origin."""
    try:
        u = URL(url.strip())
    except (ValueError, TypeError):
        return None
    if u.scheme.lower() not in ("http", "https") or not u.host:
        return None
    port = "" if u.explicit_port in (None, DEFAULT_PORTS[u.scheme.lower()]) else f":{u.explicit_port}"
    return f"{u.scheme.lower()}://{u.host.lower()}{port}"


@dataclass
class Origins:
    """The public origins browsers reach this proxy at, besides the one each request names in `Host`: the
    launcher adds the tunnel's URL when cloudflared prints it (state of this app, not of the module)."""

    public: set[str] = field(default_factory=set)

    def add(self, url: str) -> None:
        origin = origin_of(url)
        if origin is None:
            raise ProxyConfigError(f"not an http(s) URL: {url!r}")
        self.public.add(origin)


ORIGINS = web.AppKey("origins", Origins)


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
        try:  # ValueError: characters outside ASCII (binascii.Error: broken base64; both are a wrong credential)
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
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
    return any(o and _same_secret(o, token) for o in offered)


def _same_secret(offered: str, token: str) -> bool:
    try:  # header bytes that are not UTF-8 arrive as surrogates, which cannot be encoded: not the token
        return hmac.compare_digest(offered.encode("utf-8"), token.encode("utf-8"))
    except UnicodeError:
        return False


def cross_site(request: web.Request, origins: Origins) -> str | None:
    """Why a browser sent this request from another site, or None (same origin, or not a browser's request)."""
    origin = request.headers.get("Origin")
    if origin is not None:
        scheme = "https" if _client_is_https(request) else "http"
        own = {origin_of(f"{scheme}://{request.headers.get('Host', '')}"), *origins.public} - {None}
        if origin_of(origin) not in own:
            return f"Origin {origin[:200]!r} is not this server's"
    site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    if site in CROSS_SITE_FETCH:
        return f"Sec-Fetch-Site: {site}"
    return None


def _token_exchange(request: web.Request, token: str) -> web.Response:
    """Answer `GET …?token=…`: the cookie, and the same path on this origin without the token. A navigation from
    another site (a link clicked in a notebook) gets a page that moves on by itself: a redirect would keep the
    request cross-site, so the browser would hold back the SameSite=Strict cookie just set."""
    location = same_origin_location(strip_token(request.raw_path))
    if request.headers.get("Sec-Fetch-Site", "").strip().lower() in CROSS_SITE_FETCH:
        page = f'<!doctype html><meta http-equiv="refresh" content="0;url={html.escape(location)}">FluxKit: opening…'
        response = web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})
    else:
        response = web.Response(status=302, headers={"Location": location})
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Strict", secure=_client_is_https(request), path="/"
    )
    return response


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
    try:  # the Origin ComfyUI's own check expects, as for HTTP (the browser's was checked by `cross_site`)
        up = await session.ws_connect(target, max_msg_size=0, autoping=True, origin=str(target.origin()))
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


def make_app(
    upstream: str, token: str, timeouts: Timeouts = Timeouts(), origins: Origins | None = None
) -> web.Application:
    """The proxy as an aiohttp app forwarding to `upstream` (e.g. http://127.0.0.1:8188); `origins`: the public
    origins (the launcher adds the tunnel's once known)."""
    if len(token) < 16:
        raise ProxyConfigError("token too short: use at least 16 characters (the launcher makes 32)")
    upstream = upstream.rstrip("/")

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.method == "GET" and _same_secret(request.query.get("token", ""), token):
            return _token_exchange(request, token)  # answered here, never forwarded
        reason = cross_site(request, request.app[ORIGINS])
        if reason is not None:
            log.warning(
                "FluxKit proxy: refused a cross-site %s %s (%s)", request.method, request.path[:200], reason
            )
            return web.Response(
                status=403,
                text=f"FluxKit proxy: cross-site request refused ({reason}); open ComfyUI itself\n",
            )
        if not _authorised(request, token):
            # The challenge lets clients that answer one (urllib, browsers' login box) send Basic auth.
            return web.Response(
                status=401,
                text="FluxKit proxy: missing or wrong token (open the URL printed at start, or send it as "
                "`Authorization: Bearer <token>` or as the password of Basic auth)\n",
                headers={"WWW-Authenticate": 'Basic realm="FluxKit", charset="UTF-8"'},
            )
        raw_target = strip_token(request.raw_path)
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
    app[ORIGINS] = origins if origins is not None else Origins()
    app.cleanup_ctx.append(open_sessions)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def start(
    upstream: str,
    token: str,
    port: int,
    host: str = "127.0.0.1",
    timeouts: Timeouts = Timeouts(),
    origins: Origins | None = None,
) -> web.AppRunner:
    """Serve the proxy on host:port; returns the runner (`await runner.cleanup()` stops it)."""
    runner = web.AppRunner(make_app(upstream, token, timeouts, origins))
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
