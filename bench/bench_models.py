"""The three inpainting models side by side on the thin set, each in its shipped FluxKit workflow, one ComfyUI server:
alimama ControlNet + dev (`inpainting_turbo_8step`), FLUX.1 Fill (`fill_inpaint_turbo_8step`,
`fill_outpaint_turbo_8step`) and FLUX.1 Kontext (`kontext_edit_masked`, 28 steps); on a ComfyUI with FLUX.2
(0.28+) also FLUX.2 [klein] (`klein_edit_masked`, `klein_inpaint`, 4 steps; the thin klein is 256 wide, not klein
4B's 3072, so its seconds per step are not comparable with the FLUX.1 rows: its wall time is the graph around it).

Thin models are real width with one block, so the numbers compare what each graph costs around the model (extra
input channels, a ControlNet, reference tokens, the pad/crop/stitch), not real-model speed or quality. One warm-up
prompt per workflow (loads, patches), then `repeats` rounds in which the workflows alternate; medians of wall time per
prompt and of sampler seconds per step.
"""

from __future__ import annotations

import asyncio
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
from fluxkit_testmodels.thin_set import KLEIN_PROMPT_FILE, PROMPT_FILE, ensure_thin_set, link_into_models
from fluxkit_workflows.paths import API_DIR

WORKFLOWS = {  # workflow → the saved conditioning standing in for its text encoder
    "inpainting_turbo_8step": PROMPT_FILE,
    "fill_inpaint_turbo_8step": PROMPT_FILE,
    "fill_outpaint_turbo_8step": PROMPT_FILE,
    "kontext_edit_masked": PROMPT_FILE,
    "klein_edit_masked": KLEIN_PROMPT_FILE,
    "klein_inpaint": KLEIN_PROMPT_FILE,
}
FLUX2_ONLY = ("klein_edit_masked", "klein_inpaint")
SCHEDULERS = ("FluxKitTurboScheduler", "Flux2Scheduler")


def has_flux2(comfyui: Path) -> bool:
    """Whether this ComfyUI checkout has FLUX.2 (core's Flux2Scheduler, 0.28 and newer)."""
    source = Path(comfyui) / "comfy_extras" / "nodes_flux.py"
    return source.is_file() and "Flux2Scheduler" in source.read_text(encoding="utf-8")


def _steps(api: dict) -> int:
    return next(v["inputs"].get("steps", 8) for v in api.values() if v["class_type"] in SCHEDULERS)


def _prompt(server: ComfyServer, api: dict, seed: int) -> tuple[float, float]:
    prompt = copy.deepcopy(api)
    set_inputs(prompt, "LoadImage", image="bench.png")
    set_inputs(prompt, "RandomNoise", noise_seed=seed)
    sampler = next(k for k, v in prompt.items() if v["class_type"] == "SamplerCustomAdvanced")
    r = asyncio.run(run_prompt(server.url, prompt))
    return r.wall_s, r.node_seconds[sampler] / _steps(prompt)


def run(repeats: int = 3, resolution: int = 128) -> dict:
    comfyui = find_comfyui()
    if comfyui is None:
        return {"skipped": "no ComfyUI (set COMFYUI_PATH or put one at ~/ComfyUI)"}
    thin = ensure_thin_set()
    names = [n for n in WORKFLOWS if has_flux2(comfyui) or n not in FLUX2_ONLY]
    apis = {
        name: thin_variant(json.loads((API_DIR / f"{name}.json").read_text()), WORKFLOWS[name], resolution)
        for name in names
    }
    rows: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="fluxkit-bench-models-") as tmp:
        base = Path(tmp)
        link_into_models(base / "models", thin)
        (base / "input").mkdir(parents=True)
        demo_image(base / "input" / "bench.png", 200, 152)
        with ComfyServer(comfyui, base) as server:
            cold = {name: _prompt(server, api, 999)[0] for name, api in apis.items()}
            for seed in range(1000, 1000 + repeats):
                for name, api in apis.items():
                    rows[name].append(_prompt(server, api, seed))
    out: dict = {"resolution": resolution, "repeats": repeats, "workflows": names}
    for name in names:
        out[name] = {
            "steps": _steps(apis[name]),
            "cold_wall_s": cold[name],
            "wall_s": statistics.median(w for w, _ in rows[name]),
            "step_s": statistics.median(s for _, s in rows[name]),
        }
    return out


def print_result(r: dict) -> None:
    if "skipped" in r:
        print(f"models: skipped ({r['skipped']})")
        return
    print(
        f"\n{'workflow (thin set, ' + str(r['resolution']) + '² crop)':<40} {'steps':>5} {'wall s':>7} {'s/step':>7}"
    )
    for name in r["workflows"]:
        x = r[name]
        print(f"{name:<40} {x['steps']:>5} {x['wall_s']:>7.2f} {x['step_s']:>7.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = cli.Parser(prog="python -m bench.bench_models", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    result = run(repeats=args.repeats)
    print_result(result)
    print(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "python -m bench.bench_models"))
