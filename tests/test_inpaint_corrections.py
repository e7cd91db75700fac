"""The stitch's corrections on a real photograph (scikit-image's astronaut): a known tone shift and a known translation
are found and undone, new content keeps its colour, far-apart holes crop separately, and every mode leaves the pixels
outside hole ∪ feather bit-identical."""

from __future__ import annotations

import itertools

import pytest
import torch

from flux_core.errors import FluxKitError
from flux_core.inpaint import align, tone
from flux_core.inpaint.align import warp
from flux_core.inpaint.colour import delta_e, linear_to_srgb, srgb_to_linear
from flux_core.inpaint.crop import crop
from flux_core.inpaint.mask import grow, prepare
from flux_core.inpaint.stitch import Options, stitch

GAIN, OFFSET = torch.tensor([1.06, 0.97, 0.92]), torch.tensor([0.01, 0.0, -0.005])


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    data = pytest.importorskip("skimage.data", reason="scikit-image (requirements-test.txt) is not installed")
    return torch.from_numpy(data.astronaut()).float()[None] / 255  # [1, 512, 512, 3]


def shifted(x: torch.Tensor, gain=GAIN, offset=OFFSET) -> torch.Tensor:
    """What a model's VAE round trip does to the tone: gain and offset per channel in linear light."""
    return linear_to_srgb(srgb_to_linear(x) * gain + offset)


def blob(h=512, w=512, y=(180, 330), x=(200, 330)) -> torch.Tensor:
    m = torch.zeros(1, h, w)
    m[0, y[0] : y[1], x[0] : x[1]] = 1
    return m


def test_a_known_tone_shift_is_measured_on_the_context_and_undone_in_the_hole(photo):
    hole, b = prepare(blob(), feather_px=12)
    ideal = photo.clone()
    ideal[0, 180:330, 200:330] = torch.tensor([0.85, 0.2, 0.15])  # new content the context never shows
    crops, _, rec = crop(photo, hole, b, 512, feather_px=12)
    ideal_crops, _, _ = crop(ideal, hole, b, 512, feather_px=12)
    out, report = stitch(shifted(ideal_crops), rec, Options(align="off", blend="linear"))
    ctx = ~(grow(hole, 16)[0] > 0)
    fitted = tone.fit(shifted(ideal_crops)[0], crops[0], ctx_crop(rec), "global")
    g, o = fitted.fields(1, 1)
    assert torch.allclose(g[0, 0], GAIN, atol=0.005) and torch.allclose(o[0, 0], OFFSET, atol=0.003), report
    core = grow(hole, -8)[0] > 0
    undone = delta_e(out[0][core], ideal[0][core]).mean()
    untreated = delta_e(
        stitch(shifted(ideal_crops), rec, Options("off", "off", "linear"))[0][0][core], ideal[0][core]
    )
    assert undone < 0.5 < untreated.mean() and "gain R×1.06" in report.replace("1.059", "1.06")
    assert torch.equal(out[0][b[0] == 0], photo[0][b[0] == 0]) and bool(ctx.any())


def ctx_crop(rec):
    from flux_core.inpaint.stitch import context_mask

    return context_mask(rec, 0, rec.out_size, 16)


def test_a_saturated_object_on_a_neutral_surrounding_keeps_its_colour():
    g = torch.Generator().manual_seed(0)
    grey = (0.45 + 0.1 * torch.rand(1, 256, 256, 1, generator=g)).expand(1, 256, 256, 3).contiguous()
    red = torch.tensor([0.9, 0.08, 0.06])
    hole, b = prepare(blob(256, 256, (90, 170), (80, 180)), feather_px=8)
    ideal = grey.clone()
    ideal[0, 90:170, 80:180] = red
    _, _, rec = crop(grey, hole, b, 256, feather_px=8)
    ideal_crops, _, _ = crop(ideal, hole, b, 256, feather_px=8)
    out, _ = stitch(shifted(ideal_crops), rec, Options())
    core = grow(hole, -4)[0] > 0
    assert delta_e(out[0][core], red.expand(int(core.sum()), 3)).mean() < 1.0  # still that red, shift undone
    for mode in ("global", "smooth"):
        again, _ = stitch(ideal_crops, rec, Options(tone=mode))
        assert delta_e(again[0][core], red.expand(int(core.sum()), 3)).mean() < 0.5  # nothing to undo: kept


