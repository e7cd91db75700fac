"""Start ComfyUI for a cloud notebook: ComfyUI on loopback, the token proxy in front, a cloudflared quick tunnel
to the proxy, and one line with the URL to open.

    python -m fluxkit_tools.launch --comfyui /mnt/workspace/ComfyUI            # GPU machine
    python -m fluxkit_tools.launch --no-tunnel --cpu                           # local check, proxy only

ComfyUI listens on 127.0.0.1 only; the tunnel (`cloudflared tunnel --url http://127.0.0.1:<proxy>`) always points
at the token proxy, never at ComfyUI, so a leaked tunnel URL alone gives nothing. The token is random (or
`--token`/`$FLUXKIT_TOKEN`), printed once inside the URL. Ctrl-C, SIGTERM (a notebook's "restart kernel") and
SIGHUP stop all three; ComfyUI and cloudflared also die with the launcher if it is killed outright. A port that is
already in use (a ComfyUI left from an earlier launch) is refused, never attached to.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import fluxkit_cli as cli
from fluxkit_comfy.inprocess import find_comfyui
from fluxkit_comfy.server import ComfyServer, die_with_parent, free_port

from . import proxy

TUNNEL_URL = re.compile(r"https://[-a-z0-9]+\.trycloudflare\.com")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)  # notebook "restart kernel" sends SIGTERM


class TunnelError(RuntimeError):
    """cloudflared is missing, exited, or printed no URL (its last lines are in the message)."""


def spawn_tunnel(cloudflared: str, target: str) -> subprocess.Popen:
    """Start `cloudflared tunnel --url target` (it dies with this process: see `die_with_parent`)."""
    exe = shutil.which(cloudflared) or cloudflared
    if not Path(exe).is_file():
        raise TunnelError(
            f"cloudflared not found ({cloudflared!r}): install it (https://github.com/cloudflare/cloudflared/releases) "
            "or pass --cloudflared PATH; --no-tunnel serves the proxy on loopback only"
        )
    return subprocess.Popen(
        [exe, "tunnel", "--no-autoupdate", "--url", target], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, bufsize=1, preexec_fn=die_with_parent,
    )  # fmt: skip


def wait_tunnel_url(proc: subprocess.Popen, timeout_s: float = 60) -> str:
    """The public URL cloudflared prints; its log is read on by a thread so the pipe never fills and blocks it."""
    lines: queue.Queue[str | None] = queue.Queue()
    found = threading.Event()

    # after the URL, lines are only read (not kept): a long session's log costs no memory
    def drain() -> None:
        for line in proc.stdout:
            if not found.is_set():
                lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            raise TunnelError("cloudflared exited before printing a URL:\n" + "".join(seen[-20:]))
        seen.append(line)
        if match := TUNNEL_URL.search(line):
            found.set()
            return match.group(0)
    raise TunnelError(f"cloudflared printed no URL within {timeout_s:.0f} s:\n" + "".join(seen[-20:]))


def start_tunnel(cloudflared: str, target: str, timeout_s: float = 60) -> tuple[subprocess.Popen, str]:
    """Run `cloudflared tunnel --url target` and return it with the public URL it prints."""
    proc = spawn_tunnel(cloudflared, target)
    try:
        return proc, wait_tunnel_url(proc, timeout_s)
    except TunnelError:
        proc.terminate()
        proc.wait(timeout=10)
        raise


async def _until(stop: asyncio.Event, work):
    """Await `work` unless `stop` is set first (then None)."""
    job, halt = asyncio.ensure_future(work), asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({job, halt}, return_when=asyncio.FIRST_COMPLETED)
    halt.cancel()
    if job in done:
        return job.result()
    job.cancel()
    return None


async def serve(args) -> int:
    comfyui = Path(args.comfyui) if args.comfyui else find_comfyui()
    if comfyui is None:
        print("no ComfyUI: pass --comfyui PATH or set COMFYUI_PATH", file=sys.stderr)
        return 2
    token = args.token or os.environ.get("FLUXKIT_TOKEN") or secrets.token_urlsafe(24)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:  # stop ComfyUI, the proxy and cloudflared on each, not only on Ctrl-C
        loop.add_signal_handler(sig, stop.set)
    server = ComfyServer(comfyui, None, args.comfy_args, cpu=args.cpu, port=args.port, timeout_s=args.timeout)
    runner = tunnel = None
    try:
        server.spawn()  # in this thread, which lives as long as the server (it dies with it)
        if await _until(stop, asyncio.to_thread(server.wait_ready)) is None:
            return 0
        proxy_port = args.proxy_port or free_port()
        origins = proxy.Origins()
        runner = await proxy.start(server.url, token, proxy_port, host=args.proxy_host, origins=origins)
        local = f"http://127.0.0.1:{proxy_port}"
        if args.no_tunnel:
            print(f"FluxKit: open {local}/?token={token}", flush=True)
        else:
            tunnel = spawn_tunnel(args.cloudflared, local)
            public = await _until(stop, asyncio.to_thread(wait_tunnel_url, tunnel))
            if public is None:
                return 0
            origins.add(public)  # the browser's Origin there, whatever Host cloudflared passes on
            print(f"FluxKit: open {public}/?token={token}", flush=True)
            print(
                "(anyone with this full URL can use this ComfyUI; without the token they get 401)\n"
                f"scripts: export FLUXKIT_TOKEN={token} FLUXKIT_TOKEN_SERVER={public}  "
                "(or Basic auth, the token as password, in a --server-file URL)",
                flush=True,
            )
        while server.alive() and (tunnel is None or tunnel.poll() is None):
            await _until(stop, asyncio.sleep(1))
            if stop.is_set():
                print("FluxKit: stopping ComfyUI, the proxy and the tunnel", file=sys.stderr)
                return 0
        print("FluxKit: ComfyUI or the tunnel stopped; shutting down", file=sys.stderr)
        return 1
    finally:
        if tunnel is not None and tunnel.poll() is None:
            tunnel.terminate()
            tunnel.wait(timeout=10)
        if runner is not None:
            await runner.cleanup()
        server.stop()
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


def build_parser() -> argparse.ArgumentParser:
    parser = cli.Parser(prog="python -m fluxkit_tools.launch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--comfyui", help="ComfyUI checkout (default $COMFYUI_PATH or ~/ComfyUI)")
    parser.add_argument("--port", type=int, default=8188, help="ComfyUI's port on 127.0.0.1")
    parser.add_argument("--proxy-port", type=int, default=0, help="the proxy's port (default: a free one)")
    parser.add_argument(
        "--proxy-host", default="127.0.0.1", help="where the proxy listens (the tunnel is local)"
    )
    parser.add_argument("--token", help="access token (default: $FLUXKIT_TOKEN or a random one)")
    parser.add_argument("--cloudflared", default="cloudflared", help="cloudflared executable")
    parser.add_argument("--no-tunnel", action="store_true", help="proxy on loopback only, no public URL")
    parser.add_argument("--cpu", action="store_true", help="run ComfyUI on the CPU")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for ComfyUI to start")
    parser.add_argument("comfy_args", nargs="*", help="extra ComfyUI arguments, after --")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(serve(args))
    except KeyboardInterrupt:
        return 0
    except RuntimeError as e:
        print(f"FluxKit launcher: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "python -m fluxkit_tools.launch"))
