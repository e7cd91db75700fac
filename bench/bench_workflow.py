"""The thin-set `inpainting_turbo_8step` workflow in a real ComfyUI server: FluxKit's nodes vs the same graph with
core nodes (`LoraLoaderModelOnly`, `ControlNetLoader`, `ControlNetInpaintingAliMamaApply`), and 8 vs 28 steps.

Each variant runs in its own server (so peak memory is its own); both servers are up together and their prompts
alternate, so load changes on a shared machine hit both alike. One warm-up prompt each (loads and patches models),
then `repeats` prompts with new seeds, which re-run the sampler, decode, stitch and save while the loaders stay
cached. Reported: median wall time per prompt, median sampler seconds per step, the fixed per-prompt overhead
(wall − sampler), and the server's peak resident memory (VmHWM).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import statistics
import tempfile
from pathlib import Path

import fluxkit_cli as cli
from fluxkit_comfy.client import run_prompt
from fluxkit_comfy.inprocess import find_comfyui
from fluxkit_comfy.server import ComfyServer
from fluxkit_testmodels.thin_inputs import demo_image, set_inputs, thin_variant
from fluxkit_testmodels.thin_set import PROMPT_FILE, ensure_thin_set, link_into_models
from fluxkit_workflows.paths import API_DIR

# FluxKit node → (core node, input renames); inputs not listed keep their names.
CORE_SWAP = {
    "FluxKitLoraLoader": ("LoraLoaderModelOnly", {"strength": "strength_model"}),
    "FluxKitInpaintControlNetLoader": ("ControlNetLoader", {}),
    "FluxKitInpaintControlNetApply": ("ControlNetInpaintingAliMamaApply", {}),
}
CORE_DROPPED_INPUTS = {"mask_mode", "weight_dtype"}  # FluxKit-only options (core: soft mask, file dtype)


def core_variant(api: dict) -> dict:
    """The same graph with core's LoRA and ControlNet nodes in place of FluxKit's."""
    out = copy.deepcopy(api)
    for node in out.values():
        if node["class_type"] in CORE_SWAP:
            core, renames = CORE_SWAP[node["class_type"]]
            node["class_type"] = core
            node["inputs"] = {
                renames.get(k, k): v for k, v in node["inputs"].items() if k not in CORE_DROPPED_INPUTS
            }
    return out


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Variant:
    """One graph in its own ComfyUI server (own peak memory), prompts timed one at a time."""

    def __init__(self, name: str, api: dict, server: ComfyServer):
        self.name, self.api, self.server = name, api, server
        self.sampler = next(k for k, v in api.items() if v["class_type"] == "SamplerCustomAdvanced")
        self.samples: dict[int, list[tuple[float, float]]] = {}  # steps → [(wall, sampler seconds per step)]
        self.cold_wall_s = 0.0
        self.loads_before = 0

    def prompt(self, steps: int, seed: int) -> tuple[float, float]:
        prompt = copy.deepcopy(self.api)
        set_inputs(prompt, "LoadImage", image="bench.png")
        set_inputs(prompt, "RandomNoise", noise_seed=seed)
        set_inputs(prompt, "FluxKitTurboScheduler", steps=steps)
        r = asyncio.run(run_prompt(self.server.url, prompt))
        return r.wall_s, r.node_seconds[self.sampler] / steps

    def summary(self) -> dict:
        out: dict = {"cold_wall_s": self.cold_wall_s, "peak_rss_mb": peak_rss_mb(self.server.proc.pid)}
        for n, rows in self.samples.items():
            wall = statistics.median(w for w, _ in rows)
            step = statistics.median(s for _, s in rows)
            out[n] = {"wall_s": wall, "step_s": step, "overhead_s": wall - step * n}
        warm = sum(len(r) for r in self.samples.values())
        # model (re)loads ComfyUI logged per warm prompt (they would happen inside the sampler node's time)
        out["loads_per_warm_prompt"] = (
            self.server.log_text().count("Requested to load") - self.loads_before
        ) / warm
        return out


def run(repeats: int = 3, steps: tuple[int, ...] = (8, 28), resolution: int = 128) -> dict:
    """Both variants' servers run side by side and their prompts alternate (A, B, A, B, …), so the machine's load
    changes hit both alike; medians over `repeats` pairs after one warm-up prompt each."""
    comfyui = find_comfyui()
    if comfyui is None:
        return {"skipped": "no ComfyUI (set COMFYUI_PATH or put one at ~/ComfyUI)"}
    thin = ensure_thin_set()
    api = thin_variant(
        json.loads((API_DIR / "inpainting_turbo_8step.json").read_text()), PROMPT_FILE, resolution
    )
    graphs = {"fluxkit": api, "core": core_variant(api)}
    with tempfile.TemporaryDirectory(prefix="fluxkit-bench-") as tmp, contextlib.ExitStack() as stack:
        variants = []
        for name, graph in graphs.items():
            base = Path(tmp) / name
            link_into_models(base / "models", thin)
            (base / "input").mkdir(parents=True)
            demo_image(base / "input" / "bench.png", 200, 152)
            variants.append(Variant(name, graph, stack.enter_context(ComfyServer(comfyui, base))))
        for v in variants:
            v.cold_wall_s = v.prompt(steps[0], seed=999)[0]  # loads models, patches the LoRA
            v.loads_before = v.server.log_text().count("Requested to load")
        seed = 1000
        for n in steps:
            for _ in range(repeats):
                for v in variants if n == steps[0] else variants[:1]:  # 28 steps: FluxKit only
                    v.samples.setdefault(n, []).append(v.prompt(n, seed))
                seed += 1
        fluxkit, core = (v.summary() for v in variants)
    n = steps[0]
    out = {
        "resolution": resolution,
        "repeats": repeats,
        "fluxkit": fluxkit,
        "core": core,
        "step_ratio_fluxkit_vs_core": fluxkit[n]["step_s"] / core[n]["step_s"],
        "wall_ratio_fluxkit_vs_core": fluxkit[n]["wall_s"] / core[n]["wall_s"],
        "overhead_share": fluxkit[n]["overhead_s"] / fluxkit[n]["wall_s"],
    }
    if len(steps) > 1:
        out["speedup_8_vs_28"] = fluxkit[steps[1]]["wall_s"] / fluxkit[n]["wall_s"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = cli.Parser(prog="python -m bench.bench_workflow", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    print(json.dumps(run(repeats=args.repeats, steps=(8,)), indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "python -m bench.bench_workflow"))
