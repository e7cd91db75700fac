"""The launcher's token proxy against a stand-in upstream on 127.0.0.1 (what ComfyUI's frontend and scripts send
through the tunnel): the token guard, raw request targets, no shared limits one client can exhaust, per-read
timeouts, same-origin redirects, the Secure cookie behind https, and a 502 when ComfyUI is down."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import urllib.request

import aiohttp
import pytest
from proxy_standin import BEARER, MANY, TOKEN, basic, run_with_proxy
from yarl import URL

from fluxkit_tools import proxy


def test_guards_http_and_websocket():
    async def test(base, upstream):
        # unsafe=True: keep cookies from an IP-address host, as browsers do
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            assert (await s.get(f"{base}/hello")).status == 401
            assert (await s.get(f"{base}/hello?token=wrong")).status == 401
            assert (await s.post(f"{base}/echo", data=b"x")).status == 401
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await s.ws_connect(f"{base}/ws")
            assert refused.value.status == 401
            r = await s.get(f"{base}/hello?token={TOKEN}&a=1", allow_redirects=False)
            assert r.status == 302 and r.headers["Location"] == "/hello?a=1"
            cookie = r.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
            tunnel = {
                "Host": "x.trycloudflare.com",
                "X-Forwarded-Proto": "https",
                "Origin": "https://x.trycloudflare.com",
            }
            body = await (await s.get(f"{base}/hello?a=1", headers=tunnel)).json()
            assert body["origin"] == upstream.url  # rewritten for ComfyUI's origin check
            assert body["query"] == {"a": "1"} and body["cookie"] is None  # the token never reaches upstream
            payload = os.urandom(300_000)
            assert await (await s.post(f"{base}/echo", data=payload)).read() == payload
            async with s.ws_connect(f"{base}/ws?clientId=c1") as sock:
                assert (await sock.receive_str()) == "hello c1"
                await sock.send_str("ping")
                assert (await sock.receive_str()) == "echo ping"
        async with aiohttp.ClientSession() as script:  # no cookie: a script with a bearer token
            body = await (await script.get(f"{base}/hello", headers=BEARER)).json()
            assert body["auth"] is None

    run_with_proxy(test)


def test_basic_auth_with_the_token_as_password_for_http_and_websocket():
    """Any user name, the token as password: accepted for HTTP and /ws, never forwarded; wrong, empty or malformed
    credentials are 401 with a Basic challenge and never reach ComfyUI."""

    async def test(base, upstream):
        async with aiohttp.ClientSession() as s:
            body = await (await s.get(f"{base}/hello", headers=basic("fluxkit", TOKEN))).json()
            assert body["auth"] is None  # the Authorization header stops at the proxy
            assert (await s.get(f"{base}/hello", headers=basic("anyone", TOKEN))).status == 200
            async with s.ws_connect(f"{base}/ws?clientId=b1", headers=basic("fluxkit", TOKEN)) as sock:
                assert (await sock.receive_str()) == "hello b1"
            for bad in (basic("fluxkit", "wrong"), basic("fluxkit", ""), basic(TOKEN, ""),
                        basic("fluxkit", TOKEN + "x"), {"Authorization": "Basic !!!not-base64"},
                        {"Authorization": "Basic " + base64.b64encode(TOKEN.encode()).decode()},
                        {"Authorization": f"Digest {TOKEN}"}):  # fmt: skip
                r = await s.get(f"{base}/hello", headers=bad)
                assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Basic realm="), bad
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await s.ws_connect(f"{base}/ws", headers=bad)
                assert refused.value.status == 401
        # a client that answers the challenge (urllib's HTTPBasicAuthHandler sends nothing until it sees one)
        manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        manager.add_password(None, base, "fluxkit", TOKEN)
        opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(manager))
        text = await asyncio.to_thread(lambda: opener.open(f"{base}/hello", timeout=30).read())
        assert json.loads(text)["auth"] is None
        assert (
            upstream.seen == 4
        )  # the two GETs, the websocket and urllib's answer; no refused request got through

    run_with_proxy(test)


def test_header_credential_reads_bearer_and_basic_passwords_only():
    basic = "Basic " + base64.b64encode(f"u:{TOKEN}:with:colons".encode()).decode()
    assert (
        proxy.header_credential(basic) == f"{TOKEN}:with:colons"
    )  # the password is everything after the first ':'
    assert proxy.header_credential(f"Bearer {TOKEN}") == TOKEN
    assert proxy.header_credential("Basic " + base64.b64encode(b"no-colon").decode()) == ""
    assert proxy.header_credential("Basic %%%") == proxy.header_credential("") == ""


def test_request_target_is_forwarded_as_received():
    # ComfyUI's frontend saves and opens workflows as /api/userdata/workflows%2Fmy.json: decoding %2F (or %3F, %23,
    # %25) before forwarding makes another path, which no ComfyUI route matches.
    target = "/api/userdata/workflows%2Fmy%20flow%3F%23%25.json?overwrite=true&x=a%26b%3Dc"

    async def test(base, upstream):
        async with aiohttp.ClientSession() as s:
            r = await s.get(URL(base + target, encoded=True), headers=BEARER)
            assert r.status == 200, await r.text()
            body = await r.json()
            assert body["raw_path"] == target
            assert body["query"] == {"overwrite": "true", "x": "a&b=c"}
            # the token's redirect keeps the target as it was too
            r = await s.get(URL(f"{base}{target}&token={TOKEN}", encoded=True), allow_redirects=False)
            assert r.status == 302 and r.headers["Location"] == target

    run_with_proxy(test)


def test_token_parameter_is_removed_wherever_it_stands():
    assert proxy.strip_token(f"/a%2Fb?token={TOKEN}") == "/a%2Fb"
    assert proxy.strip_token(f"/p?x=1&token={TOKEN}&y=%20") == "/p?x=1&y=%20"
    assert proxy.strip_token("/p?tokens=1&mytoken=2") == "/p?tokens=1&mytoken=2"


def test_slow_requests_do_not_block_another_client():
    async def test(base, upstream):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
            slow = [asyncio.ensure_future(s.get(f"{base}/slow", headers=BEARER)) for _ in range(MANY)]
            for _ in range(600):  # bounded: until all of them are held upstream
                if upstream.holding == MANY:
                    break
                await asyncio.sleep(0.05)
            assert upstream.holding == MANY
            # the slow ones are released only after this answer: with a shared pool it would never come
            fast = await asyncio.wait_for(s.get(f"{base}/hello", headers=BEARER), timeout=20)
            assert fast.status == 200 and not any(t.done() for t in slow)
            upstream.release.set()
            assert [r.status for r in await asyncio.gather(*slow)] == [200] * MANY

    run_with_proxy(test)


def test_open_websockets_do_not_block_http():
    async def test(base, upstream):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
            socks = [await s.ws_connect(f"{base}/ws?clientId=c{i}", headers=BEARER) for i in range(MANY)]
            assert [await w.receive_str() for w in socks[:3]] == ["hello c0", "hello c1", "hello c2"]
            r = await asyncio.wait_for(s.get(f"{base}/hello", headers=BEARER), timeout=20)
            assert r.status == 200
            for w in socks:
                await w.close()

    run_with_proxy(test)


def test_timeouts_are_per_read_not_per_response():
    async def test(base, upstream):
        async with aiohttp.ClientSession() as s:
            # 12 chunks 0.25 s apart: 3 s in all, three times the idle limit, and never idle for long
            r = await s.get(f"{base}/stream?gap=0.25&chunks=12", headers=BEARER)
            assert (await r.text()).split() == [str(i) for i in range(12)]
            # silent for longer than the idle limit: cut, and the client sees a truncated body, not a complete one
            r = await s.get(f"{base}/stream?gap=2.5&chunks=2", headers=BEARER)
            assert r.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await r.read()

    run_with_proxy(test, timeouts=proxy.Timeouts(connect=5, idle=1.0))


@pytest.mark.parametrize("path", ["//evil.example/", "/\\evil.example/", "///evil.example/x"])
def test_token_redirect_stays_on_this_origin(path):
    async def test(base, upstream):
        async with aiohttp.ClientSession() as s:
            r = await s.get(URL(f"{base}{path}?token={TOKEN}", encoded=True), allow_redirects=False)
            assert r.status == 302
            location = r.headers["Location"]
            assert location.startswith("/") and not location.startswith(("//", "/\\"))
            assert URL(base).join(URL(location)).host == "127.0.0.1"

    run_with_proxy(test)


def test_cookie_is_secure_behind_https():
    async def test(base, upstream):
        async with aiohttp.ClientSession() as s:
            r = await s.get(
                f"{base}/?token={TOKEN}", headers={"X-Forwarded-Proto": "https"}, allow_redirects=False
            )
            assert r.status == 302 and "Secure" in r.headers["Set-Cookie"]
            r = await s.get(f"{base}/?token={TOKEN}", allow_redirects=False)
            assert "Secure" not in r.headers["Set-Cookie"]  # plain http on loopback (--no-tunnel)

    run_with_proxy(test)


def test_comfyui_down_is_a_502_with_one_line():
    async def test(base, upstream):
        async with aiohttp.ClientSession() as s:
            r = await s.get(f"{base}/system_stats", headers=BEARER)
            text = await r.text()
            assert r.status == 502
            assert (
                text.startswith("FluxKit proxy: ComfyUI at http://127.0.0.1:") and "is not answering" in text
            )
            assert text.count("\n") == 1 and "Traceback" not in text
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await s.ws_connect(f"{base}/ws", headers=BEARER)
            assert refused.value.status == 502

    run_with_proxy(test, upstream_up=False)


def test_short_token_refused():
    with pytest.raises(ValueError, match="too short"):
        proxy.make_app("http://127.0.0.1:1", "abc")
