"""`python -m bench.gpu_run` (on a lent GPU: `bash bench/gpu_run.sh`): FluxKit's GPU numbers in one go.

    python -m bench.gpu_run --pack .gpu_carry --comfyui ~/ComfyUI-0.33   # here: the folder a device call carries
    bash bench/gpu_run.sh                                                  # there: install it, run, JSON to $OUT
    python -m bench.gpu_run --tiny --device cpu --out /tmp/gpu             # the same code, small, on a CPU (tested)

Stages, each written to the JSON as it ends (a run cut short keeps what it measured), each under a time cap:
1. env: device, torch / CUDA / ComfyUI versions;
2. step: `bench.gpu_step` (one full-size step, base / FluxKit ControlNet / core ControlNet, vs the FLOP floor), before
   anything else holds GPU memory;
3. models: `bench.gpu_models` (random weights in the published layouts, drawn on the device);
4. server: the real ComfyUI on the device (an empty --front-end-root, no API nodes), FluxKit linked in, plus a probe
   route that reads `torch.cuda.max_memory_allocated` inside the server;
5. runs (RUNS): each workflow as shipped, text encoders swapped for the saved conditioning, at 1024² on a 1024²
   crop; FluxKit's nodes, and the same graph with core's alimama nodes (`bench_workflow.core_variant`), in bf16
   and with the UNETLoader's `weight_dtype` fp8_e4m3fn. Core's ControlNetLoader has no weight dtype, so the
   FluxKit/core rows keep both ControlNets as loaded (like for like); `fluxkit_cn_fp8` stores FluxKit's ControlNet
   in fp8 as well (the low-memory setup, read for the peak-memory goal). Per run: one warm-up prompt, then `repeats` with new seeds; medians of
   seconds per step (the sampler node's time / steps) and per prompt, peak memory (inside the server and by
   nvidia-smi during the timed prompts); FluxKit/core ratios from the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import fluxkit_cli as cli
from fluxkit_comfy.client import run_prompt
from fluxkit_comfy.inprocess import comfyui_version, find_comfyui
from fluxkit_comfy.server import ComfyServer
from fluxkit_testmodels.thin_inputs import demo_image, set_inputs, thin_variant
from fluxkit_workflows.paths import API_DIR

from .bench_workflow import core_variant, peak_rss_mb
from .gpu_models import PROMPT_NAME, SIZES, total_gb, write_models

# (workflow, variant, weight dtype): bf16 first, then fp8 (the model reloads once), then Fill (another model).
# Variants: "fluxkit" / "core" (ControlNets as loaded: their ratio is like for like), "fluxkit_cn_fp8" (FluxKit's
# ControlNet in fp8 too: less memory, a cast per matmul)
RUNS = (
    ("inpainting_turbo_8step", "fluxkit", "default"), ("inpainting_turbo_8step", "core", "default"),
    ("inpainting_28step", "fluxkit", "default"), ("inpainting_28step", "core", "default"),
    ("inpainting_turbo_8step", "fluxkit", "fp8_e4m3fn"), ("inpainting_turbo_8step", "core", "fp8_e4m3fn"),
    ("inpainting_turbo_8step", "fluxkit_cn_fp8", "fp8_e4m3fn"),
    ("fill_inpaint_turbo_8step", "fluxkit", "default"),
)  # fmt: skip
GOALS = "8-step 1024² denoise ≤ 1.3 s (H100); CN-inpainting step ≤ 160 ms; FluxKit ≤ 1.0× core per step; peak ≤ 20 GB fp8"
PROBE = '''"""FluxKit GPU bench probe (written by bench.gpu_run, never part of the pack): peak CUDA memory inside ComfyUI,
and an image loader through PIL (ComfyUI 0.33's LoadImage decodes through PyAV, which the carry stubs out)."""
import os

import folder_paths
import numpy as np
import torch
from aiohttp import web
from PIL import Image
from server import PromptServer

routes = PromptServer.instance.routes


@routes.get("/fluxkit_bench/memory")
async def memory(request):
    if not torch.cuda.is_available():
        return web.json_response({"cuda": False})
    return web.json_response({"cuda": True, "max_allocated": torch.cuda.max_memory_allocated()})


@routes.post("/fluxkit_bench/memory/reset")
async def reset(request):
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    return web.json_response({})


class FluxKitBenchLoadImage:
    CATEGORY = "FluxKit/bench"
    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("STRING", {"default": ""})}}

    def load(self, image):
        rgba = np.asarray(Image.open(os.path.join(folder_paths.get_input_directory(), image)).convert("RGBA"))
        pixels = torch.from_numpy(rgba[..., :3].astype(np.float32) / 255)[None]
        return pixels, 1.0 - torch.from_numpy(rgba[..., 3].astype(np.float32) / 255)[None]


