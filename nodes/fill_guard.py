"""FLUX.1 Fill needs its conditioning from InpaintModelConditioning; core samples it without one anyway.

Fill's `img_in` reads 384 columns: the noisy latent, the masked picture's latent and the mask (96 input channels).
ComfyUI takes the last two from the conditioning (`concat_latent_image`, `concat_mask`, written by core's
`InpaintModelConditioning`); where they are absent, `Flux.concat_cond` (0.3.64 … 0.28.2) fills in a zero latent
and an all-ones mask and samples as if the whole picture were blank, with no message. FluxKit nodes that hand on
a Fill model add an OUTER_SAMPLE wrapper that refuses such a graph before the first step, naming the node that
added it. The wrapper lives in the clone's `wrappers` (the input model is untouched); ComfyUI copies those into
the sampler's model_options.
"""

from __future__ import annotations

import comfy.patcher_extension as ext

from ..flux_core.errors import FluxKitError
from .comfy_compat import FLUX1_FILL_CHANNELS, flux1_config, flux1_variant

WRAPPER_KEY = "fluxkit_fill_needs_inpaint_conditioning"


def lists_without_inpaint_conditioning(conds: dict[str, list[dict]]) -> list[str]:
    """The names of the guider's conditioning lists ("positive", "negative") with an entry that carries no
    `concat_latent_image` (entries are ComfyUI's converted conditioning dicts)."""
    return sorted(
        name for name, entries in conds.items() if any("concat_latent_image" not in e for e in entries)
    )


def _guard(where: str):
    def fill_guard(executor, *args, **kwargs):
        guider = executor.class_obj
        missing = lists_without_inpaint_conditioning(getattr(guider, "conds", None) or {})
        if missing:
            raise FluxKitError(
                f"{where}: the model is {flux1_variant({'in_channels': FLUX1_FILL_CHANNELS})}, and the {' and '.join(missing)} "
                "conditioning did not come through InpaintModelConditioning (picture, mask and VAE): ComfyUI would "
                "sample it with a blank picture and a full mask. Put InpaintModelConditioning between the prompt and "
                "the sampler (its latent output is the sampler's latent), as the fill_inpaint_turbo_8step workflow does."
            )
        return executor(*args, **kwargs)

    return fill_guard


def add_fill_guard(patcher, where: str) -> bool:
    """On a FLUX.1 `patcher` (a clone the caller owns) that is Fill, add the conditioning check; True when added.
    A model that is not FLUX.1 is a FluxKitError naming `where` (comfy_compat.flux1_config)."""
    if flux1_config(patcher, where).get("in_channels") != FLUX1_FILL_CHANNELS:
        return False
    if patcher.get_wrappers(ext.WrappersMP.OUTER_SAMPLE, WRAPPER_KEY):
        return True  # a stacked loader already added it
    patcher.add_wrapper_with_key(ext.WrappersMP.OUTER_SAMPLE, WRAPPER_KEY, _guard(where))
    return True
