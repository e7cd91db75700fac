"""Start ComfyUI for a cloud notebook: ComfyUI on loopback, the token proxy in front, a cloudflared quick tunnel
to the proxy, and one line with the URL to open.

    python -m fluxkit_tools.launch --comfyui /mnt/workspace/ComfyUI            # GPU machine
    python -m fluxkit_tools.launch --no-tunnel --cpu                           # local check, proxy only

ComfyUI listens on 127.0.0.1 only; the tunnel (`cloudflared tunnel --url http://127.0.0.1:<proxy>`) always points
at the token proxy, never at ComfyUI, so a leaked tunnel URL alone gives nothing. The token is random (or
`--token`/`$FLUXKIT_TOKEN`), printed once inside the URL. Ctrl-C (or the notebook's stop button) stops all three.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from fluxkit_comfy.inprocess import find_comfyui
from fluxkit_comfy.server import ComfyServer, free_port

from . import proxy

TUNNEL_URL = re.compile(r"https://[-a-z0-9]+\.trycloudflare\.com")


def start_tunnel(cloudflared: str, target: str, timeout_s: float = 60) -> tuple[subprocess.Popen, str]:
    """Run `cloudflared tunnel --url target` and return it with the public URL it prints."""
    exe = shutil.which(cloudflared) or cloudflared
    if not Path(exe).is_file():
        raise RuntimeError(
            f"cloudflared not found ({cloudflared!r}): install it (https://github.com/cloudflare/cloudflared/releases) "
            "or pass --cloudflared PATH; --no-tunnel serves the proxy on loopback only"
        )
    proc = subprocess.Popen(
        [exe, "tunnel", "--no-autoupdate", "--url", target], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, bufsize=1,
    )  # fmt: skip
    lines: list[str] = []

    async def read_url() -> str:
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, proc.stdout.readline)
            if not line:
                raise RuntimeError("cloudflared exited before printing a URL:\n" + "".join(lines[-20:]))
            lines.append(line)
            if match := TUNNEL_URL.search(line):
                return match.group(0)

    try:
        url = asyncio.run(asyncio.wait_for(read_url(), timeout_s))
    except (RuntimeError, TimeoutError):
        proc.terminate()
        raise
    # keep reading its log so the pipe never fills up and blocks it
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc, url


async def serve(args) -> int:
    comfyui = Path(args.comfyui) if args.comfyui else find_comfyui()
    if comfyui is None:
        print("no ComfyUI: pass --comfyui PATH or set COMFYUI_PATH", file=sys.stderr)
        return 2
    token = args.token or os.environ.get("FLUXKIT_TOKEN") or secrets.token_urlsafe(24)
    server = ComfyServer(comfyui, None, args.comfy_args, cpu=args.cpu, port=args.port, timeout_s=args.timeout)
    await asyncio.to_thread(server.start)
    proxy_port = args.proxy_port or free_port()
    runner = await proxy.start(server.url, token, proxy_port, host=args.proxy_host)
    local = f"http://127.0.0.1:{proxy_port}"
    tunnel = None
    try:
        if args.no_tunnel:
            print(f"FluxKit: open {local}/?token={token}", flush=True)
        else:
            tunnel, public = await asyncio.to_thread(start_tunnel, args.cloudflared, local)
            print(f"FluxKit: open {public}/?token={token}", flush=True)
            print(
                "(anyone with this full URL can use this ComfyUI; without the token they get 401)", flush=True
            )
        while server.alive() and (tunnel is None or tunnel.poll() is None):
            await asyncio.sleep(1)
        print("FluxKit: ComfyUI or the tunnel stopped; shutting down", file=sys.stderr)
        return 1
    finally:
        if tunnel is not None:
            tunnel.terminate()
            tunnel.wait(timeout=10)
        await runner.cleanup()
        server.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    raise SystemExit(main())
