"""ComfyUI control object for the alimama inpainting ControlNet (a `comfy.controlnet.ControlBase`).

ComfyUI's samplers call `get_control(x, sigma, cond, batched_number, transformer_options)` on every model call of
every conditioning that carries a control; the FLUX model adds `control["input"][i]` to its image tokens after
double block i. This class:

- builds the 17-channel control latent once per prompt and latent size (first call), reuses it for every step and
  both CFG passes, keeps the last HINT_SIZES sizes (area composition alternates crop sizes every step) and frees them
  where core's ControlBase clears its `cond_hints` (0.38): in `set_inpaint` (core: `set_cond_hint`) and `cleanup()`;
- follows ControlBase's newer contract where the running ComfyUI has it (comfy/controlnet.py at Comfy-Org/ComfyUI
  03b1ca6): MultiGPU copies carry the patcher's `fast_disk`, `cond_hints`/`control_inputs` are cleared by the base
  class's `cleanup`;
- runs only the ControlNet blocks whose residuals the interleave rule uses (alimama's 6th is never used on FLUX);
- returns a per-base-block list following the schedule, summed with any earlier ControlNet in the chain;
- skips all work outside the start/end window (checked on sigma, as core does).
"""

from __future__ import annotations

import copy
import logging

import comfy.controlnet
import comfy.model_management as mm
import comfy.model_patcher
import torch

from ..flux_core.control_input import build_control_latent, image_ids, pack_tokens
from ..flux_core.errors import FluxKitError
from ..flux_core.residual_schedule import ResidualRule, residual_schedule, residuals_used
from .comfy_compat import flux1_config, flux1_variant, patcher_options
from .names import INPAINT_CN_APPLY

log = logging.getLogger(__name__)
HINT_SIZES = 2  # latent sizes whose control tokens are kept at once (core's ControlNet keeps two)


