"""The launcher's token proxy vs talking to the server directly, on loopback: one 100 MB `/view` download and 200
concurrent small requests, each direct and through the proxy, alternated, medians over repeats.

    python -m bench.bench_proxy [--mb 100] [--concurrent 200] [--repeats 5]
    python -m bench --only proxy

A stand-in upstream (an aiohttp server answering `/view` with N MB and `/system_stats` with a small JSON body) and
the proxy each run in a process of their own, as ComfyUI and the launcher do; the client is this process.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import urllib.request

import aiohttp

import fluxkit_cli as cli
from fluxkit_comfy.inprocess import REPO_ROOT
from fluxkit_comfy.server import free_port

from . import BenchFailed

TOKEN = "bench-token-0123456789abcdef"


def serve_upstream(port: int, mb: int) -> None:
    from aiohttp import web

    block = bytes(range(256)) * 4096  # 1 MiB

    async def view(request):
        response = web.StreamResponse(
            headers={"Content-Type": "image/png", "Content-Length": str(mb * len(block))}
        )
        await response.prepare(request)
        for _ in range(mb):
            await response.write(block)
        return response

    async def stats(request):
        return web.json_response({"system": {"comfyui_version": "stand-in"}, "devices": []})

    app = web.Application()
    app.add_routes([web.get("/view", view), web.get("/system_stats", stats)])
    web.run_app(app, host="127.0.0.1", port=port, print=None)


def serve_proxy(port: int, upstream: str) -> None:
    from fluxkit_tools import proxy

    async def main():
        await proxy.start(upstream, TOKEN, port)
        await asyncio.Event().wait()

    asyncio.run(main())


def _wait(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            req = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
            with urllib.request.urlopen(req, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise BenchFailed(f"{url} did not answer")


async def _download(session: aiohttp.ClientSession, url: str) -> tuple[float, int]:
    t = time.perf_counter()
    n = 0
    async with session.get(url) as r:
        async for chunk in r.content.iter_chunked(1 << 16):
            n += len(chunk)
    return time.perf_counter() - t, n


async def _burst(session: aiohttp.ClientSession, url: str, n: int) -> float:
    async def one():
        async with session.get(url) as r:
            await r.read()
            return r.status

    t = time.perf_counter()
    statuses = await asyncio.gather(*(one() for _ in range(n)))
    assert statuses == [200] * n, set(statuses)
    return time.perf_counter() - t


async def _measure(direct: str, proxied: str, mb: int, concurrent: int, repeats: int) -> dict:
    times: dict[str, list[float]] = {
        k: [] for k in ("view_direct", "view_proxy", "burst_direct", "burst_proxy")
    }
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), headers=headers) as s:
        for _ in range(repeats):  # alternate, so drift on a shared machine hits both sides alike
            for side, base in (("direct", direct), ("proxy", proxied)):
                seconds, n = await _download(s, f"{base}/view")
                assert n == mb * (1 << 20), n
                times[f"view_{side}"].append(seconds)
                times[f"burst_{side}"].append(await _burst(s, f"{base}/system_stats", concurrent))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        **{f"{k}_s": v for k, v in med.items()},
        "view_mb_per_s_direct": mb / med["view_direct"],
        "view_mb_per_s_proxy": mb / med["view_proxy"],
        "view_ratio": med["view_proxy"] / med["view_direct"],
        "burst_ratio": med["burst_proxy"] / med["burst_direct"],
        "spread": {k: [min(v), max(v)] for k, v in times.items()},
    }


def run(mb: int = 100, concurrent: int = 200, repeats: int = 5) -> dict:
    up_port, px_port = free_port(), free_port()
    py = [sys.executable, "-m", "bench.bench_proxy"]
    procs = [
        subprocess.Popen([*py, "--serve", "upstream", "--port", str(up_port), "--mb", str(mb)], cwd=REPO_ROOT),
        subprocess.Popen([*py, "--serve", "proxy", "--port", str(px_port), "--upstream", f"http://127.0.0.1:{up_port}"],
                         cwd=REPO_ROOT),
    ]  # fmt: skip
    try:
        direct, proxied = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{px_port}"
        _wait(f"{direct}/system_stats")
        _wait(f"{proxied}/system_stats")
        result = asyncio.run(_measure(direct, proxied, mb, concurrent, repeats))
        return {"mb": mb, "concurrent": concurrent, "repeats": repeats, **result}
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)


def print_result(r: dict) -> None:
    print(f"\nToken proxy vs direct, loopback, medians of {r['repeats']} alternated runs")
    print(f"{'case':<28} {'direct s':>9} {'proxy s':>9} {'ratio':>6}")
    print(
        f"{'GET /view ' + str(r['mb']) + ' MB':<28} {r['view_direct_s']:>9.3f} {r['view_proxy_s']:>9.3f} {r['view_ratio']:>6.2f}"
    )
    print(
        f"{str(r['concurrent']) + ' concurrent small GETs':<28} {r['burst_direct_s']:>9.3f} {r['burst_proxy_s']:>9.3f} {r['burst_ratio']:>6.2f}"
    )
    print(
        f"throughput: direct {r['view_mb_per_s_direct']:.0f} MB/s, proxy {r['view_mb_per_s_proxy']:.0f} MB/s"
    )


def main(argv: list[str] | None = None) -> int:
    ap = cli.Parser(prog="python -m bench.bench_proxy", description=__doc__.split("\n\n")[0])
    ap.add_argument("--serve", choices=["upstream", "proxy"], help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--upstream", help=argparse.SUPPRESS)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--concurrent", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    if args.serve == "upstream":
        serve_upstream(args.port, args.mb)
    elif args.serve == "proxy":
        serve_proxy(args.port, args.upstream)
    else:
        print_result(run(args.mb, args.concurrent, args.repeats))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "python -m bench.bench_proxy"))
