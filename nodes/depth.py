"""Nodes: depth maps with Depth-Anything-V2 on `transformers`, for depth ControlNets (Qwen2VL-Flux's union
ControlNet in mode depth), without another node pack. See flux_core/depth_anything.py for the pre- and
post-processing (Qwen2VL-Flux's). Line maps: any preprocessor pack's, or core's Canny (see README)."""

from __future__ import annotations

from dataclasses import dataclass

import comfy.model_management as mm
import comfy.model_patcher
import torch
from comfy_api.latest import io

from ..flux_core.depth_anything import estimate_depth, load_depth_anything
from ..flux_core.errors import FluxKitError
from . import comfy_types as t
from .comfy_compat import ManagedModule
from .names import DEPTH_LOADER, DEPTH_MAP, named_errors
from .paths import DEPTH_FOLDER, config_folders, find_config_folder

CATEGORY = "FluxKit/controlnet"
DepthModelType = io.Custom("FLUXKIT_DEPTH_ANYTHING")


@dataclass(frozen=True)
class LoadedDepthModel:
    model: torch.nn.Module
    processor: object
    patcher: comfy.model_patcher.ModelPatcher
    path: str


class FluxKitDepthAnythingLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitDepthAnythingLoader",
            display_name=DEPTH_LOADER,
            category=CATEGORY,
            description=(
                "Loads Depth-Anything-V2 (transformers, Hugging Face layout) from a folder in models/depth_anything, "
                "e.g. a download of depth-anything/Depth-Anything-V2-Large-hf (what Qwen2VL-Flux uses, vitl)."
            ),
            inputs=[
                io.Combo.Input(
                    "model_folder",
                    options=config_folders(DEPTH_FOLDER),
                    tooltip="Folder in models/depth_anything with config.json, model.safetensors and "
                    "preprocessor_config.json (`python -m fluxkit_tools.download depth-anything-v2` fetches "
                    "depth-anything/Depth-Anything-V2-Large-hf there).",
                ),  # fmt: skip
            ],
            outputs=[DepthModelType.Output(display_name="DEPTH_MODEL")],
        )

    @classmethod
    def execute(cls, model_folder: str) -> io.NodeOutput:
        with named_errors(DEPTH_LOADER):
            path = find_config_folder(DEPTH_FOLDER, model_folder)
            offload = mm.unet_offload_device()
            model, processor = load_depth_anything(path, torch.float32, offload)
            patcher = comfy.model_patcher.ModelPatcher(
                ManagedModule(model, "depth"), load_device=mm.get_torch_device(), offload_device=offload
            )
            return io.NodeOutput(LoadedDepthModel(model, processor, patcher, path))


class FluxKitDepthMap(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitDepthMap",
            display_name=DEPTH_MAP,
            category=CATEGORY,
            description=(
                "A depth map of each picture (near = bright), the size of the picture, normalised per picture and "
                "8-bit as Qwen2VL-Flux makes it; feed it to a depth ControlNet (union mode depth, strength 0.2)."
            ),
            inputs=[
                DepthModelType.Input("depth_model", tooltip="From FluxKit Depth Anything V2 Loader."),
                t.Image.Input("image", tooltip="The picture(s) to estimate depth for; any size."),
                io.Int.Input(
                    "resolution",
                    default=518,
                    min=140,
                    max=2044,
                    step=14,
                    tooltip="Short side the model sees (multiples of 14); 518 is what Depth-Anything-V2 and "
                    "Qwen2VL-Flux use.",
                ),  # fmt: skip
            ],
            outputs=[t.Image.Output(display_name="depth")],
        )

    @classmethod
    def execute(cls, depth_model: LoadedDepthModel, image: torch.Tensor, resolution: int) -> io.NodeOutput:
        with named_errors(DEPTH_MAP):
            if not isinstance(depth_model, LoadedDepthModel):
                raise FluxKitError(f"{DEPTH_MAP}: depth_model must come from {DEPTH_LOADER}")
            mm.load_models_gpu([depth_model.patcher])
            return io.NodeOutput(estimate_depth(depth_model.model, depth_model.processor, image, resolution))


NODES = [FluxKitDepthAnythingLoader, FluxKitDepthMap]
