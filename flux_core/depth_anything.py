"""Depth maps with Depth-Anything-V2 through `transformers` (`DepthAnythingForDepthEstimation`), for depth
ControlNets such as Qwen2VL-Flux's union ControlNet (mode 2).

Folder: the Hugging Face layout of depth-anything/Depth-Anything-V2-{Small,Base,Large}-hf (config.json with
model_type "depth_anything", model.safetensors, preprocessor_config.json).

Pre-processing is the folder's own image processor (DPTImageProcessor: the short side to 518 keeping the aspect
ratio, multiples of 14, bicubic, ImageNet mean/std), as Depth-Anything-V2's `infer_image` (input_size 518) does
for pictures larger than 518 px; for smaller ones DPT keeps the scale closer to 1 on the other side. Post-processing
is Qwen2VL-Flux's (model.py `generate_depth_map` on `infer_image`): the predicted depth [B, h', w'] resized to the
picture (bilinear, align_corners=True), normalised per picture to 0..1 (min → 0, max → 1; a flat prediction → 0),
quantised to 8 bits (the reference makes a uint8 PIL image of it) and repeated to 3 channels: [B, H, W, 3].
"""

from __future__ import annotations

import json
import os

import torch
import torch.nn.functional as F

from .errors import FluxKitError

DEPTH_MODEL_TYPE = "depth_anything"


def check_depth_folder(path: str) -> None:
    """FluxKitError unless `path` holds a Depth-Anything config.json."""
    config = os.path.join(path, "config.json")
    try:
        with open(config, encoding="utf-8") as f:
            model_type = json.load(f).get("model_type")
    except (OSError, json.JSONDecodeError, AttributeError) as e:
        raise FluxKitError(
            f"{path}: no readable config.json ({e}); expected a Depth-Anything-V2 folder"
        ) from e
    if model_type != DEPTH_MODEL_TYPE:
        raise FluxKitError(
            f"{path}: config.json says model_type {model_type!r}, not {DEPTH_MODEL_TYPE!r}: expected a "
            "Depth-Anything-V2 folder in the Hugging Face layout (e.g. depth-anything/Depth-Anything-V2-Large-hf)"
        )


def load_depth_anything(path: str, dtype: torch.dtype = torch.float32, device="cpu"):
    """(model, image processor) from a Depth-Anything-V2 folder."""
    check_depth_folder(path)
    from transformers import AutoImageProcessor, DepthAnythingForDepthEstimation

    try:
        model = DepthAnythingForDepthEstimation.from_pretrained(path, torch_dtype=dtype, use_safetensors=True)
        processor = AutoImageProcessor.from_pretrained(path, **slow_processor_kwargs())
    except (OSError, ValueError) as e:
        raise FluxKitError(f"{path}: cannot load Depth-Anything-V2 ({e})") from e
    return model.to(device).eval(), processor


def slow_processor_kwargs() -> dict:
    """The keyword that picks the PIL-based image processor (the published one, what Depth-Anything-V2's own
    resize is closest to) as the installed transformers spells it: 4.x `use_fast=False`, 5.x `backend="pil"`."""
    import transformers

    return {"backend": "pil"} if int(transformers.__version__.split(".")[0]) >= 5 else {"use_fast": False}


def to_uint8(images: torch.Tensor) -> list:
    """ComfyUI IMAGE [B, H, W, 3] in 0..1 → uint8 HxWx3 arrays (what a PIL picture gives the processor)."""
    return list((images.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy())


def depth_to_image(predicted: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Predicted depth [B, h', w'] → IMAGE [B, H, W, 3] (resize, per-picture min-max, 8-bit, grey → RGB)."""
    depth = F.interpolate(predicted[:, None].float(), size, mode="bilinear", align_corners=True)[:, 0]
    low = depth.amin(dim=(1, 2), keepdim=True)
    span = depth.amax(dim=(1, 2), keepdim=True) - low
    norm = torch.where(span > 0, (depth - low) / span.clamp_min(torch.finfo(depth.dtype).tiny), 0.0)
    levels = (norm * 255).to(torch.uint8).float() / 255  # truncation, as numpy's astype(uint8)
    return levels[..., None].expand(-1, -1, -1, 3).contiguous()


def estimate_depth(model, processor, images: torch.Tensor, resolution: int = 518) -> torch.Tensor:
    """IMAGE [B, H, W, 3] → depth IMAGE [B, H, W, 3] (near = bright, as Depth-Anything predicts disparity)."""
    if resolution % 14:
        raise FluxKitError(f"resolution {resolution} is not a multiple of 14 (Depth-Anything's patch size)")
    inputs = processor(
        images=to_uint8(images), size={"height": resolution, "width": resolution}, return_tensors="pt"
    )
    param = next(model.parameters())
    with torch.no_grad():
        predicted = model(pixel_values=inputs["pixel_values"].to(param.device, param.dtype)).predicted_depth
    return depth_to_image(predicted.cpu(), tuple(images.shape[1:3]))
