"""The notebook launcher: cloudflared's URL read from what the real one prints (a stand-in that prints it), and the
launch's lifetime with stand-in ComfyUI and cloudflared processes (SIGTERM/SIGHUP stop all three, a killed launcher
takes its children along, a port already in use is refused); then the whole path against a real ComfyUI."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import subprocess
import sys
import time

import aiohttp
import pytest
from aiohttp import web

from fluxkit_comfy.inprocess import REPO_ROOT
from fluxkit_comfy.server import free_port
from fluxkit_tools import launch

TOKEN = "t0k3n-for-tests-0123456789"
URL = "https://gentle-river-moon-seven.trycloudflare.com"

STAND_IN_CLOUDFLARED = """#!{python}
import os, sys, time, pathlib
pathlib.Path({args_file!r}).write_text(" ".join(sys.argv[1:]))
pathlib.Path({pid_file!r}).write_text(str(os.getpid()))
for line in [
    "2026-11-25T10:00:00Z INF Thank you for trying Cloudflare Tunnel. Doing so, without a Cloudflare account, is a quick way to experiment and try it out.",
    "2026-11-25T10:00:00Z INF Requesting new quick Tunnel on trycloudflare.com...",
    "2026-11-25T10:00:01Z INF +--------------------------------------------------------------------------------------------+",
    "2026-11-25T10:00:01Z INF |  Your quick Tunnel has been created! Visit it at (it may take some time to be reachable):  |",
    "2026-11-25T10:00:01Z INF |  {url}                                                |",
    "2026-11-25T10:00:01Z INF +--------------------------------------------------------------------------------------------+",
]:
    print(line, file=sys.stderr, flush=True)
time.sleep(600)
"""

# What the launcher runs as `python main.py --listen 127.0.0.1 --port N ...` in the ComfyUI folder.
STAND_IN_COMFYUI = """
import os, pathlib, sys
from aiohttp import web
pathlib.Path("pid").write_text(str(os.getpid()))
port = int(sys.argv[sys.argv.index("--port") + 1])
async def stats(request):
    return web.json_response({"system": {"comfyui_version": "stand-in"}})
app = web.Application()
app.router.add_get("/system_stats", stats)
web.run_app(app, host="127.0.0.1", port=port, print=None)
"""


def stand_in_cloudflared(tmp_path, url=URL):
    exe = tmp_path / "cloudflared"
    exe.write_text(STAND_IN_CLOUDFLARED.format(
        python=sys.executable, args_file=str(tmp_path / "args"), pid_file=str(tmp_path / "cloudflared.pid"), url=url,
    ))  # fmt: skip
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


def stand_in_comfyui(tmp_path):
    folder = tmp_path / "ComfyUI"
    folder.mkdir()
    (folder / "main.py").write_text(STAND_IN_COMFYUI)
    return folder


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by a parent that is itself gone) counts as dead
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture()
def launch_stand_ins(tmp_path):
    """Start the launcher on stand-in ComfyUI and cloudflared; returns (launcher, ComfyUI pid, cloudflared pid).
    Whatever is still running at the end is killed, so a failing test leaves nothing behind."""
    started: list[int] = []

    def start():
        comfy_dir = stand_in_comfyui(tmp_path)
        cmd = [sys.executable, "-m", "fluxkit_tools.launch", "--comfyui", str(comfy_dir), "--cpu", "--token", TOKEN,
               "--cloudflared", str(stand_in_cloudflared(tmp_path)), "--port", str(free_port())]  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(proc.pid)
        line = proc.stdout.readline()
        assert line.strip() == f"FluxKit: open {URL}/?token={TOKEN}", proc.stderr.read() if not line else line
        pids = int((comfy_dir / "pid").read_text()), int((tmp_path / "cloudflared.pid").read_text())
        started.extend(pids)
        return (proc, *pids)

    yield start
    for pid in started:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_tunnel_url_parsed_from_cloudflared_output(tmp_path):
    proc, url = launch.start_tunnel(str(stand_in_cloudflared(tmp_path)), "http://127.0.0.1:4321")
    try:
        assert url == URL
        assert (tmp_path / "args").read_text() == "tunnel --no-autoupdate --url http://127.0.0.1:4321"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


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


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signal_stops_comfyui_proxy_and_tunnel(launch_stand_ins, sig):
    proc, comfy_pid, tunnel_pid = launch_stand_ins()
    assert alive(comfy_pid) and alive(tunnel_pid)
    proc.send_signal(sig)  # what a notebook's "restart kernel" (SIGTERM) or a closed terminal (SIGHUP) sends
    assert proc.wait(timeout=30) == 0
    wait_for(lambda: not alive(comfy_pid) and not alive(tunnel_pid), 20, "ComfyUI and cloudflared to stop")


def test_killed_launcher_takes_its_children_along(launch_stand_ins):
    proc, comfy_pid, tunnel_pid = launch_stand_ins()
    proc.kill()  # SIGKILL: no handler runs; the kernel signals the children (PR_SET_PDEATHSIG)
    proc.wait(timeout=10)
    wait_for(lambda: not alive(comfy_pid) and not alive(tunnel_pid), 20, "ComfyUI and cloudflared to stop")


def test_launch_refuses_a_port_in_use(tmp_path):
    async def go():
        port = free_port()

        async def stats(request):
            return web.json_response({"system": {}})

        app = web.Application()  # a leftover server on ComfyUI's port, answering its health check
        app.router.add_get("/system_stats", stats)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            cmd = [sys.executable, "-m", "fluxkit_tools.launch", "--comfyui", str(stand_in_comfyui(tmp_path)),
                   "--no-tunnel", "--token", TOKEN, "--port", str(port)]  # fmt: skip
            child = await asyncio.create_subprocess_exec(
                *cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            out, err = await asyncio.wait_for(child.communicate(), timeout=60)
            return child.returncode, out.decode(), err.decode()
        finally:
            await runner.cleanup()

    rc, out, err = asyncio.run(go())
    assert rc == 1 and "FluxKit: open" not in out
    assert "already in use" in err and "earlier launch" in err
    assert not (tmp_path / "ComfyUI" / "pid").exists()  # no ComfyUI was started either


@pytest.mark.comfyui
def test_launcher_with_real_comfyui(comfyui_path, tmp_path):
    exe = stand_in_cloudflared(tmp_path)
    proxy_port, comfy_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "fluxkit_tools.launch", "--comfyui", str(comfyui_path), "--cpu", "--cloudflared", str(exe),
           "--token", TOKEN, "--proxy-port", str(proxy_port), "--port", str(comfy_port)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = ""
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and "FluxKit: open" not in line:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "launcher exited"
        assert line.strip() == f"FluxKit: open {URL}/?token={TOKEN}"
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
                r = await s.post(f"{base}/prompt", json={"prompt": {}}, headers={"Origin": URL})
                assert r.status == 400 and (await r.json())["error"]["type"] == "prompt_no_outputs"
            async with aiohttp.ClientSession() as direct:  # what the rewrite avoids
                r = await direct.post(
                    f"http://127.0.0.1:{comfy_port}/prompt", json={"prompt": {}}, headers={"Origin": URL}
                )
                assert r.status == 403

        asyncio.run(go())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", comfy_port), timeout=2).close()
