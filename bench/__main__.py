"""`python -m bench [--quick] [--json PATH]`: FluxKit vs the references, side by side in one process.

Prints a table of medians and ratios (machine, torch version and thread count in the header) and writes the same as
JSON. `--quick` runs only the smallest sizes (the CI smoke test uses it so the command cannot rot).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys

import torch

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smallest sizes only (smoke test)")
    ap.add_argument("--json", default="bench/results/latest.json", help="where to write the JSON results")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    cases = QUICK_CASES if args.quick else FULL_CASES
    head = header()
    print(" ".join(f"{k}={v}" for k, v in head.items()))
    rows = []
    print(
        f"{'case':<12} {'width':>5} {'tokens':>6} {'diffusers s':>11} {'FluxKit s':>10} {'ratio':>6} {'max rel err':>11}"
    )
    for case in cases:
        r = run_case(case, repeats=args.repeats)
        rows.append(r)
        print(
            f"{r['case']:<12} {r['width']:>5} {r['img_tokens']:>6} {r['diffusers_s']:>11.4f} {r['fluxkit_s']:>10.4f} "
            f"{r['ratio']:>6.3f} {r['max_rel_err']:>11.2e}"
        )
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"header": head, "controlnet_forward": rows}, f, indent=2)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
