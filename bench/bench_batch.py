"""Batch throughput: items per minute of the thin-set `inpainting_turbo_8step` batch on one ComfyUI server and on
two (the same client, `--server` once vs twice), in the same process, the servers warm.

    python -m bench.bench_batch [--items 8] [--steps 2]
    python -m bench --only batch

Both servers boot first and each runs one warm-up item (model loads); then the batch runs on server A alone and on
A + B, each into a fresh output folder; twice: with torch's default threads per server (on a CPU the two servers
then fight over the same cores) and with one thread per server (each owns a core, as each owns a GPU on a GPU
machine). The client's own work per item is small: two uploads, a websocket, one download.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import fluxkit_cli as cli
from fluxkit_batch.jobs import RunSettings
from fluxkit_batch.run import run_batch
from fluxkit_batch.workers import HttpWorker
from fluxkit_comfy.inprocess import find_comfyui
from fluxkit_comfy.server import ComfyServer
from fluxkit_testmodels.thin_inputs import thin_variant
from fluxkit_testmodels.thin_set import PROMPT_FILE, ensure_thin_set, link_into_models
from fluxkit_workflows.paths import API_DIR

from . import BenchFailed


def _inputs(folder: Path, n: int) -> None:
    (folder / "masks").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder / f"b{i:03d}.png")
        mask = np.zeros((64, 64), np.uint8)
        mask[16:48, 16:48] = 255
        Image.fromarray(mask).save(folder / "masks" / f"b{i:03d}.png")


def _timed(workers, api, inputs, out, common) -> float:
    t0 = time.perf_counter()
    left = asyncio.run(run_batch(workers, api, inputs, out, common, stream=io.StringIO()))
    if left:
        raise BenchFailed(f"{left} items failed; see {out}")
    return time.perf_counter() - t0


def _phase(comfyui, models, root: Path, api: dict, common: dict, threads: int | None) -> tuple[float, float]:
    """Seconds for the batch on server A alone and on A + B, both started with `threads` torch threads."""
    env = {"OMP_NUM_THREADS": str(threads)} if threads else {}
    tag = f"t{threads or 'all'}"
    bases = [root / f"{tag}-a", root / f"{tag}-b"]
    for base in bases:
        link_into_models(base / "models", models)
    servers = [ComfyServer(comfyui, base, env=env).spawn() for base in bases]
    try:
        for s in servers:
            s.wait_ready()
        workers = [HttpWorker(s.url, RunSettings()) for s in servers]
        for n, w in enumerate(workers):
            _timed([w], api, root / "warm", root / f"{tag}-warm{n}", common)
        one = _timed(workers[:1], api, root / "in", root / f"{tag}-one", common)
        two = _timed(workers, api, root / "in", root / f"{tag}-two", common)
    finally:
        for s in servers:
            s.stop()
    return one, two


def run(items: int = 8, steps: int = 2) -> dict:
    """Two phases: servers with torch's default threads (all cores each: two servers oversubscribe the CPU), and
    servers with one thread each (each owns a core, as each owns a GPU on a GPU machine)."""
    comfyui = find_comfyui()
    if comfyui is None:
        return {"skipped": "no ComfyUI checkout ($COMFYUI_PATH or ~/ComfyUI)"}
    models = ensure_thin_set()
    api = thin_variant(json.loads((API_DIR / "inpainting_turbo_8step.json").read_text()), PROMPT_FILE, 64)
    common = {"steps": steps, "seed": 5}
    result = {"items": items, "steps": steps, "cores": os.cpu_count(), "phases": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _inputs(root / "in", items)
        _inputs(root / "warm", 1)
        for threads in (None, 1):
            one, two = _phase(comfyui, models, root, api, common, threads)
            result["phases"].append({
                "threads_per_server": threads or "default (all cores)",
                "one_server_s": round(one, 2), "two_servers_s": round(two, 2),
                "one_server_items_per_min": round(items / one * 60, 2),
                "two_servers_items_per_min": round(items / two * 60, 2), "speedup": round(one / two, 3),
            })  # fmt: skip
    return result


def print_result(r: dict) -> None:
    print("\nbatch throughput, thin-set inpainting_turbo_8step, real ComfyUI servers")
    if "skipped" in r:
        print(f"  skipped: {r['skipped']}")
        return
    print(f"{'threads/server':<20} {'servers':>7} {'items':>5} {'wall s':>8} {'items/min':>10}")
    for p in r["phases"]:
        for n, key in ((1, "one_server"), (2, "two_servers")):
            print(f"{p['threads_per_server']!s:<20} {n:>7} {r['items']:>5} {p[key + '_s']:>8.2f} "
                  f"{p[key + '_items_per_min']:>10.2f}")  # fmt: skip
        print(f"  two servers / one: {p['speedup']:.2f}x on {r['cores']} cores")


def main(argv: list[str] | None = None) -> int:
    ap = cli.Parser(prog="python -m bench.bench_batch", description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=8)
    ap.add_argument("--steps", type=int, default=2)
    args = ap.parse_args(argv)
    print_result(run(args.items, args.steps))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "python -m bench.bench_batch"))