@pytest.mark.parametrize("t", [(0.0, 0.0), (0.3, -0.2), (1.5, 0.7), (-2.25, 3.1), (12.4, -7.6)])
def test_known_translations_are_found_to_a_tenth_of_a_pixel(photo, t):
    ctx = torch.ones(512, 512, dtype=torch.bool)
    ctx[180:330, 200:330] = False
    moved = warp(photo[0], -t[0], -t[1], "bicubic").clamp(0, 1)  # content moved by t
    moved[180:330, 200:330] = torch.rand(150, 130, 3, generator=torch.Generator().manual_seed(1))
    s = align.estimate(shifted(moved), photo[0], ctx)
    assert abs(s.dx - t[0]) <= 0.1 and abs(s.dy - t[1]) <= 0.1, (s, t)
    assert s.moved == (t != (0.0, 0.0))
    if not s.moved:
        assert align.undo(moved, s) is moved  # a no-op when nothing moved


def test_a_moved_crop_is_moved_back_before_pasting(photo):
    hole, b = prepare(blob(), feather_px=8)
    _, _, rec = crop(photo, hole, b, 512, feather_px=8)
    crops, _, _ = crop(photo, hole, b, 512, feather_px=8)
    gen = warp(crops[0], -2.0, 1.0, "bicubic").clamp(0, 1)[None]
    plain, _ = stitch(gen, rec, Options("off", "off", "linear"))
    fixed, report = stitch(gen, rec, Options("off", "translation", "linear"))
    ring = (b[0] > 0) & (b[0] < 1)
    assert (fixed[0][ring] - photo[0][ring]).abs().mean() < 0.3 * (
        plain[0][ring] - photo[0][ring]
    ).abs().mean()
    scale = rec.out_size[1] / rec.boxes[0].w  # the report is in pixels of the picture, not of the crop
    dx, dy = (float(v) for v in report.split("picture (")[1].split(")")[0].split(","))
    assert abs(dx - 2.0 / scale) < 0.1 and abs(dy + 1.0 / scale) < 0.1, report


def two_far_blobs(h=300, w=600):
    m = torch.zeros(1, h, w)
    m[0, 100:140, 40:90] = 1
    m[0, 150:200, 480:540] = 1
    return m


def test_far_apart_holes_get_a_crop_each_near_ones_share_and_the_paste_is_exact():
    ramp = torch.linspace(0, 1, 600).view(1, 1, 600, 1) * torch.linspace(0.2, 1, 300).view(1, 300, 1, 1)
    img = ramp.expand(1, 300, 600, 3) * torch.tensor([1.0, 0.7, 0.4])  # smooth: resampling is nearly exact
    hole, b = prepare(two_far_blobs(), feather_px=6)
    crops, holes, rec = crop(img, hole, b, 128, separate=True, feather_px=6)
    assert crops.shape[0] == 2 and rec.items == (0, 0) and rec.region == (1, 2)
    assert all(max(bx.w, bx.h) < 200 for bx in rec.boxes)  # each box around one hole, not one spanning both
    assert holes[0].sum() > 0 and holes[1].sum() > 0
    out, _ = stitch(crops, rec, Options("off", "off", "linear"))
    assert (out - img).abs().max() < 2e-3  # identity generation: each region back where it came from
    out, _ = stitch(1 - crops, rec, Options("off", "off", "linear"))
    assert torch.equal(out[0][b[0] == 0], img[0][b[0] == 0])
    assert (out[0][hole[0] > 0] - img[0][hole[0] > 0]).abs().mean() > 0.2  # both holes got their content
    together, _, rec1 = crop(img, hole, b, 128, separate=False, feather_px=6)
    assert together.shape[0] == 1 and rec1.boxes[0].w > 400
    near = torch.zeros(1, 300, 600)
    near[0, 100:140, 40:90] = near[0, 100:140, 110:150] = 1
    assert crop(img, *prepare(near, feather_px=6), 128, separate=True, feather_px=6)[0].shape[0] == 1


