"""Inputs for runs on the thin set: a test picture with a transparent hole, and workflows rewired for thin models
(text encoders swapped for a saved conditioning, resolutions lowered for a CPU)."""

from __future__ import annotations

import copy
from pathlib import Path

TEXT_ENCODER_NODES = {"CLIPTextEncode", "CLIPTextEncodeFlux"}


def demo_image(path: Path, width: int, height: int) -> Path:
    """An RGBA test picture: colour gradients and shapes, with a transparent ellipse as the inpainting hole."""
    import numpy as np
    from PIL import Image, ImageDraw

    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack(
        [x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) * 127 // (width + height)], -1
    )
    img = Image.fromarray(rgb.astype("uint8"), "RGB")
    draw = ImageDraw.Draw(img)
    draw.rectangle([width // 8, height // 8, width // 3, height // 2], fill=(220, 40, 40))
    alpha = Image.new("L", (width, height), 255)
    ImageDraw.Draw(alpha).ellipse([width * 2 // 5, height // 3, width * 3 // 4, height * 5 // 6], fill=0)
    img.putalpha(alpha)
    img.save(path)
    return path


def thin_variant(api: dict, prompt_file: str, resolution: int) -> dict:
    """The workflow rewired for the thin set: text encoders → FluxKit Load Conditioning (no T5/CLIP), the crop and
    schedule resolution lowered to `resolution` for a CPU. Returns a new dict; `api` is untouched."""
    out = copy.deepcopy(api)
    for node_id, node in list(out.items()):
        kind = node["class_type"]
        if kind in TEXT_ENCODER_NODES:
            out[node_id] = {
                "inputs": {"conditioning_name": prompt_file},
                "class_type": "FluxKitLoadConditioning",
                "_meta": {"title": f"{node['_meta']['title']} (saved conditioning)"},
            }
        elif kind in ("DualCLIPLoader", "CLIPLoader"):  # its only consumers were the text encoders
            del out[node_id]
        elif kind == "FluxKitInpaintCrop":
            node["inputs"]["resolution"] = resolution
        elif kind == "FluxKitTurboScheduler":  # a size linked from the crop (GetImageSize) stays linked
            for side in ("width", "height"):
                if not isinstance(node["inputs"].get(side), list):
                    node["inputs"][side] = resolution
        elif kind in ("EmptySD3LatentImage", "EmptyLatentImage"):
            node["inputs"]["width"] = node["inputs"]["height"] = resolution
    return out


def set_inputs(api: dict, class_type: str, **values) -> dict:
    for node in api.values():
        if node["class_type"] == class_type:
            node["inputs"].update(values)
    return api
