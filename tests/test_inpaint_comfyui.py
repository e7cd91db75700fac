"""Crop → (VAE round trip as the 'generation') → stitch through FluxKit's nodes in a real ComfyUI, thin FLUX VAE."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.comfyui


def test_crop_vae_stitch_keeps_outside_pixels(live_comfy, thin_models):
    sd, utils = live_comfy.import_module("comfy.sd"), live_comfy.import_module("comfy.utils")
    vae = sd.VAE(sd=utils.load_torch_file(thin_models["vae"]))
    crop_node = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitInpaintCrop"]
    stitch_node = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitInpaintStitch"]
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 150, 230, 3, generator=g)  # not a multiple of 16
    mask = torch.zeros(1, 150, 230)
    mask[:, 60:90, 100:140] = 1.0
    crop_out = crop_node.execute(image, mask, 128, 0.5, 16, 0, 8, False)
    crops, holes, record = crop_out.result
    assert crops.shape[1] % 16 == 0 and crops.shape[2] % 16 == 0 and max(crops.shape[1:3]) == 128
    decoded = vae.decode(vae.encode(crops))  # the thin VAE is random: a strong stand-in for a model's changes
    out = stitch_node.execute(record, decoded, False, 16).result[0]
    outside = record.blend == 0
    assert torch.equal(out[outside], image[outside])
    # without paste-back (the whole image through the VAE) everything would change:
    whole = vae.decode(vae.encode(image[:, :144, :224]))
    change_without = (whole - image[:, :144, :224])[outside[:, :144, :224]].abs().mean().item()
    print(f"mean abs change outside the mask: with paste-back 0.0, without {change_without:.3f}")
    assert change_without > 0.01