def test_batches_of_images_and_masks_keep_working_with_regions():
    imgs = torch.rand(2, 300, 600, 3, generator=torch.Generator().manual_seed(3))
    masks = torch.cat([two_far_blobs(), torch.zeros(1, 300, 600)])
    masks[1, 10:40, 10:40] = 1
    hole, b = prepare(masks, feather_px=4)
    crops, _, rec = crop(imgs, hole, b, 64, separate=True, feather_px=4)
    assert crops.shape[0] == 3 and rec.items == (0, 0, 1)
    out, _ = stitch(1 - crops, rec, Options("off", "off", "linear"))
    assert out.shape == imgs.shape
    for i in range(2):
        assert torch.equal(out[i][b[i] == 0], imgs[i][b[i] == 0])
    with pytest.raises(FluxKitError, match="2 generated images for 3 crops"):
        stitch(crops[:2], rec)


MODES = [Options(t, a, bl) for t, a, bl in itertools.product(("off", "global", "smooth"), ("off", "translation"),
                                                               ("linear", "multiband"))]  # fmt: skip


@pytest.mark.parametrize("opts", MODES, ids=lambda o: f"{o.tone}-{o.align}-{o.blend}")
def test_every_mode_keeps_outside_pixels_and_never_worsens_the_core(photo, opts):
    hole, b = prepare(blob(), feather_px=10)
    ideal = photo.flip(1)  # new content: the picture upside down
    ideal = torch.where(hole[..., None] > 0, ideal, photo)
    _, _, rec = crop(photo, hole, b, 384, feather_px=10)
    ideal_crops, _, _ = crop(ideal, hole, b, 384, feather_px=10)
    core = grow(hole, -10)[0] > 0
    for gen in (shifted(ideal_crops), ideal_crops):  # a shifted model, and one that kept the tone
        out, _ = stitch(gen, rec, opts)
        base, _ = stitch(gen, rec, Options("off", "off", "linear"))
        assert torch.equal(out[0][b[0] == 0], photo[0][b[0] == 0])
        err = delta_e(out[0][core], ideal[0][core]).mean()
        assert err <= delta_e(base[0][core], ideal[0][core]).mean() + 0.01


def test_the_tone_fit_uses_the_simplest_model_the_context_supports(photo):
    """No shift (only a softer generation): the colours are left alone; a uniform shift asked as `smooth` is fitted
    global and said so; a shift stronger on one side keeps the smooth field and undoes it better than global."""
    from bench.seams_scenes import _blur

    hole, b = prepare(blob(), feather_px=12)
    crops, _, rec = crop(photo, hole, b, 512, feather_px=12)
    ctx = ctx_crop(rec)
    soft = _blur(crops[0], 1.0)
    assert tone.fit(soft, crops[0], ctx, "smooth").negligible
    uniform = tone.fit(shifted(crops)[0], crops[0], ctx, "smooth")
    assert uniform.model == "global" and "no variation across the crop" in uniform.summary()
    u = torch.linspace(-1, 1, crops.shape[2])[None, :, None]  # left → right
    ramp = linear_to_srgb(srgb_to_linear(crops[0]) * (1 + 0.08 * u) + 0.01 * u)
    smooth = tone.fit(ramp, crops[0], ctx, "smooth")
    assert smooth.model == "smooth"
    inside = ~ctx
    errs = {m: (tone.fit(ramp, crops[0], ctx, m).apply(ramp) - crops[0])[inside].abs().mean() for m in ("global",
            "smooth")}  # fmt: skip
    assert errs["smooth"] < 0.5 * errs["global"], errs


