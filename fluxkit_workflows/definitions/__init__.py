"""Every FluxKit workflow as code: name → (family builder, variant). Add one by adding a row here (and a variant
field where the family lacks the knob); `python -m fluxkit_workflows.build` writes its files."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ..graph import Graph
from .bfl import FillVariant, fill_turbo, kontext_edit_masked
from .flux import InpaintVariant, dmd2_sdxl_4step, inpainting, t2i_turbo_8step
from .klein import KleinVariant, klein
from .qwen import QwenVariant, qwen2vl
from .qwen_control import ControlVariant, qwen2vl_controlnet

WORKFLOWS: dict[str, Callable[[], Graph]] = {
    "inpainting_turbo_8step": partial(inpainting, InpaintVariant(steps=8, turbo=True)),
    "inpainting_28step": partial(inpainting, InpaintVariant(steps=28, turbo=False)),
    "t2i_turbo_8step": t2i_turbo_8step,
    "dmd2_sdxl_4step": dmd2_sdxl_4step,
    "qwen2vl_variation": partial(qwen2vl, QwenVariant("variation")),
    "qwen2vl_variation_text": partial(qwen2vl, QwenVariant("variation_text", with_text=True)),
    "qwen2vl_img2img": partial(qwen2vl, QwenVariant("img2img", denoise=0.8)),
    "qwen2vl_inpaint": partial(qwen2vl, QwenVariant("inpaint", inpaint=True)),
    "qwen2vl_controlnet_depth": partial(
        qwen2vl_controlnet, ControlVariant("qwen2vl_controlnet_depth", ("depth",))
    ),
    "qwen2vl_controlnet_line": partial(
        qwen2vl_controlnet, ControlVariant("qwen2vl_controlnet_line", ("line",))
    ),
    "qwen2vl_controlnet_inpaint": partial(
        qwen2vl_controlnet, ControlVariant("qwen2vl_controlnet_inpaint", ("depth", "line"), inpaint=True)
    ),
    "fill_inpaint_turbo_8step": partial(fill_turbo, FillVariant()),
    "fill_outpaint_turbo_8step": partial(fill_turbo, FillVariant(outpaint=True)),
    "kontext_edit_masked": kontext_edit_masked,
    "klein_edit_masked": partial(klein, KleinVariant()),
    "klein_inpaint": partial(klein, KleinVariant(inpaint=True)),
}