class FluxKitInpaintControl(comfy.controlnet.ControlBase):
    """One inpainting ControlNet applied to a conditioning: the shared network plus this apply's image/mask."""

    def __init__(
        self, network, patcher, load_device, compute_dtype, rule: ResidualRule = ResidualRule.INTERVAL
    ):
        super().__init__()
        self.network = network  # flux_core AlimamaInpaintControlNet
        self.patcher = patcher  # ModelPatcher around it, for ComfyUI's memory management
        self.load_device = load_device
        self.compute_dtype = compute_dtype
        self.rule = ResidualRule(rule)
        self.image = None  # [B, H, W, 3] in [0, 1]
        self.mask = None  # [B, H, W], 1 = repaint
        self.binarize = True
        self.encode_count = 0  # observability: how often the control image was VAE-encoded
        self._tokens_by_hw: dict[
            tuple[int, int], torch.Tensor
        ] = {}  # [B, L, 68] per latent size, this prompt
        self._model_sampling = None
        self._latent_format = None
        self._schedule = None

    # --- configuration (called by the apply node) -------------------------------------------------------------
    def set_inpaint(self, image, mask, vae, strength: float, percent_range, binarize: bool):
        self.image, self.mask, self.vae = image, mask, vae
        self.strength, self.timestep_percent_range, self.binarize = strength, percent_range, binarize
        self._tokens_by_hw.clear()  # a new picture: what core's set_cond_hint does to its cond_hints
        return self

    def copy(self):
        c = FluxKitInpaintControl(self.network, self.patcher, self.load_device, self.compute_dtype, self.rule)
        self.copy_to(c)
        c.image, c.mask, c.vae, c.binarize = self.image, self.mask, self.vae, self.binarize
        return c

    def deepclone_multigpu(self, load_device, autoregister=False):
        """This control for another GPU (core's MultiGPU sampling, ComfyUI 0.23+): the same image, mask and settings
        with its own copy of the network in its own patcher on `load_device`, as core's ControlNet does. With
        `autoregister` it is kept in `multigpu_clones`, where the sampler's per-device threads look it up."""
        c = self.copy()
        c.network = copy.deepcopy(self.network)
        options = patcher_options(
            comfy.model_patcher.ModelPatcher, fast_disk=getattr(self.patcher, "fast_disk", False)
        )
        c.patcher = comfy.model_patcher.ModelPatcher(
            c.network, load_device=load_device, offload_device=mm.unet_offload_device(), **options
        )
        c.load_device = load_device
        if autoregister:
            self.multigpu_clones[load_device] = c
        return c

    # --- ComfyUI sampling hooks ----------------------------------------------------------------------------------
    def pre_run(self, model, percent_to_timestep_function):
        super().pre_run(model, percent_to_timestep_function)
        flux = flux1_config(model, INPAINT_CN_APPLY)
        if flux.get("in_channels", 16) != 16:
            raise FluxKitError(
                f"{INPAINT_CN_APPLY}: the model is {flux1_variant(flux)}; the alimama inpainting ControlNet was "
                "trained on FLUX.1-dev (16 input channels). FLUX.1 Fill inpaints by itself: remove this node and "
                "give the sampler core's InpaintModelConditioning instead (FluxKit workflow fill_inpaint_turbo_8step)"
            )
        if self.network.config.hidden_size != flux["hidden_size"]:
            raise FluxKitError(
                f"{INPAINT_CN_APPLY}: the ControlNet is {self.network.config.hidden_size} wide, the FLUX model "
                f"{flux['hidden_size']}"
            )
        self._model_sampling = model.model_sampling
        self._latent_format = model.latent_format
        self._schedule = residual_schedule(
            int(flux["depth"]), self.network.config.num_double_blocks, self.rule
        )

    def cleanup(self):
        self._tokens_by_hw.clear()
        self._model_sampling = self._latent_format = self._schedule = None
        super().cleanup()

    def get_models(self):
        return super().get_models() + [self.patcher]

    def get_control(self, x_noisy, t, cond, batched_number, transformer_options):
        prev = None
        if self.previous_controlnet is not None:
            prev = self.previous_controlnet.get_control(x_noisy, t, cond, batched_number, transformer_options)
        if self.timestep_range is not None and (
            t[0] > self.timestep_range[0] or t[0] < self.timestep_range[1]
        ):
            return prev
        if self._schedule is None:
            raise FluxKitError(
                f"{INPAINT_CN_APPLY}: the control was used before the sampler prepared it (pre_run)"
            )
        device, dtype = x_noisy.device, self.compute_dtype
        cond_tokens = self._batched(self._control_for(x_noisy), x_noisy.shape[0], batched_number).to(
            device, dtype
        )
        x_in = self._model_sampling.calculate_input(t, x_noisy)
        img = pack_tokens(x_in).to(dtype)
        context = cond.get("crossattn_controlnet", cond["c_crossattn"]).to(device, dtype)
        pooled, guidance = cond.get("y"), cond.get("guidance")
        residuals = self.network(
            img=img,
            cond=cond_tokens,
            txt=context,
            pooled=None if pooled is None else pooled.to(device, dtype),
            timesteps=self._model_sampling.timestep(t).to(device, dtype),
            guidance=None if guidance is None else guidance.to(device, dtype),
            img_ids=image_ids(tuple(x_noisy.shape[-2:]), x_noisy.shape[0], device, dtype),
            txt_ids=torch.zeros(x_noisy.shape[0], context.shape[1], 3, device=device, dtype=dtype),
            scale=self.strength,
            num_residuals=residuals_used(self._schedule),
        )
        per_block = [residuals[k] for k in self._schedule]
        return merge_controls({"input": per_block, "middle": [], "output": []}, prev)

    # --- helpers -------------------------------------------------------------------------------------------------
    def _control_for(self, x_noisy) -> torch.Tensor:
        """Packed control tokens [Bc, L, 68] for this latent size; VAE-encoded once per prompt and size."""
        hw = tuple(x_noisy.shape[-2:])
        if hw in self._tokens_by_hw:
            return self._tokens_by_hw[hw]
        if self.vae is None:
            raise FluxKitError(
                f"{INPAINT_CN_APPLY}: no VAE connected; the inpainting ControlNet needs the FLUX VAE"
            )
        image, mask = _resize_to(self.image, self.mask, (hw[0] * 8, hw[1] * 8))
        loaded = mm.loaded_models(only_currently_used=True)
        latent = build_control_latent(
            image, mask, self._encode, binarize=self.binarize, where=INPAINT_CN_APPLY
        )
        mm.load_models_gpu(loaded)
        while len(self._tokens_by_hw) >= HINT_SIZES:  # the oldest size goes, as core keeps its cond_hints
            self._tokens_by_hw.pop(next(iter(self._tokens_by_hw)))
        self._tokens_by_hw[hw] = pack_tokens(latent)
        return self._tokens_by_hw[hw]

    def _encode(self, pixels: torch.Tensor) -> torch.Tensor:
        self.encode_count += 1
        return self._latent_format.process_in(self.vae.encode(pixels))

    @staticmethod
    def _batched(tokens: torch.Tensor, batch: int, batched_number: int) -> torch.Tensor:
        """Match the control batch to the model batch (conds × latents): 1 → all, per-latent → tiled per cond."""
        n = tokens.shape[0]
        if n == batch:
            return tokens
        if n == 1:
            return tokens.expand(batch, -1, -1)
        if batched_number > 0 and batch % batched_number == 0 and n == batch // batched_number:
            return tokens.repeat(batched_number, 1, 1)
        raise FluxKitError(
            f"{INPAINT_CN_APPLY}: {n} control images for a latent batch of {batch // max(batched_number, 1)}"
        )


def _resize_to(image: torch.Tensor, mask: torch.Tensor, hw: tuple[int, int]):
    """Resize image [B,H,W,C] and mask [B,H,W]/[H,W] to `hw` with nearest-exact when they differ from the latent's
    pixel size (as core does); sizes already equal pass through untouched."""
    if tuple(image.shape[1:3]) == hw:
        return image, mask
    log.info(
        "%s: resizing control image %s to the latent's pixel size %s",
        INPAINT_CN_APPLY,
        tuple(image.shape[1:3]),
        hw,
    )
    img = torch.nn.functional.interpolate(image.movedim(-1, 1), size=hw, mode="nearest-exact").movedim(1, -1)
    m = mask if mask.ndim == 3 else mask.unsqueeze(0)
    m = torch.nn.functional.interpolate(m.unsqueeze(1).float(), size=hw, mode="nearest-exact").squeeze(1)
    return img, m


def merge_controls(control: dict, prev: dict | None) -> dict:
    """Sum two control dicts entry by entry ({'input': [...], 'middle': [...], 'output': [...]}), never in place."""
    if prev is None:
        return control
    out = {}
    for key in ("input", "middle", "output"):
        mine, theirs = list(control.get(key, [])), list(prev.get(key, []))
        merged = []
        for i in range(max(len(mine), len(theirs))):
            a = mine[i] if i < len(mine) else None
            b = theirs[i] if i < len(theirs) else None
            merged.append(b if a is None else a if b is None else a + b)
        out[key] = merged
    return out
