"""HTTP to one ComfyUI, hardened for batches: a session with FluxKit's token, bounded retries of transient errors
with backoff, JSON answers checked for shape, and downloads streamed to disk under a temporary name and renamed.

Errors, by what a batch should do with them:
- `ServerUnavailable`: the server did not answer usefully (connection refused or reset, 502/503/504 after every
  retry, a websocket closed before the prompt ended). The item may run on another server.
- `ProtocolError`: the server answered, but not as ComfyUI answers (HTML, invalid JSON, a list where an object
  belongs, a missing field). The item failed; the batch goes on.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aiohttp

TRANSIENT_STATUS = frozenset({502, 503, 504})
PART_SUFFIX = ".fluxkit-part"
CHUNK = 1 << 20


class ServerUnavailable(ConnectionError):
    """The ComfyUI server could not be reached or dropped the connection (after the bounded retries)."""


class ProtocolError(RuntimeError):
    """The server answered with something that is not ComfyUI's protocol (HTML from a proxy, broken JSON, …)."""


class TransientStatus(Exception):
    """A 502/503/504 answer: retried, then reported as ServerUnavailable."""

    def __init__(self, what: str, status: int, body: str):
        super().__init__(f"HTTP {status} {body[:120]!r}")
        self.status = status


def public_url(url: str) -> str:
    """`url` without `user:password@` (what goes into requests' targets, messages and progress lines)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


TOKEN_ENV, TOKEN_SERVER_ENV = "FLUXKIT_TOKEN", "FLUXKIT_TOKEN_SERVER"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class CredentialError(ValueError):
    """Credentials that cannot be used as given (a user without a password); the message never repeats them."""


def origin(url: str) -> str:
    """`scheme://host:port` of `url` in lower case, credentials left out (default ports spelled out)."""
    parts = urlsplit(url.strip())
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower(), 0)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


def env_token_for(url: str) -> str | None:
    """`$FLUXKIT_TOKEN` where it belongs to the server at `url`: the servers `$FLUXKIT_TOKEN_SERVER` names
    (comma-separated URLs; what the launcher prints), or, when that is unset, an https server or one on this
    machine. Never a plain-http server elsewhere, where anyone on the way could read it."""
    token = os.environ.get(TOKEN_ENV)
    if not token:
        return None
    bound = [u for u in os.environ.get(TOKEN_SERVER_ENV, "").split(",") if u.strip()]
    if bound:
        return token if origin(url) in {origin(u) for u in bound} else None
    parts = urlsplit(url)
    return token if parts.scheme.lower() == "https" or (parts.hostname or "") in LOOPBACK else None


def auth_headers(url: str = "") -> dict[str, str]:
    """How to authenticate to the ComfyUI at `url`: HTTP Basic from its `user:password@` (a ComfyUI behind FluxKit's
    proxy, `https://fluxkit:TOKEN@….trycloudflare.com`, or behind nginx), else `Authorization: Bearer
    $FLUXKIT_TOKEN` where that token belongs to this server (`env_token_for`), else nothing."""
    parts = urlsplit(url)
    if parts.username is not None and parts.password is None:
        raise CredentialError(
            f"{public_url(url)}: the URL has a user name but no password. FluxKit's proxy takes the token as the "
            "password (https://fluxkit:TOKEN@host), or set FLUXKIT_TOKEN (and FLUXKIT_TOKEN_SERVER) instead"
        )
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    token = env_token_for(url)
    return {"Authorization": f"Bearer {token}"} if token else {}


def with_credentials(url: str) -> str:
    """`url` carrying the credentials `auth_headers` would send, as `user:password@` (the env token as Basic auth's
    password, which FluxKit's proxy takes): one string for a process that does not share this one's environment
    (a Ray actor, given it through the object store, never as a visible argument)."""
    if urlsplit(url).username is not None:
        auth_headers(url)  # a user without a password is an error here too
        return url
    token = env_token_for(url)
    if not token:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"fluxkit:{quote(token, safe='')}@{parts.netloc}"))


def open_session(url: str = "") -> aiohttp.ClientSession:
    """A session for talking to the ComfyUI at `url` with `auth_headers(url)`. Requests through it go to
    `public_url(url)`: the credentials travel in the header only, never in a logged URL."""
    timeout = aiohttp.ClientTimeout(total=None, connect=30, sock_read=300)
    return aiohttp.ClientSession(headers=auth_headers(url) or None, timeout=timeout)


# a cut body (ClientPayloadError) is a dropped connection too
TRANSIENT_ERRORS = (
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    asyncio.TimeoutError,
    TransientStatus,
)


async def with_retries(what: str, attempt: Callable[[], Awaitable], retries: int = 3, backoff_s: float = 0.5):
    """`await attempt()`, retried up to `retries` more times on a transient error (connection refused/reset, a
    timeout, 502/503/504), waiting backoff·2ⁿ (±25 %) between tries; then `ServerUnavailable` naming `what`."""
    for n in range(retries + 1):
        try:
            return await attempt()
        except TRANSIENT_ERRORS as e:
            last = e
        if n < retries:
            await asyncio.sleep(backoff_s * 2**n * random.uniform(0.75, 1.25))
    detail = str(last) or type(last).__name__
    raise ServerUnavailable(f"{what}: {detail} (after {retries + 1} tries)") from last


async def read_json(r: aiohttp.ClientResponse, what: str, kind: type = dict):
    """The body of `r` as JSON of type `kind`, or ProtocolError saying what came instead (transient statuses raise
    TransientStatus so `with_retries` retries them)."""
    text = await r.text(errors="replace")
    if r.status in TRANSIENT_STATUS:
        raise TransientStatus(what, r.status, text)
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        ctype = r.headers.get("Content-Type", "?")
        raise ProtocolError(f"{what}: HTTP {r.status} {ctype}, not JSON: {text[:120]!r}") from None
    if not isinstance(body, kind):
        raise ProtocolError(f"{what}: expected a JSON {kind.__name__}, got {type(body).__name__}")
    return body


def clean_partials(folder: Path) -> int:
    """Delete `*.fluxkit-part` files left under `folder` by a killed run; returns how many."""
    n = 0
    if folder.is_dir():
        for p in folder.rglob(f"*{PART_SUFFIX}"):
            p.unlink(missing_ok=True)
            n += 1
    return n


class AtomicFile:
    """Write `path` through `<path>.<random>.fluxkit-part`, fsync, rename: readers see the old file or the whole new
    one, never a part; a crash leaves only a `.fluxkit-part` (removed by `clean_partials`)."""

    def __init__(self, path: Path):
        self.path = path
        self.tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}{PART_SUFFIX}")

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(self.tmp, "wb")  # noqa: SIM115 - closed in __exit__
        return self.f

    def __exit__(self, exc_type, *_):
        try:
            if exc_type is None:
                self.f.flush()
                os.fsync(self.f.fileno())
        finally:
            self.f.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


async def download(
    session: aiohttp.ClientSession, url: str, params: dict, path: Path, retries: int = 3
) -> int:
    """GET `url` into `path` in 1 MiB chunks (never the whole body in memory), atomically; returns bytes written.
    A body shorter than its Content-Length is an error (aiohttp raises), never a file."""

    async def attempt() -> int:
        async with session.get(url, params=params) as r:
            if r.status in TRANSIENT_STATUS:
                raise TransientStatus(f"GET {url}", r.status, await r.text(errors="replace"))
            if r.status != 200:
                raise ProtocolError(f"GET {url} {params}: HTTP {r.status} {(await r.text())[:120]!r}")
            n = 0
            with AtomicFile(path) as f:
                async for chunk in r.content.iter_chunked(CHUNK):
                    f.write(chunk)
                    n += len(chunk)
            return n

    return await with_retries(f"GET {url}", attempt, retries)
