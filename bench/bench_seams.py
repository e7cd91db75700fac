"""`python -m bench.bench_seams`: does the edit show? FluxKit's stitch modes, an oracle and CropAndStitch side by side
on real photographs (the world is `bench.seams_scenes`), plus the stitch's cost on a 1024² crop in a 4096² picture.

Each pack crops the *original* picture with its own crop node; the simulated model gets that pack's crop of the
*ideal* picture (same geometry) and returns it shifted, blurred and moved; the pack's stitch pastes it back.
- FluxKit: every mode in MODES (0.1's stitch, 0.1's ring colour match, the new corrections one by one and together);
- oracle: FluxKit's crop, the simulated shift and translation inverted exactly (not the blur), 0.1's linear stitch:
  the floor a correction can reach;
- CropAndStitch (lquesada/ComfyUI-Inpaint-CropAndStitch, its Inpaint Crop / Stitch nodes with their defaults, the
  target size set to FluxKit's crop size): needs a ComfyUI (`$COMFYUI_PATH`, ~/ComfyUI) and its checkout
  (`$FLUXKIT_CROPANDSTITCH_PATH`, ~/ComfyUI-Inpaint-CropAndStitch); without them that column says why.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import fluxkit_cli as cli
from flux_core.inpaint import align, blend, tone
from flux_core.inpaint.colour import lab_to_rgb, rgb_to_lab
from flux_core.inpaint.crop import crop, cut, resize_image
from flux_core.inpaint.mask import grow, prepare
from flux_core.inpaint.stitch import Options, View, context_mask, stitch

from . import seams_scenes as world

RESOLUTION, FEATHER = 512, 16
MODES = {
    "0.1 stitch (no correction)": Options(tone="off", align="off", blend="linear"),
    "0.1 colour_match (ring stats)": "ring",
    "tone global": Options(tone="global", align="off", blend="linear"),
    "tone global + align": Options(tone="global", blend="linear"),
    "multiband only": Options(tone="off", align="off", blend="multiband"),
    "colour_match off (align + multiband)": Options(tone="off"),  # what 0.1's shipped workflows now get
    "global + align + multiband": Options(tone="global"),
    "default: smooth + align + multiband": Options(),
}
ORACLE, CAS = "oracle (exact inverse, 0.1 blend)", "CropAndStitch (defaults)"


def _ring_match(gen: torch.Tensor, orig: torch.Tensor, hole: torch.Tensor, ring_px: int = 16) -> torch.Tensor:
    """FluxKit 0.1's colour match, kept here to measure it: the hole's Lab mean/std moved onto a ring's."""
    inside = hole > 0.5
    ring = (grow(hole[None].float(), ring_px)[0] > 0.5) & ~inside
    g, o = rgb_to_lab(gen), rgb_to_lab(orig)
    gm, gs = g[inside].mean(0), g[inside].std(0).clamp_min(1e-3)
    return lab_to_rgb((g - gm) / gs * o[ring].std(0) + o[ring].mean(0))


def _stitch_01_ring(gen: torch.Tensor, rec) -> torch.Tensor:
    out = rec.original.clone()
    H, W = out.shape[1:3]
    box = rec.boxes[0]
    back = resize_image(gen[0], (box.h, box.w))
    x0, y0, x1, y1 = max(0, box.x0), max(0, box.y0), min(W, box.x1), min(H, box.y1)
    back = back[y0 - box.y0 : y1 - box.y0, x0 - box.x0 : x1 - box.x0]
    orig = out[0, y0:y1, x0:x1]
    back = _ring_match(back, orig, rec.hole[0, y0:y1, x0:x1])
    out[0, y0:y1, x0:x1] = blend.linear(orig, back, rec.blend[0, y0:y1, x0:x1])
    return out


def fluxkit(mode, original, ideal, mask, scene: world.Scene, oracle: bool = False) -> torch.Tensor:
    hole, b = prepare(mask, feather_px=FEATHER)
    _, _, rec = crop(original, hole, b, RESOLUTION, feather_px=FEATHER)
    ideal_crops, _, _ = crop(ideal, hole, b, RESOLUTION, feather_px=FEATHER)
    gen = scene.simulate(ideal_crops)
    if oracle:
        gen = scene.undo(gen)
    if mode == "ring":
        return _stitch_01_ring(gen, rec)
    return stitch(gen, rec, mode)[0]


