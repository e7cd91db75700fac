"""Nodes: load the alimama inpainting ControlNet and apply it to FLUX conditioning (drop-in for core's
`ControlNetLoader` + `ControlNetInpaintingAliMamaApply`, same inputs in the same order)."""

from __future__ import annotations

import logging

import comfy.model_management as mm
import comfy.ops
import folder_paths
import torch
from comfy_api.latest import io, ui

from ..flux_core.controlnet_model import load_inpaint_controlnet
from ..flux_core.errors import FluxKitError
from ..flux_core.inpaint.mask import as_batch, mask_overlay, pair_batches
from ..flux_core.safetensors_io import read_safetensors_header
from . import comfy_types as t
from .choices import Choice, Choices
from .comfy_compat import core_model_patcher, patcher_options
from .inpaint_control import FluxKitInpaintControl
from .names import INPAINT_CN_APPLY, INPAINT_CN_LOADER, named_errors

log = logging.getLogger(__name__)
CATEGORY = "FluxKit/inpaint"
SAFETENSORS_DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}
MASK_MODE = Choices(
    INPAINT_CN_APPLY,
    "mask_mode",
    (
        Choice(
            "binary", "mask thresholded at 0.5, as alimama trained the model", ("binary (alimama training)",)
        ),
        Choice(
            "soft",
            "the mask channel keeps grey values, as ComfyUI core's node does",
            ("soft (ComfyUI core)",),
        ),
    ),
)
WEIGHT_DTYPES = ["default", "fp8_e4m3fn"]


def load_inpaint_control(path: str, weight_dtype: str = WEIGHT_DTYPES[0]) -> FluxKitInpaintControl:
    """Build the ControlNet with ComfyUI's dtype policy and layer classes (fp8 / manual cast keep working).

    `weight_dtype` "fp8_e4m3fn" stores the Linear weights in fp8 and computes in the device's compute dtype."""
    header = read_safetensors_header(path) if path.lower().endswith(".safetensors") else {}
    stored = [v.get("dtype") for k, v in header.items() if k != "__metadata__"]
    file_dtype = SAFETENSORS_DTYPES.get(max(set(stored), key=stored.count) if stored else "", None)
    supported = [torch.bfloat16, torch.float16, torch.float32]
    unet_dtype = mm.unet_dtype(model_params=-1, supported_dtypes=supported, weight_dtype=file_dtype)
    load_device, offload_device = mm.get_torch_device(), mm.unet_offload_device()
    linear_dtype = None
    if weight_dtype == "fp8_e4m3fn":
        linear_dtype = torch.float8_e4m3fn
        manual_cast = mm.unet_manual_cast(torch.float8_e4m3fn, load_device) or unet_dtype
        ops = comfy.ops.manual_cast  # casts the fp8 weights to the input's dtype for each matmul
        unet_dtype = manual_cast
    else:
        manual_cast = mm.unet_manual_cast(unet_dtype, load_device)
        ops = comfy.ops.pick_operations(unet_dtype, manual_cast, disable_fast_fp8=True)
    network = load_inpaint_controlnet(
        path, dtype=unet_dtype, device=offload_device, operations=ops, linear_weight_dtype=linear_dtype
    )
    # the class core wraps its own ControlNets in (ModelPatcherDynamic under dynamic VRAM), so that FLUX and the
    # ControlNet are managed alike in one load_models_gpu call
    patcher_class = core_model_patcher()
    patcher = patcher_class(
        network,
        load_device=load_device,
        offload_device=offload_device,
        **patcher_options(patcher_class, path),
    )
    log.info("FluxKit: loaded inpainting ControlNet %s (%s)", path, network.config)
    return FluxKitInpaintControl(network, patcher, load_device, compute_dtype=manual_cast or unet_dtype)


class FluxKitInpaintControlNetLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitInpaintControlNetLoader",
            display_name=INPAINT_CN_LOADER,
            category=CATEGORY,
            description=(
                "Loads alimama-creative's FLUX.1-dev-Controlnet-Inpainting (Alpha or Beta, diffusers format) from "
                "models/controlnet. Block counts are read from the file; residuals are interleaved exactly as alimama "
                "trained them, and the never-used last block is skipped."
            ),
            inputs=[
                io.Combo.Input(
                    "control_net_name",
                    options=folder_paths.get_filename_list("controlnet"),
                    tooltip="File in models/controlnet, e.g. FLUX.1-dev-Controlnet-Inpainting-Beta.safetensors "
                    "(Beta: 1024², Alpha: 768²).",
                ),
                io.Combo.Input(
                    "weight_dtype",
                    options=WEIGHT_DTYPES,
                    default=WEIGHT_DTYPES[0],
                    optional=True,
                    tooltip="fp8_e4m3fn stores the ControlNet's Linear weights in 8 bits (Beta 4.28 → 2.15 GB) for "
                    "small GPUs; the sampled latent moves ~4 % (thin-set measurement in docs/PERF.md).",
                ),
            ],
            outputs=[t.ControlNet.Output(tooltip="Pass to FluxKit Inpaint ControlNet Apply.")],
        )

    @classmethod
    def execute(cls, control_net_name: str, weight_dtype: str = WEIGHT_DTYPES[0]) -> io.NodeOutput:
        with named_errors(INPAINT_CN_LOADER):
            path = folder_paths.get_full_path_or_raise("controlnet", control_net_name)
            return io.NodeOutput(load_inpaint_control(path, weight_dtype))


