"""The notebook launcher's guard: the token proxy (HTTP and websocket, against a loopback upstream of our own and
against a real ComfyUI), and the tunnel start-up with a stand-in cloudflared that prints what the real one prints."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time

import aiohttp
import pytest
from aiohttp import web

from fluxkit_comfy.inprocess import REPO_ROOT
from fluxkit_comfy.server import free_port
from fluxkit_tools import launch, proxy

TOKEN = "t0k3n-for-tests-0123456789"

STAND_IN_CLOUDFLARED = """#!{python}
import sys, time, pathlib
pathlib.Path({args_file!r}).write_text(" ".join(sys.argv[1:]))
for line in [
    "2026-11-25T10:00:00Z INF Thank you for trying Cloudflare Tunnel. Doing so, without a Cloudflare account, is a quick way to experiment and try it out.",
    "2026-11-25T10:00:00Z INF Requesting new quick Tunnel on trycloudflare.com...",
    "2026-11-25T10:00:01Z INF +--------------------------------------------------------------------------------------------+",
    "2026-11-25T10:00:01Z INF |  Your quick Tunnel has been created! Visit it at (it may take some time to be reachable):  |",
    "2026-11-25T10:00:01Z INF |  {url}                                                |",
    "2026-11-25T10:00:01Z INF +--------------------------------------------------------------------------------------------+",
]:
    print(line, file=sys.stderr, flush=True)
time.sleep(3600)
"""


def stand_in(tmp_path, url="https://gentle-river-moon-seven.trycloudflare.com"):
    exe = tmp_path / "cloudflared"
    exe.write_text(
        STAND_IN_CLOUDFLARED.format(python=sys.executable, args_file=str(tmp_path / "args"), url=url)
    )
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


async def upstream_app(port: int) -> web.AppRunner:
    async def hello(request):
        return web.json_response({"origin": request.headers.get("Origin"), "auth": request.headers.get("Authorization"),
                                  "query": dict(request.query), "cookie": request.headers.get("Cookie")})  # fmt: skip

    async def echo(request):
        return web.Response(body=await request.read())

    async def ws(request):
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        await sock.send_str("hello " + request.query.get("clientId", ""))
        async for msg in sock:
            await sock.send_str("echo " + msg.data)
        return sock

    app = web.Application()
    app.add_routes([web.get("/hello", hello), web.post("/echo", echo), web.get("/ws", ws)])
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def test_proxy_guards_http_and_websocket():
    async def go():
        up_port, px_port = free_port(), free_port()
        up = await upstream_app(up_port)
        px = await proxy.start(f"http://127.0.0.1:{up_port}", TOKEN, px_port)
        base = f"http://127.0.0.1:{px_port}"
        try:
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
                assert "HttpOnly" in r.headers["Set-Cookie"] and "SameSite=Strict" in r.headers["Set-Cookie"]
                # the session now holds the cookie
                body = await (
                    await s.get(f"{base}/hello?a=1", headers={"Origin": "https://x.trycloudflare.com"})
                ).json()
                assert body["origin"] == f"http://127.0.0.1:{up_port}"  # rewritten for ComfyUI's origin check
                assert (
                    body["query"] == {"a": "1"} and body["cookie"] is None
                )  # the token never reaches upstream
                payload = os.urandom(300_000)
                assert await (await s.post(f"{base}/echo", data=payload)).read() == payload
                async with s.ws_connect(f"{base}/ws?clientId=c1") as sock:
                    assert (await sock.receive_str()) == "hello c1"
                    await sock.send_str("ping")
                    assert (await sock.receive_str()) == "echo ping"
            async with aiohttp.ClientSession() as script:  # no cookie: a script with a bearer token
                body = await (
                    await script.get(f"{base}/hello", headers={"Authorization": f"Bearer {TOKEN}"})
                ).json()
                assert body["auth"] is None
        finally:
            await px.cleanup()
            await up.cleanup()

    asyncio.run(go())


def test_short_token_refused():
    with pytest.raises(ValueError, match="too short"):
        proxy.make_app("http://127.0.0.1:1", "abc")


def test_tunnel_url_parsed_from_cloudflared_output(tmp_path):
    proc, url = launch.start_tunnel(str(stand_in(tmp_path)), "http://127.0.0.1:4321")
    try:
        assert url == "https://gentle-river-moon-seven.trycloudflare.com"
        assert (tmp_path / "args").read_text() == "tunnel --no-autoupdate --url http://127.0.0.1:4321"
    finally:
        proc.terminate()


def test_tunnel_without_url_is_an_error(tmp_path):
    exe = tmp_path / "cloudflared"
    exe.write_text(
        f"#!{sys.executable}\nimport sys\nprint('ERR failed to request quick Tunnel', file=sys.stderr)\n"
    )
    exe.chmod(0o755)
    with pytest.raises(RuntimeError, match="failed to request quick Tunnel"):
        launch.start_tunnel(str(exe), "http://127.0.0.1:1")
    with pytest.raises(RuntimeError, match="cloudflared not found"):
        launch.start_tunnel(str(tmp_path / "missing"), "http://127.0.0.1:1")


@pytest.mark.comfyui
def test_launcher_with_real_comfyui(comfyui_path, tmp_path):
    comfyui = comfyui_path
    exe = stand_in(tmp_path)
    proxy_port, comfy_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "fluxkit_tools.launch", "--comfyui", str(comfyui), "--cpu", "--cloudflared", str(exe),
           "--token", TOKEN, "--proxy-port", str(proxy_port), "--port", str(comfy_port)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = ""
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and "FluxKit: open" not in line:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "launcher exited"
        assert (
            line.strip() == f"FluxKit: open https://gentle-river-moon-seven.trycloudflare.com/?token={TOKEN}"
        )
        assert (
            (tmp_path / "args").read_text().endswith(f"--url http://127.0.0.1:{proxy_port}")
        )  # never ComfyUI

        async def go():
            base = f"http://127.0.0.1:{proxy_port}"
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
                assert (await s.get(f"{base}/")).status == 401
                assert (await s.get(f"{base}/system_stats")).status == 401
                page = await s.get(f"{base}/?token={TOKEN}")  # follows the redirect with the cookie
                assert page.status == 200 and "<html" in (await page.text()).lower()
                stats = await (await s.get(f"{base}/system_stats")).json()
                assert "comfyui_version" in stats["system"]
                async with s.ws_connect(f"{base}/ws?clientId=abc") as sock:
                    first = await sock.receive_json(timeout=30)
                    assert first["type"] == "status"
                # a browser on the tunnel's domain: ComfyUI's origin check must not reject it
                r = await s.post(
                    f"{base}/prompt",
                    json={"prompt": {}},
                    headers={"Origin": "https://gentle-river-moon-seven.trycloudflare.com"},
                )
                assert r.status == 400 and (await r.json())["error"]["type"] == "prompt_no_outputs"
            async with aiohttp.ClientSession() as direct:  # what the rewrite avoids
                r = await direct.post(
                    f"http://127.0.0.1:{comfy_port}/prompt",
                    json={"prompt": {}},
                    headers={"Origin": "https://gentle-river-moon-seven.trycloudflare.com"},
                )
                assert r.status == 403

        asyncio.run(go())
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    with pytest.raises(OSError):
        import socket

        socket.create_connection(("127.0.0.1", comfy_port), timeout=2).close()
