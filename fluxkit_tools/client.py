"""Queue FluxKit workflows on a running ComfyUI from scripts: one prompt, or a resumable batch.

    python -m fluxkit_tools.client run inpainting_turbo_8step --image in.png --mask m.png \\
        --set prompt="a red chair" --set seed=7 --steps 8 --out out/
    python -m fluxkit_tools.client batch inpainting_turbo_8step --inputs photos/ --out out/ --concurrency 2

WORKFLOW is a name in `workflows/api/` or a path to an API-format JSON. `--set NAME=VALUE` changes an input:
`NODE.INPUT=VALUE` with NODE a node id, title or type (case-insensitive), or one of the short names: prompt (the node
titled "Prompt"), seed, steps, image, mask. VALUE is JSON when it parses as JSON, else a string.
`--mask` is a greyscale picture, white = repaint; it is uploaded through /upload/mask as the image's alpha, exactly
as ComfyUI's mask editor does. With `$FLUXKIT_TOKEN` set, requests carry it as a bearer token (a ComfyUI behind
`fluxkit_tools.launch`'s proxy). Outputs are written under safe names. A rejected prompt exits 1 with ComfyUI's own
validation text.

Batch: `--inputs` is a folder of images (a mask for `photo.png` is `masks/photo.png` beside them, optional) or a
CSV whose columns are short names or NODE.INPUT (an `image` and optional `mask` column hold paths). `OUT/manifest.json`
records each finished item and its files, written after every success, so a rerun after a crash or a server
restart submits only what is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import sys
from pathlib import Path

import aiohttp

from fluxkit_comfy.client import (
    PromptFailed,
    PromptRejected,
    fetch_outputs,
    open_session,
    progress_bar,
    run_prompt,
    safe_file_name,
)
from fluxkit_workflows.paths import API_DIR

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
SEED_INPUTS = ("noise_seed", "seed")
STEP_INPUTS = ("steps",)


class OverrideError(ValueError):
    pass


def load_workflow(name_or_path: str) -> dict:
    path = Path(name_or_path)
    if not path.is_file():
        path = API_DIR / f"{name_or_path}.json"
    if not path.is_file():
        names = sorted(p.stem for p in API_DIR.glob("*.json"))
        raise OverrideError(f"no workflow {name_or_path!r}: give a path or one of {names}")
    return json.loads(path.read_text())


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _nodes_named(api: dict, node: str) -> list[str]:
    if node in api:
        return [node]
    by_title = [k for k, v in api.items() if v.get("_meta", {}).get("title", "").lower() == node.lower()]
    return by_title or [k for k, v in api.items() if v["class_type"].lower() == node.lower()]


def apply_override(api: dict, name: str, value) -> list[str]:
    """Set `name` (short name or NODE.INPUT) to `value` in `api` (in place); returns 'id.input' of what changed."""
    targets: list[tuple[str, str]] = []
    if name == "prompt":
        targets = [(k, "text") for k in _nodes_named(api, "Prompt") if "text" in api[k]["inputs"]]
    elif name in ("seed", "steps"):
        keys = SEED_INPUTS if name == "seed" else STEP_INPUTS
        targets = [(k, i) for k, v in api.items() for i in keys if i in v["inputs"]]
    elif name in ("image", "mask"):
        targets = [(k, "image") for k, v in api.items() if v["class_type"] == "LoadImage"]
    elif "." in name:
        node, _, inp = name.rpartition(".")
        targets = [(k, inp) for k in _nodes_named(api, node)]
        unknown = [k for k, i in targets if i not in api[k]["inputs"]]
        if unknown:
            raise OverrideError(
                f"{name}: node {unknown[0]} ({api[unknown[0]]['class_type']}) has no input {inp!r}"
            )
    if not targets:
        raise OverrideError(f"{name}: matches no node input (use NODE.INPUT with a node id or title)")
    for k, i in targets:
        if isinstance(api[k]["inputs"].get(i), list):
            raise OverrideError(f"{name}: node {k} input {i!r} is a link, not a value")
        api[k]["inputs"][i] = value
    return [f"{k}.{i}" for k, i in targets]


async def upload_image(session: aiohttp.ClientSession, url: str, path: Path) -> str:
    form = aiohttp.FormData()
    form.add_field("image", path.read_bytes(), filename=path.name, content_type="image/png")
    form.add_field("overwrite", "true")
    async with session.post(f"{url}/upload/image", data=form) as r:
        r.raise_for_status()
        return (await r.json())["name"]


def mask_as_alpha_png(mask_path: Path) -> bytes:
    """A greyscale mask (white = repaint) as an RGBA PNG whose alpha is 0 where to repaint (mask-editor layout)."""
    from PIL import Image, ImageOps

    grey = Image.open(mask_path).convert("L")
    rgba = Image.new("RGBA", grey.size, (0, 0, 0, 255))
    rgba.putalpha(ImageOps.invert(grey))
    out = io.BytesIO()
    rgba.save(out, format="PNG")
    return out.getvalue()


async def upload_mask(session: aiohttp.ClientSession, url: str, mask_path: Path, image_name: str) -> str:
    form = aiohttp.FormData()
    form.add_field(
        "image", mask_as_alpha_png(mask_path), filename=f"mask_{image_name}", content_type="image/png"
    )
    form.add_field("original_ref", json.dumps({"filename": image_name, "subfolder": "", "type": "input"}))
    form.add_field("overwrite", "true")
    async with session.post(f"{url}/upload/mask", data=form) as r:
        r.raise_for_status()
        return (await r.json())["name"]


async def prepare(url: str, api: dict, overrides: dict, image: Path | None, mask: Path | None) -> dict:
    """A copy of `api` with the overrides applied and the image (+ mask) uploaded and wired in."""
    api = json.loads(json.dumps(api))
    for name, value in overrides.items():
        apply_override(api, name, value)
    if image is not None:
        async with open_session() as session:
            name = await upload_image(session, url, image)
            if mask is not None:
                name = await upload_mask(session, url, mask, name)
        apply_override(api, "image", name)
    elif mask is not None:
        raise OverrideError("--mask needs --image")
    return api


async def run_one(url: str, api: dict, out_dir: Path, quiet: bool = False) -> list[Path]:
    result = await run_prompt(url, api, on_progress=None if quiet else progress_bar)
    files = await fetch_outputs(url, result, out_dir)
    if not quiet:
        print(f"done in {result.wall_s:.1f} s: " + ", ".join(str(f) for f in files))
    return files


def batch_items(inputs: Path) -> list[tuple[str, dict]]:
    """(key, overrides incl. 'image'/'mask' paths) per item, from a folder or a CSV."""
    if inputs.suffix.lower() == ".csv":
        with open(inputs, newline="") as f:
            rows = list(csv.DictReader(f))
        base = inputs.parent
        items = []
        for n, row in enumerate(rows):
            values = {
                k: (str(base / v) if k in ("image", "mask") else parse_value(v)) for k, v in row.items() if v
            }
            items.append((f"row{n + 1:05d}", values))
        return items
    images = sorted(p for p in inputs.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    items = []
    for p in images:
        values = {"image": str(p)}
        if (inputs / "masks" / p.name).is_file():
            values["mask"] = str(inputs / "masks" / p.name)
        items.append((safe_file_name(p.stem), values))
    return items


class Manifest:
    """`out/manifest.json`: {key: {"files": [...]}} for finished items; rewritten atomically after each success."""

    def __init__(self, path: Path):
        self.path = path
        self.done: dict[str, dict] = json.loads(path.read_text()) if path.is_file() else {}

    def finished(self, key: str) -> bool:
        entry = self.done.get(key)
        return entry is not None and all((self.path.parent / f).is_file() for f in entry["files"])

    def record(self, key: str, files: list[Path]) -> None:
        self.done[key] = {"files": [str(f.relative_to(self.path.parent)) for f in files]}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.done, indent=1, sort_keys=True))
        os.replace(tmp, self.path)


async def run_batch(
    url: str, api: dict, inputs: Path, out_dir: Path, common: dict, concurrency: int = 2
) -> int:
    """Run every unfinished item; returns how many are still unfinished (0 = all done)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out_dir / "manifest.json")
    todo = [(k, v) for k, v in batch_items(inputs) if not manifest.finished(k)]
    print(f"batch: {len(todo)} to run, {len(manifest.done)} already finished")
    gate = asyncio.Semaphore(concurrency)
    failed: list[str] = []

    async def one(key: str, values: dict) -> None:
        async with gate:
            values = {**common, **values}
            image = Path(values.pop("image")) if "image" in values else None
            mask = Path(values.pop("mask")) if "mask" in values else None
            try:
                prompt = await prepare(url, api, values, image, mask)
                files = await run_one(url, prompt, out_dir / key, quiet=True)
            except (PromptRejected, PromptFailed, OverrideError, aiohttp.ClientError, OSError) as e:
                print(f"{key}: FAILED: {e}", file=sys.stderr)
                failed.append(key)
                return
            manifest.record(key, files)
            print(f"{key}: done ({len(manifest.done)} finished)")

    await asyncio.gather(*(one(k, v) for k, v in todo))
    if failed:
        print(
            f"batch: {len(failed)} unfinished ({', '.join(sorted(failed))}); rerun the same command to resume"
        )
    return len(failed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "batch"):
        p = sub.add_parser(name)
        p.add_argument("workflow", help="name in workflows/api/ or a path to an API-format JSON")
        p.add_argument("--server", default=os.environ.get("COMFYUI_URL", "http://127.0.0.1:8188"))
        p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override an input")
        p.add_argument("--steps", type=int)
        p.add_argument("--seed", type=int)
        p.add_argument("--out", type=Path, default=Path("out"))
        if name == "run":
            p.add_argument("--image", type=Path)
            p.add_argument("--mask", type=Path, help="greyscale, white = repaint")
        else:
            p.add_argument("--inputs", type=Path, required=True, help="folder of images, or a CSV")
            p.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        api = load_workflow(args.workflow)
        overrides = {}
        for item in args.set:
            name, sep, value = item.partition("=")
            if not sep:
                raise OverrideError(f"--set {item!r}: expected NAME=VALUE")
            overrides[name] = parse_value(value)
        overrides.update({k: v for k, v in (("steps", args.steps), ("seed", args.seed)) if v is not None})
        if args.command == "run":
            prompt = asyncio.run(prepare(args.server, api, overrides, args.image, args.mask))
            asyncio.run(run_one(args.server, prompt, args.out))
            return 0
        return (
            1
            if asyncio.run(run_batch(args.server, api, args.inputs, args.out, overrides, args.concurrency))
            else 0
        )
    except (PromptRejected, PromptFailed, OverrideError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except aiohttp.ClientError as e:
        print(f"error: cannot talk to ComfyUI at {args.server}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
