"""`python -m bench [--quick] [--json PATH]`: FluxKit vs the references, side by side in one run.

Prints tables of medians and ratios (machine, torch version and thread count in the header) and writes the same as
JSON:
1. ControlNet forward: FluxKit vs diffusers' FluxControlNetModel, same weights, same process;
2. LoRA patch time: FluxKit LoRA Loader vs core's LoraLoaderModelOnly in a real ComfyUI (in-process);
3. the thin-set inpainting_turbo_8step workflow in a real ComfyUI server: FluxKit nodes vs core nodes, per step and
   per prompt, 8 vs 28 steps, peak memory;
4. (`--only proxy`) the launcher's token proxy vs direct: a 100 MB `/view` and 200 concurrent small requests;
5. (`--only batch`) batch items per minute on one thin-set ComfyUI server and on two;
6. (`--only models`) the alimama, Fill and Kontext workflows side by side on the thin set (what each graph costs).
2 and 3 need a ComfyUI checkout ($COMFYUI_PATH or ~/ComfyUI) and say so when there is none. `--quick` runs only the
smallest ControlNet case (the CI smoke test uses it so the command cannot rot); `--only cn,lora,workflow` picks.
"""

from __future__ import annotations

import json
import os
import platform
import sys

import torch

import fluxkit_cli as cli

from . import bench_batch, bench_lora_patch, bench_models, bench_proxy, bench_workflow
from .bench_controlnet import CNBenchCase, run_case

FULL_CASES = [
    CNBenchCase("cn-512px", heads=8, blocks=6, image_px=512),
    CNBenchCase("cn-1024px", heads=8, blocks=6, image_px=1024),
]
QUICK_CASES = [CNBenchCase("cn-quick", heads=1, blocks=6, image_px=128, txt_tokens=16)]


def header() -> dict:
    return {
        "machine": platform.machine(),
        "cpu": platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cores": os.cpu_count(),
        "dtype": "float32",
    }


def print_lora(r: dict) -> None:
    print(f"\nLoRA patch (thin FLUX, Turbo-shaped rank-{r.get('rank', '?')} LoRA)")
    if "skipped" in r:
        print(f"  skipped: {r['skipped']}")
        return
    print(f"{'loader':<10} {'node s':>8} {'patch s':>8}")
    for k in ("fluxkit", "core"):
        print(f"{k:<10} {r[k]['load_s']:>8.3f} {r[k]['patch_s']:>8.3f}")
    print(f"total ratio FluxKit/core {r['total_ratio']:.3f}; max weight diff {r['max_weight_diff']:.1e}")


def print_workflow(r: dict) -> None:
    print(f"\ninpainting_turbo_8step, thin set, {r.get('resolution')} px crop, real ComfyUI server")
    if "skipped" in r:
        print(f"  skipped: {r['skipped']}")
        return
    print(
        f"{'variant':<10} {'steps':>5} {'wall s':>7} {'s/step':>7} {'overhead s':>10} {'cold s':>7} {'peak RSS MB':>11}"
    )
    for name in ("fluxkit", "core"):
        v = r[name]
        for n, row in ((k, x) for k, x in v.items() if isinstance(x, dict)):
            print(
                f"{name:<10} {n:>5} {row['wall_s']:>7.2f} {row['step_s']:>7.3f} {row['overhead_s']:>10.2f} "
                f"{v['cold_wall_s']:>7.1f} {v['peak_rss_mb']:>11.0f}"
            )
    print(
        f"per-step FluxKit/core {r['step_ratio_fluxkit_vs_core']:.3f}; per-prompt {r['wall_ratio_fluxkit_vs_core']:.3f}; "
        f"overhead share {r['overhead_share']:.1%}; 28 vs 8 steps wall {r.get('speedup_8_vs_28', float('nan')):.2f}x"
    )


PARTS = ("cn", "lora", "workflow", "proxy", "batch", "models")


def main(argv: list[str] | None = None) -> int:
    ap = cli.Parser(prog="python -m bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smallest sizes only (smoke test)")
    ap.add_argument("--json", default="bench/results/latest.json", help="where to write the JSON results")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="cn,lora,workflow", help=f"comma list of: {', '.join(PARTS)}")
    args = ap.parse_args(argv)
    parts = {"cn"} if args.quick else set(args.only.split(","))
    if parts - set(PARTS):
        ap.error(f"--only: unknown {', '.join(sorted(parts - set(PARTS)))}; choose from {', '.join(PARTS)}")

    cases = QUICK_CASES if args.quick else FULL_CASES
    head = header()
    print(" ".join(f"{k}={v}" for k, v in head.items()))
    rows = []
    print(
        f"{'case':<12} {'width':>5} {'tokens':>6} {'diffusers s':>11} {'FluxKit s':>10} {'ratio':>6} {'max rel err':>11}"
    )
    for case in cases if "cn" in parts else []:
        r = run_case(case, repeats=args.repeats)
        rows.append(r)
        print(
            f"{r['case']:<12} {r['width']:>5} {r['img_tokens']:>6} {r['diffusers_s']:>11.4f} {r['fluxkit_s']:>10.4f} "
            f"{r['ratio']:>6.3f} {r['max_rel_err']:>11.2e}"
        )
    results = {"header": head, "controlnet_forward": rows}
    if "lora" in parts:
        results["lora_patch"] = lora = bench_lora_patch.run(repeats=args.repeats)
        print_lora(lora)
    if "workflow" in parts:
        results["workflow"] = wf = bench_workflow.run(repeats=max(args.repeats - 1, 1))
        print_workflow(wf)
    if "proxy" in parts:
        results["proxy"] = px = bench_proxy.run(repeats=args.repeats)
        bench_proxy.print_result(px)
    if "batch" in parts:
        results["batch"] = bt = bench_batch.run()
        bench_batch.print_result(bt)
    if "models" in parts:
        results["models"] = md = bench_models.run(repeats=args.repeats)
        bench_models.print_result(md)
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2, default=str)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "python -m bench"))
