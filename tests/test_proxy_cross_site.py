"""The token proxy refuses what another site sends with a browser's cached credentials: cross-site requests (HTTP
and websockets) are 403 before anything is forwarded, the token link clicked in a notebook still opens ComfyUI, and
credentials that are not UTF-8 are 401, never a 500."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import pytest
from proxy_standin import BEARER, TOKEN, basic, run_with_proxy
from yarl import URL

from fluxkit_tools import proxy


def test_cross_site_requests_are_refused_before_anything_is_forwarded():
    """Valid credentials do not make a request from another site welcome: Origin foreign or null, or Sec-Fetch-Site
    cross-site / same-site, is 403 for HTTP and websockets, and reaches nothing; the tunnel's own origin (by Host
    and X-Forwarded-Proto, or added by the launcher when cloudflared rewrites Host), loopback's and scripts without
    an Origin pass."""
    origins = proxy.Origins()
    origins.add("https://mine.trycloudflare.com")

    async def test(base, upstream):
        creds = [BEARER, basic("fluxkit", TOKEN)]
        async with aiohttp.ClientSession() as s:
            for auth in creds:
                for extra in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"},
                              {"Sec-Fetch-Site": "same-site"}, {"Origin": "http://mine.trycloudflare.com"},
                              {"Origin": base.replace("127.0.0.1", "localhost")}):  # fmt: skip
                    r = await s.post(f"{base}/echo", data=b"x", headers={**auth, **extra})
                    assert r.status == 403 and "cross-site" in await r.text(), extra
                    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                        await s.ws_connect(f"{base}/ws", headers={**auth, **extra})
                    assert refused.value.status == 403
            assert upstream.seen == 0
            fine = [{"Origin": base}, {"Origin": base + "/"}, {"Sec-Fetch-Site": "same-origin", "Origin": base},
                    {"Sec-Fetch-Site": "none"}, {},
                    {"Origin": "https://x.trycloudflare.com", "Host": "x.trycloudflare.com", "X-Forwarded-Proto": "https"},
                    {"Origin": "https://mine.trycloudflare.com"}, {"Origin": "https://MINE.trycloudflare.com:443"}]  # fmt: skip
            for extra in fine:
                assert (await s.post(f"{base}/echo", data=b"x", headers={**BEARER, **extra})).status == 200, (
                    extra
                )
            async with s.ws_connect(
                f"{base}/ws?clientId=o", headers={**BEARER, "Origin": "https://mine.trycloudflare.com"}
            ) as w:
                assert await w.receive_str() == "hello o"
            assert upstream.seen == len(fine) + 1

    run_with_proxy(test, origins=origins)


def test_a_token_link_clicked_on_another_site_still_opens_comfyui():
    """The notebook's printed link is a navigation from another site: the token proves it, the proxy answers it
    itself (cookie + a page that moves on from this origin, so the Strict cookie goes with the next request)."""

    async def test(base, upstream):
        async with aiohttp.ClientSession() as s:
            r = await s.get(
                f"{base}/?token={TOKEN}&x=1", headers={"Sec-Fetch-Site": "cross-site"}, allow_redirects=False
            )
            page = await r.text()
            assert r.status == 200 and 'http-equiv="refresh" content="0;url=/?x=1"' in page
            assert "SameSite=Strict" in r.headers["Set-Cookie"] and TOKEN not in page
            r = await s.get(f"{base}/?token=wrong", headers={"Sec-Fetch-Site": "cross-site"})
            assert r.status == 403
            assert upstream.seen == 0

    run_with_proxy(test)


def raw_request(port: int, header: bytes) -> int:
    """The status of a GET /hello whose extra header line is `header` (raw bytes, which aiohttp's client would not
    send), read off the wire."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + b"\r\nConnection: close\r\n\r\n"
        )
        return int(sock.recv(64).split()[1])


def test_credentials_that_are_not_utf8_are_401_not_500():
    async def test(base, upstream):
        port = URL(base).port
        for header in (b"Cookie: fluxkit_token=\xff\xfe", b"Authorization: Bearer \xff\xfeabc",
                       b"Authorization: Basic \xff\xfe==", b"Authorization: Basic " + base64.b64encode(b"u:\xff")):  # fmt: skip
            assert await asyncio.to_thread(raw_request, port, header) == 401, header
        assert upstream.seen == 0

    run_with_proxy(test)