NODE_CLASS_MAPPINGS = {"FluxKitBenchLoadImage": FluxKitBenchLoadImage}
'''


class SmiPeak:
    """Largest `memory.used` nvidia-smi reports (MiB) while running; None without nvidia-smi."""

    def __init__(self):
        self.peak, self.proc = None, None

    def __enter__(self):
        try:
            self.proc = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-lms", "200"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )  # fmt: skip
        except OSError:
            return self
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self):
        for line in self.proc.stdout:
            if line.strip().isdigit():
                self.peak = max(self.peak or 0, int(line))

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def _json(url: str, method: str = "GET") -> dict:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def env_info(device: str, comfyui: Path) -> dict:
    import torch

    info = {"python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda,
            "comfyui": comfyui_version(comfyui), "machine": platform.machine(), "device": device}  # fmt: skip
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
        info["gpu_memory_gb"] = round(torch.cuda.get_device_properties(0).total_memory / 1e9, 1)
    return info


def step_stage(comfyui: Path, tiny: bool, device: str, timeout_s: float) -> dict:
    """`bench.gpu_step` in its own process (its GPU memory is gone before the server starts)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "step.json"
        cmd = [sys.executable, "-m", "bench.gpu_step", "--device", device, "--repeats", "2" if tiny else "5",
               "--json", str(out), *(["--tiny"] if tiny else [])]  # fmt: skip
        env = dict(os.environ, COMFYUI_PATH=str(comfyui))
        done = subprocess.run(cmd, cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True,
                              text=True, timeout=timeout_s)  # fmt: skip
        if done.returncode != 0:
            return {"failed": done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]}
        return json.loads(out.read_text())


def prompt_for(workflow: str, variant: str, dtype: str, px: int, steps: int | None) -> dict:
    api = thin_variant(json.loads((API_DIR / f"{workflow}.json").read_text()), PROMPT_NAME, px)
    set_inputs(api, "LoadImage", image="gpu_bench.png")
    for node in api.values():  # the same picture and mask through PIL (0.33's LoadImage needs PyAV)
        if node["class_type"] == "LoadImage":
            node["class_type"], node["inputs"] = "FluxKitBenchLoadImage", {"image": "gpu_bench.png"}
    if dtype != "default":
        set_inputs(api, "UNETLoader", weight_dtype=dtype)
    # core's ControlNetLoader has no weight dtype: only this variant stores FluxKit's ControlNet in fp8
    if variant == "fluxkit_cn_fp8":
        set_inputs(api, "FluxKitInpaintControlNetLoader", weight_dtype="fp8_e4m3fn")
    if steps is not None:
        set_inputs(api, "FluxKitTurboScheduler", steps=steps)
    return core_variant(api) if variant == "core" else api


def measure(server: ComfyServer, api: dict, repeats: int, timeout_s: float) -> dict:
    """One warm-up prompt, then `repeats` timed ones: medians and peaks."""
    sampler = next(k for k, v in api.items() if v["class_type"] == "SamplerCustomAdvanced")
    steps = next(v["inputs"]["steps"] for v in api.values() if v["class_type"] == "FluxKitTurboScheduler")

    def once(seed: int):
        set_inputs(api, "RandomNoise", noise_seed=seed)
        r = asyncio.run(run_prompt(server.url, api, timeout_s=timeout_s))
        if sampler not in r.node_seconds:  # ComfyUI runs the valid outputs of a partly invalid prompt
            raise RuntimeError(
                f"the sampler did not run (nodes run: {sorted(r.node_seconds)}); see {server.log_path}"
            )
        return r

    warm = once(1000)
    _json(f"{server.url}/fluxkit_bench/memory/reset", "POST")
    with SmiPeak() as smi:
        rows = [once(1001 + i) for i in range(repeats)]
    mem = _json(f"{server.url}/fluxkit_bench/memory")
    return {
        "steps": steps,
        "warm_s": round(warm.wall_s, 3),
        "s_per_prompt": round(statistics.median(r.wall_s for r in rows), 4),
        "s_per_step": round(statistics.median(r.node_seconds[sampler] / steps for r in rows), 4),
        "peak_alloc_gb": round(mem["max_allocated"] / 1e9, 2) if mem.get("cuda") else None,
        "nvidia_smi_peak_gb": round(smi.peak * 2**20 / 1e9, 2) if smi.peak else None,
        "server_peak_rss_gb": round(peak_rss_mb(server.proc.pid) / 1e3, 2),
    }


def ratios(runs: dict) -> dict:
    """FluxKit/core per step and per prompt, per (workflow, dtype) measured both ways in this run."""
    out = {}
    for key, r in runs.items():
        workflow, variant, dtype = key.split("|")
        core = runs.get(f"{workflow}|core|{dtype}")
        if variant == "fluxkit" and core and "s_per_step" in r and "s_per_step" in core:
            out[f"{workflow}|{dtype}"] = {
                "per_step": round(r["s_per_step"] / core["s_per_step"], 3),
                "per_prompt": round(r["s_per_prompt"] / core["s_per_prompt"], 3),
            }
    return out


def run_all(args, result: dict, save) -> None:
    size = SIZES["tiny" if args.tiny else "full"]
    work = Path(args.work or tempfile.mkdtemp(prefix="fluxkit-gpu-"))
    started = time.monotonic()
    result["models"] = {"root": str(work / "models")}
    paths = write_models(work / "models", "tiny" if args.tiny else "full", args.device)
    result["models"].update(gb=round(total_gb(paths), 2), seconds=round(time.monotonic() - started, 1))
    save()
    (work / "input").mkdir(parents=True, exist_ok=True)
    demo_image(work / "input" / "gpu_bench.png", size["px"], size["px"])
    probe = work / "custom_nodes" / "fluxkit_bench_probe"
    probe.mkdir(parents=True, exist_ok=True)
    (probe / "__init__.py").write_text(PROBE)
    front = work / "frontend"
    front.mkdir(exist_ok=True)
    extra = ["--front-end-root", str(front), "--disable-api-nodes"]
    with ComfyServer(args.comfyui, work, extra, timeout_s=600, cpu=args.device == "cpu") as server:
        result["runs"] = {}
        for workflow, variant, dtype in [
            r for r in RUNS if not args.runs or f"{r[0]}:{r[1]}:{r[2]}" in args.runs
        ]:
            key = f"{workflow}|{variant}|{dtype}"
            if time.monotonic() - started > args.deadline:
                result["runs"][key] = {"skipped": f"the run's {args.deadline:.0f} s cap was reached"}
                continue
            api = prompt_for(workflow, variant, dtype, size["px"], 2 if args.tiny else None)
            try:
                result["runs"][key] = measure(server, api, args.repeats, args.prompt_timeout)
            except Exception as e:  # noqa: BLE001 - one failed run is recorded and the rest go on
                result["runs"][key] = {"failed": " ".join(str(e).split())[:500]}
            result["ratios"] = ratios(result["runs"])
            save()


def goals(result: dict) -> dict:
    """The issue's goals read off this run (None where it did not measure what a goal needs)."""
    runs, step = result.get("runs", {}), result.get("step", {})
    turbo = runs.get("inpainting_turbo_8step|fluxkit|default", {})
    fp8 = runs.get("inpainting_turbo_8step|fluxkit_cn_fp8|fp8_e4m3fn") or runs.get(
        "inpainting_turbo_8step|fluxkit|fp8_e4m3fn", {}
    )
    ratio = result.get("ratios", {}).get("inpainting_turbo_8step|default", {})
    return {
        "denoise_8_steps_s": round(turbo["s_per_step"] * 8, 3) if "s_per_step" in turbo else None,
        "cn_step_s": step.get("fluxkit_step_s"),
        "fluxkit_vs_core_per_step": ratio.get("per_step"),
        "peak_fp8_gb": fp8.get("peak_alloc_gb"),
    }


def print_table(result: dict, stream=sys.stdout) -> None:
    env = result.get("env", {})
    print(f"\nFluxKit GPU run: {env.get('gpu', env.get('device'))}, torch {env.get('torch')}, CUDA {env.get('cuda')}, "
          f"ComfyUI {env.get('comfyui')}", file=stream)  # fmt: skip
    print(f"{'run':<48} {'s/step':>8} {'s/prompt':>9} {'alloc GB':>9} {'smi GB':>7}", file=stream)
    for key, r in result.get("runs", {}).items():
        if "s_per_step" not in r:
            print(f"{key:<48} {r.get('skipped') or r.get('failed')}", file=stream)
            continue
        print(f"{key:<48} {r['s_per_step']:>8.4f} {r['s_per_prompt']:>9.3f} {r['peak_alloc_gb'] or float('nan'):>9.2f} "
              f"{r['nvidia_smi_peak_gb'] or float('nan'):>7.2f}", file=stream)  # fmt: skip
    for key, r in result.get("ratios", {}).items():
        print(f"FluxKit/core {key}: per step {r['per_step']}, per prompt {r['per_prompt']}", file=stream)
    step = result.get("step", {})
    if "fluxkit_step_s" in step:
        share = (step["fluxkit_step_s"] - step["base_s"]) / step["fluxkit_step_s"]
        print(f"one step: base {step['base_s']:.4f} s, with FluxKit's ControlNet {step['fluxkit_step_s']:.4f} s "
              f"(ControlNet share {share:.0%}), core's {step['core_step_s']:.4f} s, FLOP floor "
              f"{step['floor_step_s']:.4f} s", file=stream)  # fmt: skip
    print(f"goals ({GOALS}): {goals(result)}", file=stream)


def main(argv: list[str] | None = None) -> int:
    ap = cli.Parser(prog="python -m bench.gpu_run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", type=Path, metavar="DIR", help="only build the carry folder for a device call")
    ap.add_argument("--no-wheels", action="store_true", help="with --pack: leave the wheels out")
    ap.add_argument("--comfyui", type=Path, help="ComfyUI checkout (default $COMFYUI_PATH or ~/ComfyUI)")
    ap.add_argument("--device", default="cuda", help="cuda (a lent GPU) or cpu (--tiny smoke run)")
    ap.add_argument("--tiny", action="store_true", help="one block of each kind, 128 px, 2 steps")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "bench/results")))
    ap.add_argument(
        "--work", help="where models and the server's folders go (default: a new temporary folder)"
    )
    ap.add_argument("--repeats", type=int, default=2, help="timed prompts per run, after one warm-up")
    ap.add_argument("--runs", help="comma list of workflow:variant:dtype to run (default: all of RUNS)")
    ap.add_argument(
        "--deadline", type=float, default=480, help="seconds after which further runs are skipped"
    )
    ap.add_argument("--prompt-timeout", type=float, default=300)
    ap.add_argument("--skip-step", action="store_true", help="leave out bench.gpu_step")
    args = ap.parse_args(argv)
    args.comfyui = args.comfyui or find_comfyui()
    if args.comfyui is None:
        ap.error("no ComfyUI: give --comfyui PATH (or set COMFYUI_PATH)")
    if args.pack:
        from .gpu_pack import pack

        report = pack(args.pack, Path(args.comfyui), wheels=not args.no_wheels)
        print(json.dumps(report, indent=1))
        print(f"carry folder {args.pack}: {report['total_mb']} MB ({'fits' if report['fits'] else 'does NOT fit'} "
              "the 64 MiB a device call carries, with the repository)")  # fmt: skip
        return 0 if report["fits"] else 1
    args.runs = set(args.runs.split(",")) if args.runs else None
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"gpu_run{'_tiny' if args.tiny else ''}.json"
    result: dict = {"env": env_info(args.device, Path(args.comfyui)), "goals_set": GOALS}

    def save() -> None:
        result["goals"] = goals(result)
        out.write_text(json.dumps(result, indent=1))

    save()
    if not args.skip_step:
        result["step"] = step_stage(Path(args.comfyui), args.tiny, args.device, timeout_s=240)
        save()
    run_all(args, result, save)
    save()
    print_table(result)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "python -m bench.gpu_run"))
