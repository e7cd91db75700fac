"""The thin-set `inpainting_turbo_8step` workflow in a real ComfyUI server: FluxKit's nodes vs the same graph with
core nodes (`LoraLoaderModelOnly`, `ControlNetLoader`, `ControlNetInpaintingAliMamaApply`), and 8 vs 28 steps.

Each variant runs in its own server (so peak memory is its own): one warm-up prompt (loads and patches models),
then `repeats` prompts with new seeds, which re-run the sampler, decode, stitch and save while the loaders stay
cached. Reported: median wall time per prompt, median sampler seconds per step, the fixed per-prompt overhead
(wall − sampler), and the server's peak resident memory (VmHWM).
"""

from __future__ import annotations

import asyncio
import copy
import json
import statistics
import tempfile
from pathlib import Path

from fluxkit_workflows.build import API_DIR
from fluxkit_workflows.comfy_client import run_prompt
from fluxkit_workflows.comfy_env import find_comfyui
from fluxkit_workflows.comfy_server import ComfyServer
from fluxkit_workflows.run_demo import demo_image, set_inputs, thin_variant
from fluxkit_workflows.thin_set import PROMPT_FILE, ensure_thin_set, link_into_models

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


def run_variant(comfyui: Path, thin: dict, api: dict, steps: list[int], repeats: int) -> dict:
    """Warm up, then `repeats` prompts per step count; returns medians per step count and peak memory."""
    sampler = next(k for k, v in api.items() if v["class_type"] == "SamplerCustomAdvanced")
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="fluxkit-bench-") as tmp:
        base = Path(tmp)
        link_into_models(base / "models", thin)
        (base / "input").mkdir(parents=True)
        demo_image(base / "input" / "bench.png", 200, 152)
        with ComfyServer(comfyui, base) as server:
            seed = 1000
            for n in steps:
                walls, per_step = [], []
                for i in range(repeats + (1 if n == steps[0] else 0)):
                    prompt = copy.deepcopy(api)
                    set_inputs(prompt, "LoadImage", image="bench.png")
                    set_inputs(prompt, "RandomNoise", noise_seed=seed)
                    set_inputs(prompt, "FluxKitTurboScheduler", steps=n)
                    seed += 1
                    r = asyncio.run(run_prompt(server.url, prompt))
                    if n == steps[0] and i == 0:
                        results["cold_wall_s"] = r.wall_s  # model loads and LoRA patching included
                        continue
                    walls.append(r.wall_s)
                    per_step.append(r.node_seconds[sampler] / n)
                wall = statistics.median(walls)
                step = statistics.median(per_step)
                results[n] = {"wall_s": wall, "step_s": step, "overhead_s": wall - step * n}
            results["peak_rss_mb"] = peak_rss_mb(server.proc.pid)
    return results


def run(repeats: int = 2, steps: tuple[int, ...] = (8, 28), resolution: int = 128) -> dict:
    comfyui = find_comfyui()
    if comfyui is None:
        return {"skipped": "no ComfyUI (set COMFYUI_PATH or put one at ~/ComfyUI)"}
    thin = ensure_thin_set()
    api = thin_variant(
        json.loads((API_DIR / "inpainting_turbo_8step.json").read_text()), PROMPT_FILE, resolution
    )
    fluxkit = run_variant(comfyui, thin, api, list(steps), repeats)
    core = run_variant(comfyui, thin, core_variant(api), [steps[0]], repeats)
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


if __name__ == "__main__":
    print(json.dumps(run(repeats=1, steps=(8,)), indent=1, default=str))