class FluxKitInpaintControlNetApply(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitInpaintControlNetApply",
            display_name=INPAINT_CN_APPLY,
            category=CATEGORY,
            description=(
                "Attaches the inpainting ControlNet to both conditionings (so it runs in both passes when cfg > 1). "
                "Same inputs as core's ControlNetInpaintingAliMamaApply. Mask: white/1 = repaint. The control image is "
                "VAE-encoded once per prompt; any latent size works (odd sizes are padded like FLUX pads its latent)."
            ),
            inputs=[
                t.Conditioning.Input("positive", tooltip="Positive FLUX conditioning."),
                t.Conditioning.Input(
                    "negative", tooltip="Negative conditioning (used only when the sampler's cfg > 1)."
                ),
                t.ControlNet.Input("control_net", tooltip="From FluxKit Inpaint ControlNet Loader."),
                t.VAE.Input("vae", tooltip="The FLUX VAE (ae.safetensors); encodes the masked image."),
                t.Image.Input("image", tooltip="The image to inpaint (same size as the mask)."),
                t.Mask.Input("mask", tooltip="Region to repaint: 1/white = repaint, 0/black = keep."),
                io.Float.Input(
                    "strength",
                    default=1.0,
                    min=0.0,
                    max=10.0,
                    step=0.01,
                    tooltip="Residual scale. Beta: 1.0; Alpha: 0.9–0.95. Lower it if the fill ignores the prompt.",
                ),
                io.Float.Input(
                    "start_percent",
                    default=0.0,
                    min=0.0,
                    max=1.0,
                    step=0.001,
                    tooltip="Start of the sampling window where the ControlNet acts (0 = first step).",
                ),
                io.Float.Input(
                    "end_percent",
                    default=1.0,
                    min=0.0,
                    max=1.0,
                    step=0.001,
                    tooltip="End of the window (1 = last step). alimama suggests lowering it if the seam shows.",
                ),
                io.Combo.Input(
                    "mask_mode",
                    options=MASK_MODE.ids(),
                    default=MASK_MODE.default,
                    optional=True,
                    tooltip=MASK_MODE.tooltip("How the mask reaches the ControlNet:"),
                ),
            ],
            outputs=[
                t.Conditioning.Output(display_name="positive"),
                t.Conditioning.Output(display_name="negative"),
            ],
        )

    @classmethod
    def validate_inputs(cls, mask_mode: str | None = None) -> bool | str:
        return MASK_MODE.accepts(mask_mode)  # ids and the values earlier releases saved

    @classmethod
    def execute(
        cls,
        positive,
        negative,
        control_net,
        vae,
        image,
        mask,
        strength,
        start_percent,
        end_percent,
        mask_mode: str = MASK_MODE.default,
    ) -> io.NodeOutput:
        with named_errors(INPAINT_CN_APPLY):
            if not isinstance(control_net, FluxKitInpaintControl):
                raise FluxKitError(
                    f"{INPAINT_CN_APPLY}: control_net is a {type(control_net).__name__}; load the alimama "
                    f"inpainting ControlNet with '{INPAINT_CN_LOADER}' (core's ControlNetLoader output goes to "
                    "core's apply node)"
                )
            if start_percent > end_percent:
                raise FluxKitError(
                    f"{INPAINT_CN_APPLY}: start_percent {start_percent} is after end_percent {end_percent}"
                )
            hole = as_batch(mask, INPAINT_CN_APPLY)
            pair_batches(image, hole, INPAINT_CN_APPLY)  # validate sizes/batches here, where the user looks
            preview = ui.PreviewImage(mask_overlay(image, hole), cls=cls)  # what gets repainted
            if strength == 0:
                return io.NodeOutput(positive, negative, ui=preview)
            binarize = MASK_MODE.resolve(mask_mode) == "binary"
            controls: dict = {}
            outs = []
            for conditioning in (positive, negative):
                new = []
                for emb, opts in conditioning:
                    opts = opts.copy()
                    prev = opts.get("control")
                    if prev not in controls:
                        c = control_net.copy().set_inpaint(
                            image, mask, vae, strength, (start_percent, end_percent), binarize
                        )
                        controls[prev] = c.set_previous_controlnet(prev)
                    opts["control"] = controls[prev]
                    opts["control_apply_to_uncond"] = False
                    new.append([emb, opts])
                outs.append(new)
            return io.NodeOutput(outs[0], outs[1], ui=preview)


NODES = [FluxKitInpaintControlNetLoader, FluxKitInpaintControlNetApply]
