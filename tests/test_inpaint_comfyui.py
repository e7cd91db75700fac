"""Crop → (VAE round trip as the 'generation') → stitch through FluxKit's nodes in a real ComfyUI, thin FLUX VAE."""

from __future__ import annotations

import sys

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


def test_stitch_node_undoes_a_known_shift_reports_it_and_names_bad_input(live_comfy):
    """The node as dropped in (colour match, alignment, multi-band blend) on a picture whose 'generation' is the crop
    moved by 2 px and tinted: the preview says what it undid; outside pixels stay bit-identical; two far holes crop
    separately; bad input is an error starting with the node's name."""
    from flux_core.errors import FluxKitError
    from flux_core.inpaint.align import warp
    from flux_core.inpaint.colour import linear_to_srgb, srgb_to_linear

    crop_node = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitInpaintCrop"]
    stitch_node = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitInpaintStitch"]
    ramp = torch.linspace(0, 1, 240).view(1, 1, 240, 1) * torch.linspace(0.3, 1, 160).view(1, 160, 1, 1)
    image = (
        (ramp + 0.15 * torch.sin(torch.arange(240) / 3.0).view(1, 1, 240, 1))
        .clamp(0, 1)
        .expand(1, 160, 240, 3)
    )
    image = image * torch.tensor([1.0, 0.8, 0.6])
    mask = torch.zeros(1, 160, 240)
    mask[:, 60:100, 90:150] = 1.0
    crops, _, record = crop_node.execute(image, mask, 256, 0.5, 16, 0, 8, False).result
    gen = linear_to_srgb(
        srgb_to_linear(warp(crops[0], -2.0, 0.0, "bicubic")) * torch.tensor([1.08, 1.0, 0.9])
    )[None]
    out = stitch_node.execute(record, gen, True, 16)
    text = "\n".join(out.ui["text"]) if isinstance(out.ui, dict) else str(out.ui.as_dict())
    assert "moved the picture (+" in text and "gain R×1.0" in text, text
    result = out.result[0]
    assert torch.equal(result[record.blend == 0], image[record.blend == 0])
    plain = stitch_node.execute(record, gen, False, 16, "global", "off", "linear").result[0]
    hole = mask > 0
    assert (result[hole] - image[hole]).abs().mean() < 0.5 * (plain[hole] - image[hole]).abs().mean()
    two = mask.clone()
    two[:, 10:30, 10:30] = 1.0
    two[:, 130:150, 200:230] = 1.0
    assert (
        crop_node.execute(image, two, 64, 0.5, 8, 0, 4, False).result[0].shape[0] == 3
    )  # "separate" by default
    assert (
        crop_node.execute(image, two, 64, 0.5, 8, 0, 4, False, "long_side", "together").result[0].shape[0]
        == 1
    )
    for bad, words in ((gen[:, :100], "but the crop was"), (gen * float("nan"), "NaN")):
        with pytest.raises(FluxKitError) as raised:
            stitch_node.execute(record, bad, True, 16)
        assert str(raised.value).startswith("FluxKit Inpaint Stitch: ") and words in str(raised.value)


def test_every_combo_id_of_crop_and_stitch_names_a_row_of_flux_cores_tables(live_comfy):
    """The ids a workflow stores and the tables flux_core looks them up in agree both ways (a combo value with no
    row would fail at run time; a row with no combo value would be unreachable)."""
    from flux_core.inpaint.blend import BLENDS
    from flux_core.inpaint.crop import HOLE_FILLS

    inputs = sys.modules[f"{live_comfy.pack.__name__}.nodes.inpaint_inputs"]  # loaded with the pack
    assert inputs.HOLE_FILL.ids() == list(HOLE_FILLS)
    assert HOLE_FILLS["none"] is None and HOLE_FILLS["green"] == (0.0, 1.0, 0.0)
    assert set(inputs.BLEND.ids()) == set(BLENDS)
    assert set(inputs.SIZES) == set(inputs.SIZE_PRESET.ids())
