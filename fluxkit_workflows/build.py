"""Write every workflow of `definitions/` in the forms users and ComfyUI read:

    workflows/ui/<name>.json          UI format: drag into the graph editor
    workflows/api/<name>.json         API format: POST /prompt, the headless client, the demo
    example_workflows/<name>.json     the UI form again, for ComfyUI's template browser (generated, never edited)
    example_workflows/<name>.jpg      its thumbnail: the graph's layout drawn from the node positions

    python -m fluxkit_workflows.build           # rewrite all
    python -m fluxkit_workflows.build --check   # exit 1 if any file differs from what would be written

The UI files sit one level below `workflows/` because ComfyUI also scans `<pack>/workflows/*.json` for templates.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import fluxkit_cli as cli

from .definitions import WORKFLOWS
from .paths import API_DIR, REPO, TEMPLATE_DIR, UI_DIR

GROUP_FILL = (60, 60, 70)
NODE_FILL = {"FluxKit": (150, 70, 160), "Note": (120, 100, 50)}


def dumps(obj) -> str:
    return json.dumps(obj, indent=1, ensure_ascii=False) + "\n"


def thumbnail(ui: dict, title: str, size: tuple[int, int] = (512, 384)) -> bytes:
    """A JPEG sketch of the graph: groups, nodes (FluxKit's in purple), links, and the title."""
    from PIL import Image, ImageDraw

    nodes = ui["nodes"]
    x0 = min(n["pos"][0] for n in nodes) - 40
    y0 = min(n["pos"][1] for n in nodes) - 80
    x1 = max(n["pos"][0] + n["size"][0] for n in nodes) + 40
    y1 = max(n["pos"][1] + n["size"][1] for n in nodes) + 40
    w, h = size
    scale = min(w / (x1 - x0), (h - 48) / (y1 - y0))

    def pt(x: float, y: float) -> tuple[float, float]:
        return ((x - x0) * scale, 48 + (y - y0) * scale)

    img = Image.new("RGB", size, (32, 32, 36))
    draw = ImageDraw.Draw(img)
    for group in ui["groups"]:
        gx, gy, gw, gh = group["bounding"]
        draw.rectangle([pt(gx, gy), pt(gx + gw, gy + gh)], fill=GROUP_FILL, outline=(110, 110, 130))
    by_id = {n["id"]: n for n in nodes}
    for _, src, slot, dst, _dst_slot, _kind in ui["links"]:
        a, b = by_id[src], by_id[dst]
        draw.line(
            [pt(a["pos"][0] + a["size"][0], a["pos"][1] + 20 + 12 * slot), pt(b["pos"][0], b["pos"][1] + 20)],
            fill=(200, 200, 120),
            width=1,
        )
    for n in nodes:
        kind = "FluxKit" if n["type"].startswith("FluxKit") else n["type"]
        fill = NODE_FILL.get(kind, (70, 90, 120))
        draw.rectangle([pt(*n["pos"]), pt(n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])], fill=fill)
    draw.text((10, 10), f"FluxKit · {title}", fill=(240, 240, 240))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=85)
    return out.getvalue()


def outputs() -> dict[Path, bytes]:
    """Every generated file and its exact content."""
    files: dict[Path, bytes] = {}
    for name, make in WORKFLOWS.items():
        graph = make()
        ui = graph.to_ui(name)
        files[UI_DIR / f"{name}.json"] = dumps(ui).encode()
        files[API_DIR / f"{name}.json"] = dumps(graph.api).encode()
        files[TEMPLATE_DIR / f"{name}.json"] = dumps(ui).encode()
        files[TEMPLATE_DIR / f"{name}.jpg"] = thumbnail(ui, name)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = cli.Parser(prog="python -m fluxkit_workflows.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report stale files instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for path, content in outputs().items():
        if path.suffix == ".jpg" and args.check:
            continue  # JPEG bytes depend on the Pillow version; the test checks the image instead
        if not path.is_file() or path.read_bytes() != content:
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
    verb = "stale" if args.check else "wrote"
    for path in stale:
        print(f"{verb}: {path.relative_to(REPO)}")
    if args.check and stale:
        print("run `python -m fluxkit_workflows.build` and commit the result", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "python -m fluxkit_workflows.build"))
