"""Every FluxKit workflow as code: name → (family builder, variant). Add one by adding a row here (and a variant
field where the family lacks the knob); `python -m fluxkit_workflows.build` writes its files."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ..graph import Graph
from .flux import InpaintVariant, dmd2_sdxl_4step, inpainting, t2i_turbo_8step
from .qwen import QwenVariant, qwen2vl

WORKFLOWS: dict[str, Callable[[], Graph]] = {
    "inpainting_turbo_8step": partial(inpainting, InpaintVariant(steps=8, turbo=True)),
    "inpainting_28step": partial(inpainting, InpaintVariant(steps=28, turbo=False)),
    "t2i_turbo_8step": t2i_turbo_8step,
    "dmd2_sdxl_4step": dmd2_sdxl_4step,
    "qwen2vl_variation": partial(qwen2vl, QwenVariant("variation")),
    "qwen2vl_variation_text": partial(qwen2vl, QwenVariant("variation_text", with_text=True)),
    "qwen2vl_img2img": partial(qwen2vl, QwenVariant("img2img", denoise=0.8)),
    "qwen2vl_inpaint": partial(qwen2vl, QwenVariant("inpaint", inpaint=True)),
}