def load_cropandstitch():
    """CropAndStitch's node classes inside an in-process ComfyUI, or the reason they are not available."""
    from fluxkit_comfy.inprocess import boot, find_comfyui

    comfy = find_comfyui()
    path = Path(os.environ.get("FLUXKIT_CROPANDSTITCH_PATH", Path.home() / "ComfyUI-Inpaint-CropAndStitch"))
    if comfy is None:
        return "no ComfyUI ($COMFYUI_PATH or ~/ComfyUI)"
    if not (path / "inpaint_cropandstitch.py").is_file():
        return f"no CropAndStitch checkout at {path} (set FLUXKIT_CROPANDSTITCH_PATH)"
    boot(comfy)
    spec = importlib.util.spec_from_file_location("cropandstitch_bench", path / "inpaint_cropandstitch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cas_defaults(module) -> dict:
    spec = module.InpaintCropImproved.INPUT_TYPES()
    inputs = {**spec["required"], **spec.get("optional", {})}
    out = {k: v[1]["default"] for k, v in inputs.items() if len(v) > 1 and "default" in v[1]}
    out.update(output_target_width=RESOLUTION, output_target_height=RESOLUTION)
    return out


def cropandstitch(module, original, ideal, mask, scene: world.Scene) -> torch.Tensor:
    crop_node, stitch_node = module.InpaintCropImproved(), module.InpaintStitchImproved()
    args = _cas_defaults(module)
    stitcher, _, _ = crop_node.inpaint_crop(image=original, mask=mask, **args)
    _, ideal_crop, _ = crop_node.inpaint_crop(image=ideal, mask=mask, **args)
    return stitch_node.inpaint_stitch(stitcher, scene.simulate(ideal_crop.cpu()))[0].cpu()


def quality(photos=world.PHOTOS, scene_list=None, with_cropandstitch: bool = True) -> dict:
    scene_list = scene_list or world.scenes()
    cas = load_cropandstitch() if with_cropandstitch else "not asked for (--no-cropandstitch)"
    rows: dict[str, dict[str, list[dict]]] = {}
    for k, name in enumerate(photos):
        original = world.photo(name)
        H, W = original.shape[1:3]
        other = world.photo(photos[(k + 1) % len(photos)])
        other = resize_image(other[0], (H, W))[None]
        mask = world.blob_mask(H, W, seed=k)
        ideal = torch.where(mask[..., None] > 0.5, other, original)
        z = world.zones(mask)
        for scene in scene_list:
            results = {m: fluxkit(opts, original, ideal, mask, scene) for m, opts in MODES.items()}
            results[ORACLE] = fluxkit(MODES["0.1 stitch (no correction)"], original, ideal, mask, scene, True)
            if not isinstance(cas, str):
                results[CAS] = cropandstitch(cas, original, ideal, mask, scene)
            for pack, result in results.items():
                rows.setdefault(scene.name, {}).setdefault(pack, []).append(
                    world.metrics(result, ideal, original, z)
                )
    table = {
        s: {p: {m: statistics.mean(r[m] for r in runs) for m in runs[0]} for p, runs in packs.items()}
        for s, packs in rows.items()
    }
    return {"photos": list(photos), "table": table, "cropandstitch": cas if isinstance(cas, str) else "ran"}


def _median_time(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def timing(repeats: int = 3) -> dict:
    """Stitch of a 1024² crop into a 4096² picture: the whole stitch per mode, and what each step costs."""
    big = F.interpolate(world.photo("astronaut").movedim(-1, 1), size=(4096, 4096), mode="bilinear")
    big = big.movedim(1, -1).contiguous()
    mask = torch.zeros(1, 4096, 4096)
    mask[0, 1700:2300, 1800:2350] = 1  # box + feather + context 0.5 ≈ 1000 px: the crop is ~1:1 at 1024
    hole, b = prepare(mask, feather_px=FEATHER)
    crops, _, rec = crop(big, hole, b, 1024, feather_px=FEATHER)
    gen = world.Scene("t", 1.0, 1.5).simulate(crops)
    out = {"crop": list(rec.out_size), "box": [rec.boxes[0].w, rec.boxes[0].h]}
    for name, opts in (("no correction, linear", MODES["0.1 stitch (no correction)"]),
                       ("default (smooth + align + multiband)", Options()),
                       ("global + align + multiband", Options(tone="global"))):  # fmt: skip
        out[name] = _median_time(lambda o=opts: stitch(gen, rec, o), repeats)
    ctx = context_mask(rec, 0, rec.out_size, 16)
    orig = resize_image(cut(rec.original[0], rec.boxes[0]), rec.out_size)
    view = View(gen[0], orig, ctx, 1.0)
    box = rec.boxes[0]
    y0, x0 = max(0, box.y0), max(0, box.x0)
    window = (slice(y0, box.y1), slice(x0, box.x1))
    back = resize_image(gen[0], (box.h, box.w))[y0 - box.y0 :, x0 - box.x0 :]
    steps = {
        "copy of the picture (clone)": lambda: rec.original.clone(),
        "context mask": lambda: context_mask(rec, 0, rec.out_size, 16),
        "align: estimate": lambda: align.estimate(view.gen, view.orig, ctx),
        "tone: fit (global)": lambda: tone.fit(view.gen, view.orig, ctx, "global"),
        "tone: fit (smooth)": lambda: tone.fit(view.gen, view.orig, ctx, "smooth"),
        "tone: apply": lambda: tone.fit(view.gen, view.orig, ctx, "global").apply(view.gen),
        "blend: linear": lambda: blend.linear(big[0][window], back, b[0][window]),
        "blend: multiband": lambda: blend.multiband(big[0][window], back, b[0][window], FEATHER),
    }
    out["steps"] = {k: _median_time(fn, repeats) for k, fn in steps.items()}
    return out


def print_quality(r: dict) -> None:
    print(f"\nSeams on real photographs ({', '.join(r['photos'])}): mean CIE ΔE vs the ideal (8-bit); "
          f"CropAndStitch: {r['cropandstitch']}")  # fmt: skip
    print(f"{'scene':<20} {'pack / mode':<38} {'seam':>6} {'core':>6} {'ring':>6} {'far':>4}")
    for scene, packs in r["table"].items():
        for pack, m in packs.items():
            print(f"{scene:<20} {pack:<38} {m['seam']:>6.2f} {m['core']:>6.2f} {m['ring']:>6.2f} "
                  f"{m['far_max_levels']:>4.0f}")  # fmt: skip


def print_timing(t: dict) -> None:
    print(f"\nStitch of a {t['crop'][1]}×{t['crop'][0]} crop (box {t['box'][0]}×{t['box'][1]}) into 4096×4096, "
          f"{torch.get_num_threads()} threads, median s")  # fmt: skip
    for k, v in t.items():
        if isinstance(v, float):
            print(f"  {k:<32} {v:.3f}")
    for k, v in t["steps"].items():
        print(f"    step {k:<27} {v:.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = cli.Parser(prog="python -m bench.bench_seams", description=__doc__.split("\n")[0])
    ap.add_argument("--photos", default=",".join(world.PHOTOS), help="comma list of skimage.data pictures")
    ap.add_argument("--no-timing", action="store_true", help="skip the 4096² stitch timing")
    ap.add_argument(
        "--no-cropandstitch", action="store_true", help="leave CropAndStitch out (no ComfyUI boot)"
    )
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    photos = tuple(p for p in args.photos.split(",") if p)
    unknown = [p for p in photos if p not in world.PHOTOS]
    if unknown:
        ap.error(f"unknown photo(s) {unknown}; choose from {list(world.PHOTOS)}")
    result = {"quality": quality(photos, with_cropandstitch=not args.no_cropandstitch)}
    print_quality(result["quality"])
    if not args.no_timing:
        result["timing"] = timing()
        print_timing(result["timing"])
    if args.json:
        import json

        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main, "python -m bench.bench_seams"))
