"""A tiny random Depth-Anything-V2 folder in the Hugging Face layout (config.json with model_type "depth_anything",
model.safetensors, preprocessor_config.json as depth-anything/Depth-Anything-V2-Large-hf ships it), for the depth
node's tests and the thin set: DINOv2 backbone of width 32, 4 layers, patch 14; every weight seeded random."""

from __future__ import annotations

import os

import torch

# depth-anything/Depth-Anything-V2-Large-hf preprocessor_config.json
PREPROCESSOR = dict(
    do_resize=True, size={"height": 518, "width": 518}, keep_aspect_ratio=True, ensure_multiple_of=14, resample=3,
    do_rescale=True, rescale_factor=1 / 255, do_normalize=True, image_mean=[0.485, 0.456, 0.406],
    image_std=[0.229, 0.224, 0.225], do_pad=False,
)  # fmt: skip


def write_tiny_depth_anything(folder: str, seed: int = 0) -> str:
    from transformers import (
        DepthAnythingConfig,
        DepthAnythingForDepthEstimation,
        Dinov2Config,
        DPTImageProcessor,
    )

    backbone = Dinov2Config(
        hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64, patch_size=14,
        image_size=518, out_features=["stage1", "stage2", "stage3", "stage4"], reshape_hidden_states=False,
    )  # fmt: skip
    config = DepthAnythingConfig(
        backbone_config=backbone, neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16, head_hidden_size=8,
        reassemble_hidden_size=32, patch_size=14, depth_estimation_type="relative",
    )  # fmt: skip
    model = DepthAnythingForDepthEstimation(config).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1:
                p.copy_(
                    (1.0 if "norm" in name and name.endswith("weight") else 0.0)
                    + 0.02 * torch.randn(p.shape, generator=gen)
                )
            else:
                p.copy_(torch.randn(p.shape, generator=gen) / max(p[0].numel(), 1) ** 0.5)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    DPTImageProcessor(**PREPROCESSOR).save_pretrained(folder)
    return folder
