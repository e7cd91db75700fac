"""FLUX.1 Fill needs its conditioning from InpaintModelConditioning; core samples it without one anyway.

Fill's `img_in` reads 384 columns: the noisy latent, the masked picture's latent and the mask (96 input channels).
ComfyUI takes the last two from the conditioning (`concat_latent_image`, `concat_mask`, both written by core's
`InpaintModelConditioning`); where they are absent, `Flux.concat_cond` (0.3.64 … 0.33) fills in a zero latent and an
all-ones mask and samples as if the whole picture were blank, with no message.

The policy, here and nowhere else: an OUTER_SAMPLE wrapper on a Fill model refuses, before the first step, a
guider whose *evaluated* conditioning lacks either key. Evaluated: every list the guider holds, except the negative
of a CFG guider at cfg 1 (core skips it there unless `disable_cfg1_optimization`), so a ConditioningZeroOut
negative wired straight in is fine. One check per sampling call, none per step. The wrapper goes on a clone (the
input model is untouched); the FluxKit Fill Guard node adds it, and `fill_prompt_guard` puts that node behind every
loader of a Fill model in the prompts a server receives, so a Fill model is guarded however it was loaded.
"""

from __future__ import annotations

import math

import comfy.patcher_extension as ext
from comfy_api.latest import io

from ..flux_core.errors import FluxKitError
from . import comfy_types as t
from .comfy_compat import FLUX1_FILL_CHANNELS, flux1_variant
from .names import FILL_GUARD, named_errors

WRAPPER_KEY = "fluxkit_fill_needs_inpaint_conditioning"
CONCAT_KEYS = ("concat_latent_image", "concat_mask")


def evaluated(guider) -> dict[str, list[dict]]:
    """The guider's conditioning lists sampling will evaluate (ComfyUI's converted conditioning dicts)."""
    conds = dict(getattr(guider, "conds", None) or {})
    cfg = getattr(guider, "cfg", None)
    options = getattr(guider, "model_options", None) or {}
    if (
        isinstance(cfg, (int, float))
        and math.isclose(cfg, 1.0)
        and not options.get("disable_cfg1_optimization")
    ):
        conds.pop("negative", None)
    return conds


def lists_without_inpaint_conditioning(conds: dict[str, list[dict]]) -> list[str]:
    """Names of the lists with an entry lacking one of CONCAT_KEYS (an InstructPix2Pix-style entry that has only
    `concat_latent_image` counts as lacking: Fill would read an all-ones mask)."""
    return sorted(
        name for name, entries in conds.items() if any(any(k not in e for k in CONCAT_KEYS) for e in entries)
    )


def _guard(where: str):
    def fill_guard(executor, *args, **kwargs):
        missing = lists_without_inpaint_conditioning(evaluated(executor.class_obj))
        if missing:
            raise FluxKitError(
                f"{where}: the model is {flux1_variant({'in_channels': FLUX1_FILL_CHANNELS})}, and the "
                f"{' and '.join(missing)} conditioning did not come through InpaintModelConditioning (picture, mask "
                "and VAE): ComfyUI would sample it with a blank picture and a full mask. Put InpaintModelConditioning "
                "between the prompt and the sampler (its latent output is the sampler's latent), as the "
                "fill_inpaint_turbo_8step workflow does."
            )
        return executor(*args, **kwargs)

    return fill_guard


def is_fill(model) -> bool:
    """Whether `model` (a MODEL patcher) is FLUX.1 Fill by ComfyUI's own detection (in_channels 96 of a FLUX.1)."""
    cfg = getattr(getattr(getattr(model, "model", None), "model_config", None), "unet_config", None) or {}
    return cfg.get("image_model") == "flux" and cfg.get("in_channels") == FLUX1_FILL_CHANNELS


def guarded(model, where: str):
    """`model` itself when it is not Fill or already guarded, else a clone with the check added."""
    if not is_fill(model) or model.get_wrappers(ext.WrappersMP.OUTER_SAMPLE, WRAPPER_KEY):
        return model
    clone = model.clone()
    clone.add_wrapper_with_key(ext.WrappersMP.OUTER_SAMPLE, WRAPPER_KEY, _guard(where))
    return clone


class FluxKitFillGuard(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitFillGuard",
            display_name=FILL_GUARD,
            category="FluxKit/inpaint",
            description=(
                "Makes a FLUX.1 Fill model refuse to sample conditioning that did not come through "
                "InpaintModelConditioning (core would sample a blank picture and a full mask without a word). Any "
                "other model passes through unchanged. FluxKit adds it behind Fill loaders by itself; set "
                "FLUXKIT_FILL_GUARD=0 in ComfyUI's environment to stop that."
            ),
            inputs=[t.Model.Input("model", tooltip="Any MODEL; only FLUX.1 Fill gets the check.")],
            outputs=[
                t.Model.Output(
                    tooltip="The model (a Fill model: a copy with the check; the input is untouched)."
                )
            ],
        )

    @classmethod
    def execute(cls, model) -> io.NodeOutput:
        with named_errors(FILL_GUARD):
            return io.NodeOutput(guarded(model, FILL_GUARD))


NODES = [FluxKitFillGuard]