def test_the_multiband_blend_keeps_the_original_detail_across_the_feather(photo):
    from bench.seams_scenes import _blur

    hole, b = prepare(blob(), feather_px=16)
    crops, _, rec = crop(photo, hole, b, 512, feather_px=16)
    soft = _blur(crops[0], 1.5)[None]  # a softer generation of the same picture
    feather_zone = (b[0] > 0) & (b[0] < 1)
    errs = {m: (stitch(soft, rec, Options("off", "off", m))[0][0] - photo[0])[feather_zone].abs().mean()
            for m in ("linear", "multiband")}  # fmt: skip
    assert errs["multiband"] < 0.6 * errs["linear"]


def test_tiny_or_empty_context_is_reported_or_refused():
    img = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(4))
    full = torch.ones(1, 64, 64)
    full[0, :2, :] = 0  # two rows of context, all of it inside the guard
    hole, b = prepare(full, feather_px=2)
    crops, _, rec = crop(img, hole, b, 64, min_context_px=0, context=0.0, feather_px=2)
    with pytest.raises(FluxKitError, match="context pixels"):
        stitch(crops, rec, Options(align="off"))
    out, report = stitch(crops, rec, Options("off", "translation", "linear"))  # nothing to fit: said
    assert "too little context" in report and torch.equal(out[0][b[0] == 0], img[0][b[0] == 0])
    small = torch.zeros(1, 96, 96)
    small[0, 4:92, 4:92] = 1
    hole, b = prepare(small, feather_px=2)
    crops, _, rec = crop(img.repeat(1, 2, 2, 1)[:, :96, :96], hole, b, 96, context=0.0, min_context_px=8)
    _, report = stitch(shifted(crops), rec, Options("smooth", "off", "linear", guard_px=2))
    assert "fitted global" in report
    wild = tone.fit(crops[0] * 0 + 0.9, crops[0] * 0 + 0.2, torch.ones(96, 96, dtype=torch.bool), "global")
    assert "clamped" in wild.summary() and float(wild.fields(1, 1)[0].max()) <= tone.GAIN_MAX


def test_bad_generated_images_are_named():
    img = torch.rand(1, 64, 64, 3)
    hole, b = prepare(blob(64, 64, (20, 40), (20, 40)))
    crops, _, rec = crop(img, hole, b, 64)
    with pytest.raises(FluxKitError, match=r"the image is 64×32 but the crop was 64×64"):
        stitch(crops[:, :32], rec)
    bad = crops.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(FluxKitError, match="NaN"):
        stitch(bad, rec)
    big, _ = stitch(torch.nn.functional.interpolate(crops.movedim(-1, 1), scale_factor=2).movedim(1, -1), rec)
    assert big.shape == img.shape  # a scaled copy of the crop (an upscaler's output) is fine


def test_a_hole_fill_paints_only_the_crops_hole_and_the_stitch_pastes_the_model_not_the_fill():
    from flux_core.inpaint.crop import HOLE_FILLS

    img = torch.rand(1, 96, 96, 3, generator=torch.Generator().manual_seed(5))
    hole, b = prepare(blob(96, 96, (30, 60), (30, 60)), feather_px=4)
    plain, holes, rec = crop(img, hole, b, 96, feather_px=4)
    green, _, rec_green = crop(img, hole, b, 96, feather_px=4, fill=HOLE_FILLS["green"])
    inside = holes[0] > 0
    assert 0 < int(inside.sum()) < inside.numel()
    assert torch.equal(green[0][inside], torch.tensor([0.0, 1.0, 0.0]).expand(int(inside.sum()), 3))
    assert torch.equal(green[0][~inside], plain[0][~inside])
    model = torch.rand(plain.shape, generator=torch.Generator().manual_seed(6))  # what a model might paint
    out, _ = stitch(model, rec, Options("off", "off", "linear"))
    out_green, _ = stitch(model, rec_green, Options("off", "off", "linear"))
    assert torch.equal(out_green, out)  # the fill never reaches the result: the record holds the original
    far = torch.ones(96, 96, dtype=torch.bool)
    far[20:70, 20:70] = False
    assert torch.equal(out_green[0][far], img[0][far])
