"""The main job: run a FluxKit workflow end to end in a real, headless ComfyUI and write its output image.

    python -m fluxkit_tools.demo --out out/

Starts ComfyUI (found at $COMFYUI_PATH or ~/ComfyUI) on a free 127.0.0.1 port with FluxKit linked in, makes a test
image with a transparent hole (the mask, as ComfyUI's mask editor saves it), queues `workflows/api/<workflow>.json`
and prints per-node timings. Models: with `--models DIR` holding the published files (FLUX.1-dev, ae, t5xxl, clip_l,
the alimama ControlNet, Turbo LoRA) it runs the real thing; otherwise it generates the thin set (real width, one
block, random weights; cached in ~/.cache/fluxkit/thin) and swaps the T5/CLIP text encoder for a saved prompt
conditioning loaded by FluxKit Load Conditioning. Thin outputs are noise-like pictures: the point is the run.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import fluxkit_cli as cli
from fluxkit_catalog import model_files as mf
from fluxkit_testmodels.thin_inputs import demo_image, set_inputs, thin_variant
from fluxkit_workflows.paths import API_DIR

INSTALL_HINT = """No ComfyUI found (looked at $COMFYUI_PATH and ~/ComfyUI). Get one in one step:
    git clone https://github.com/comfyanonymous/ComfyUI ~/ComfyUI
(or point COMFYUI_PATH at an existing checkout), then run `bash scripts/demo.sh` again from the FluxKit folder:
it installs ComfyUI's requirements and FluxKit's into a virtualenv of their own."""
REQUIRED_REAL = [mf.FLUX_DEV, mf.FLUX_VAE, mf.T5XXL, mf.CLIP_L, mf.INPAINT_CN_BETA, mf.TURBO_LORA]


def print_timings(api: dict, result, out=sys.stdout) -> None:
    """Seconds per node, then the sum and the wall time, all to `out`."""
    print(f"\n{'node':>5}  {'type':<32} {'seconds':>8}", file=out)
    for node_id, seconds in result.node_seconds.items():
        print(f"{node_id:>5}  {api[node_id]['class_type']:<32} {seconds:8.2f}", file=out)
    for node_id in result.cached:
        print(f"{node_id:>5}  {api[node_id]['class_type']:<32} {'cached':>8}", file=out)
    total = sum(result.node_seconds.values())
    print(f"{'':>5}  {'sum of nodes':<32} {total:8.2f}", file=out)
    print(f"{'':>5}  {'wall (queue → done)':<32} {result.wall_s:8.2f}", file=out)


def build_parser() -> cli.Parser:
    parser = cli.Parser(prog="python -m fluxkit_tools.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out"), help="folder for the output image(s)")
    parser.add_argument("--workflow", default="inpainting_turbo_8step", help="name in workflows/api/")
    parser.add_argument(
        "--models", type=Path, help="a ComfyUI models folder holding the real, published files"
    )
    parser.add_argument(
        "--size", type=int, nargs=2, default=(200, 152), metavar=("W", "H"), help="test image size"
    )
    parser.add_argument(
        "--resolution", type=int, default=128, help="thin set: crop/latent long side (CPU-sized)"
    )
    parser.add_argument("--seed", type=int, default=24)
    return parser


def real_models_config(models: Path, base: Path) -> list[str]:
    """ComfyUI arguments that add `models` (a folder of the published files) through an extra_model_paths.yaml."""
    import yaml  # ComfyUI's own dependency: the demo runs in ComfyUI's environment

    config = base / "extra_model_paths.yaml"
    folders = {folder: folder for folder in sorted(set(mf.FOLDERS.values()))}
    config.write_text(yaml.safe_dump({"fluxkit": {"base_path": str(models), **folders}}, sort_keys=False))
    return ["--extra-model-paths-config", str(config)]


def prepare_models(args, api: dict, base: Path) -> tuple[dict, list[str]]:
    """(the workflow to queue, extra ComfyUI arguments): the real files when --models holds them all, else the thin
    set linked into `base`/models and the workflow rewired for it."""
    if args.models is not None and all(any(args.models.rglob(name)) for name in REQUIRED_REAL):
        print(f"models: real files under {args.models}")
        return api, real_models_config(args.models, base)
    from fluxkit_testmodels.thin_set import PROMPT_FILE, ensure_thin_set, link_into_models

    if args.models is not None:
        print(f"models: {args.models} lacks some of {REQUIRED_REAL}; using the thin set instead")
    t0 = time.perf_counter()
    link_into_models(base / "models", ensure_thin_set())
    print(
        f"models: thin set (real width, one block, random weights), ready in {time.perf_counter() - t0:.1f} s"
    )
    return thin_variant(api, PROMPT_FILE, args.resolution), []


def run_in_comfyui(comfyui: Path, base: Path, api: dict, extra: list[str], args) -> list[Path] | None:
    """Queue `api` on a headless ComfyUI over `base`; the written files, or None when the prompt failed."""
    from fluxkit_comfy.client import PromptFailed, PromptRejected, fetch_outputs, run_prompt
    from fluxkit_comfy.inprocess import comfyui_version
    from fluxkit_comfy.server import ComfyServer

    print(f"ComfyUI {comfyui_version(comfyui)} at {comfyui}: starting headless on 127.0.0.1 …")
    with ComfyServer(comfyui, base, extra) as server:
        print(f"server up at {server.url}; queueing {args.workflow}")
        try:
            result = asyncio.run(run_prompt(server.url, api))
        except (PromptRejected, PromptFailed) as e:
            print(f"{args.workflow} failed:\n{e}\n--- server log ---\n{server.log_tail()}", file=sys.stderr)
            return None
        written = asyncio.run(fetch_outputs(server.url, result, args.out))
    print_timings(api, result)
    return written


def main(argv: list[str] | None = None) -> int:
    from fluxkit_comfy.inprocess import find_comfyui  # standard library only: the hint below needs nothing

    parser = build_parser()
    args = parser.parse_args(argv)
    api_path = API_DIR / f"{args.workflow}.json"
    if not api_path.is_file():
        parser.error(
            f"no workflow {args.workflow!r}: choose from {sorted(p.stem for p in API_DIR.glob('*.json'))}"
        )
    comfyui = find_comfyui()
    if comfyui is None:
        print(INSTALL_HINT, file=sys.stderr)
        return cli.USAGE
    with tempfile.TemporaryDirectory(prefix="fluxkit-demo-") as tmp:
        base = Path(tmp)
        api, extra = prepare_models(args, json.loads(api_path.read_text()), base)
        (base / "input").mkdir(parents=True, exist_ok=True)
        image = demo_image(base / "input" / "fluxkit_demo.png", *args.size)
        set_inputs(api, "LoadImage", image=image.name)
        set_inputs(api, "RandomNoise", noise_seed=args.seed)
        written = run_in_comfyui(comfyui, base, api, extra, args)
    for path in written or []:
        print(f"wrote {path}")
    return 0 if written else cli.FAILED


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "python -m fluxkit_tools.demo"))
