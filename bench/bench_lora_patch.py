"""LoRA patch time in a real ComfyUI (in-process, CPU): FluxKit LoRA Loader vs core's LoraLoaderModelOnly on the thin
FLUX model with a Turbo-shaped LoRA at Turbo's rank (64, every Linear).

Two phases per loader, medians over repeats: `load_s`, the node itself (read the file, map keys, hand patches to the
ModelPatcher); `patch_s`, ComfyUI computing and writing the patched weights when the model is loaded for sampling
(`load_models_gpu`, which on the CPU patches in place). Both loaders end in the same ComfyUI patching code, so
`patch_s` should match; the node phase is where the implementations differ. The max difference between the two
patched state dicts is reported as a check that they did the same work.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import fluxkit_cli as cli
from fluxkit_comfy.inprocess import boot, find_comfyui, run_node
from fluxkit_testmodels import shapes as tm
from fluxkit_testmodels.thin_set import ensure_thin_set


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run(repeats: int = 3, rank: int = 64) -> dict:
    comfyui = find_comfyui()
    if comfyui is None:
        return {"skipped": "no ComfyUI (set COMFYUI_PATH or put one at ~/ComfyUI)"}
    env = boot(comfyui)
    import comfy.model_management as mm
    import comfy.sd
    import folder_paths

    thin = ensure_thin_set()
    with tempfile.TemporaryDirectory(prefix="fluxkit-lora-bench-") as tmp:
        name = f"turbo-thin-r{rank}.safetensors"
        tm.write_thin_turbo_lora(str(Path(tmp) / name), rank=rank, seed=3)
        folder_paths.add_model_folder_path("loras", tmp, is_default=True)
        model = comfy.sd.load_diffusion_model(thin["flux"])
        fluxkit_node = env.nodes.NODE_CLASS_MAPPINGS["FluxKitLoraLoader"]
        loaders = {  # a new core instance on each call (run_node): it caches the last file it read on the instance
            "fluxkit": lambda: fluxkit_node.execute(model, name, 1.0).result[0],
            "core": lambda: run_node(
                env.nodes, "LoraLoaderModelOnly", model=model, lora_name=name, strength_model=1.0
            )[0],
        }
        times: dict[str, dict[str, list[float]]] = {k: {"load_s": [], "patch_s": []} for k in loaders}
        patched_weights = {}
        for _ in range(repeats):
            for key, load in loaders.items():
                patched, t_load = _timed(load)
                _, t_patch = _timed(lambda p=patched: mm.load_models_gpu([p]))
                times[key]["load_s"].append(t_load)
                times[key]["patch_s"].append(t_patch)
                patched_weights[key] = {
                    k: v.detach().clone() for k, v in patched.model.diffusion_model.state_dict().items()
                }
                mm.unload_all_models()
        diff = max(
            (patched_weights["fluxkit"][k] - patched_weights["core"][k]).abs().max().item()
            for k in patched_weights["core"]
        )
    out = {k: {m: statistics.median(v) for m, v in t.items()} for k, t in times.items()}
    out.update(
        rank=rank,
        max_weight_diff=diff,
        load_ratio=out["fluxkit"]["load_s"] / out["core"]["load_s"],
        total_ratio=sum(out["fluxkit"].values()) / sum(out["core"].values()),
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = cli.Parser(prog="python -m bench.bench_lora_patch", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    print(json.dumps(run(repeats=args.repeats), indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "python -m bench.bench_lora_patch"))
