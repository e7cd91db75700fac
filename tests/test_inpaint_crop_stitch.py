"""Crop → inpaint → stitch leaves every pixel outside hole ∪ feather bit-identical, at any size and batch."""

from __future__ import annotations

import pytest
import torch

from flux_core.errors import FluxKitError
from flux_core.inpaint.colour import lab_to_rgb, rgb_to_lab
from flux_core.inpaint.crop import KONTEXT_SIZES, crop, output_size
from flux_core.inpaint.mask import feather, grow, looks_inverted, prepare
from flux_core.inpaint.stitch import Options, stitch

PLAIN = Options("off", "off", "linear")  # FluxKit 0.1's stitch: no correction, linear feather


def paste(generated, record, opts=PLAIN):
    return stitch(generated, record, opts)[0]


def image(h, w, b=1, seed=0):
    return torch.rand(b, h, w, 3, generator=torch.Generator().manual_seed(seed))


def fake_generation(crops):
    """Stands in for the diffusion model: a visibly different image of the same size."""
    return 1.0 - crops


def rect_mask(h, w, y0, y1, x0, x1, b=1):
    m = torch.zeros(b, h, w)
    m[:, y0:y1, x0:x1] = 1.0
    return m


CASES = {
    "odd size": (203, 157, (50, 90, 40, 100)),
    "touches borders": (120, 144, (0, 40, 100, 144)),
    "one pixel": (97, 131, (60, 61, 70, 71)),
    "full": (64, 80, (0, 64, 0, 80)),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("feather_px", [0, 6])
def test_outside_hole_and_feather_is_bit_identical(name, feather_px):
    h, w, (y0, y1, x0, x1) = CASES[name]
    img = image(h, w)
    before = img.clone()
    hole, blend = prepare(rect_mask(h, w, y0, y1, x0, x1), grow_px=0, feather_px=feather_px)
    crops, crop_holes, rec = crop(img, hole, blend, resolution=256)
    assert crops.shape[1] % 16 == 0 and crops.shape[2] % 16 == 0 and max(crops.shape[1:3]) == 256
    out = paste(fake_generation(crops), rec)
    untouched = blend == 0
    assert torch.equal(out[untouched], img[untouched])  # bit-identical outside hole ∪ feather
    inside = hole > 0
    assert (out[inside] - img[inside]).abs().mean() > 0.1  # and the hole really got the new content
    assert torch.equal(img, before)  # inputs never modified


def test_empty_mask_returns_input_unchanged():
    img = image(90, 70)
    hole, blend = prepare(torch.zeros(1, 90, 70), feather_px=4)
    crops, holes, rec = crop(img, hole, blend, resolution=128)
    assert rec.empty == (True,) and holes.sum() == 0
    assert torch.equal(paste(fake_generation(crops), rec), img)


def test_round_trip_identity_generation_is_exact_without_resize():
    img = image(160, 160)
    hole, blend = prepare(rect_mask(160, 160, 48, 112, 48, 112), feather_px=3)
    crops, _, rec = crop(img, hole, blend, resolution=128, context=0.0, min_context_px=29)
    assert (rec.boxes[0].w, rec.boxes[0].h) == (128, 128) and crops.shape[1:3] == (128, 128)  # no resampling
    assert torch.equal(paste(crops, rec), img)
    assert torch.equal(
        paste(crops, rec, Options()), img
    )  # every correction on: nothing to correct, still exact


def test_round_trip_with_resize_within_resampling_error():
    img = torch.linspace(0, 1, 300).view(1, 1, 300, 1).expand(1, 300, 300, 3).contiguous()  # smooth ramp
    hole, blend = prepare(rect_mask(300, 300, 100, 200, 120, 180), feather_px=2)
    crops, _, rec = crop(img, hole, blend, resolution=512)
    out = paste(crops, rec)
    assert (out - img).abs().max() < 2.0 / 300  # within about one pixel of a ramp's step


def test_snap_and_resolution_arithmetic():
    assert output_size(300, 100, 1024) == (336, 1024)  # 1024/3 = 341.3 → 336
    assert output_size(100, 100, 768) == (768, 768)
    img = image(1000, 1500)
    hole, blend = prepare(rect_mask(1000, 1500, 400, 500, 700, 760))
    crops, holes, rec = crop(img, hole, blend, resolution=1024, context=1.0)
    box = rec.boxes[0]
    assert max(crops.shape[1:3]) == 1024 and crops.shape[1] % 16 == 0 and crops.shape[2] % 16 == 0
    assert abs(box.w / box.h - crops.shape[2] / crops.shape[1]) < 1.0 / min(box.w, box.h)  # no distortion
    assert holes.unique().tolist() == [0.0, 1.0]  # the ControlNet gets a binary hole


def test_batches_are_explicit():
    img = image(64, 64)
    masks = torch.cat([rect_mask(64, 64, 0, 10, 0, 10), rect_mask(64, 64, 30, 60, 20, 50)])
    hole, blend = prepare(masks)
    crops, holes, rec = crop(img, hole, blend, resolution=64)
    assert crops.shape[0] == 2 and len(rec.boxes) == 2  # one image, two masks → two crops
    out = paste(fake_generation(crops), rec)
    assert out.shape == (2, 64, 64, 3)
    assert torch.equal(out[0][blend[0] == 0], img[0][blend[0] == 0])
    with pytest.raises(FluxKitError, match="2 images and 3 masks"):
        crop(image(64, 64, b=2), *prepare(torch.zeros(3, 64, 64)))
    with pytest.raises(FluxKitError, match="1 generated images for 2 crops"):
        paste(crops[:1], rec)


def test_feather_is_linear_outward_with_hard_support():
    hole = rect_mask(21, 21, 10, 11, 10, 11)
    f = feather(hole, 4)
    assert f[0, 10, 10] == 1.0 and f[0, 10, 12].item() == pytest.approx(1 - 2 / 5) and f[0, 10, 14] > 0
    assert f[0, 10, 15] == 0.0 and f[0, 10, 16] == 0.0
    assert torch.equal(grow(grow(hole, 3), -3), hole)  # grow then shrink restores a rectangle


def test_polarity_check():
    assert looks_inverted(rect_mask(10, 10, 0, 10, 0, 9)) == [0]
    assert looks_inverted(rect_mask(10, 10, 2, 4, 2, 4)) == []


def test_lab_round_trip():
    rgb = torch.rand(1000, 3)
    assert (lab_to_rgb(rgb_to_lab(rgb)) - rgb).abs().max() < 1e-4


def test_mask_overlay_tints_only_the_hole_and_keeps_inputs():
    from flux_core.inpaint.mask import mask_overlay

    image = torch.rand(2, 6, 5, 3)
    mask = torch.zeros(6, 5)
    mask[1:3, 2:4] = 1
    before = image.clone()
    out = mask_overlay(image, mask, colour=(1.0, 0.0, 0.0), opacity=0.5)
    assert torch.equal(image, before) and out.shape == image.shape
    hole = mask.bool()
    assert torch.equal(out[:, ~hole], image[:, ~hole])
    expected = image[:, hole] * 0.5 + torch.tensor([0.5, 0.0, 0.0])
    assert torch.allclose(out[:, hole], expected)
    small = mask_overlay(image, mask[None, ::2, ::2].clone())  # a mask of another size is resized (nearest)
    assert small.shape == image.shape


@pytest.mark.parametrize(("box_hw", "expected_wh"), [((100, 100), (1024, 1024)), ((60, 140), (1504, 688)),
                                                     ((150, 80), (752, 1392))])  # fmt: skip
def test_kontext_sizes_pick_the_nearest_trained_size_and_stitch_stays_exact(box_hw, expected_wh):
    """Boxes include the 4 px feather (108², 68×148, 158×88). At resolution 1024 the crop is exactly one of
    Kontext's sizes (core's FluxKontextImageScale rule: nearest aspect); the box is widened to that aspect, so nothing
    is distorted and the stitch is still exact outside."""
    bh, bw = box_hw
    img = image(400, 400)
    hole, blend = prepare(rect_mask(400, 400, 150, 150 + bh, 130, 130 + bw), grow_px=0, feather_px=4)
    crops, _, rec = crop(
        img, hole, blend, resolution=1024, context=0.0, min_context_px=0, sizes=KONTEXT_SIZES
    )
    assert (crops.shape[2], crops.shape[1]) == expected_wh and expected_wh in KONTEXT_SIZES
    box = rec.boxes[0]
    assert abs(box.w / box.h - expected_wh[0] / expected_wh[1]) < 0.02  # the box took the size's aspect
    out = paste(fake_generation(crops), rec)
    assert torch.equal(out[blend == 0], img[blend == 0])
    small, _, _ = crop(img, hole, blend, resolution=128, context=0.0, min_context_px=0, sizes=KONTEXT_SIZES)
    assert small.shape[1] % 16 == 0 and small.shape[2] % 16 == 0 and max(small.shape[1:3]) <= 208
