"""Control input: polarity, black fill, channel order before packing, nearest resize, batches, edge cases."""

from __future__ import annotations

import pytest
import torch

from flux_core.control_input import (
    build_control_latent,
    control_latent,
    image_ids,
    mask_channel,
    pack_tokens,
)
from flux_core.errors import FluxKitError


def fake_encode(pixels: torch.Tensor) -> torch.Tensor:
    """A deterministic stand-in encoder with the VAE's shape contract ([B,H,W,3] → [B,16,H/8,W/8]): 8×8 average
    pooling of each colour channel, spread over 16 channels with distinct gains. The VAE is not under test here."""
    x = pixels.movedim(-1, 1)
    pooled = torch.nn.functional.avg_pool2d(x, 8)  # [B, 3, h, w]
    gains = torch.arange(1, 17, dtype=pixels.dtype).view(1, 16, 1, 1)
    return pooled[:, [i % 3 for i in range(16)]] * gains


def test_mask_channel_polarity_and_nearest_resize():
    mask = torch.zeros(1, 16, 16)
    mask[:, :8, :] = 1.0  # top half repaint
    ch = mask_channel(mask, (2, 2))
    assert ch.shape == (1, 1, 2, 2)
    assert ch[0, 0].tolist() == [[0.0, 0.0], [1.0, 1.0]]  # 1 = keep after inversion


def test_nearest_exact_picks_sample_points_not_averages():
    mask = torch.zeros(1, 8, 8)
    mask[0, 1, 1] = 1.0  # one pixel; nearest-exact at 2× down samples pixels (1,1),(1,3),...
    assert mask_channel(mask, (4, 4))[0, 0, 0, 0] == 0.0
    mask2 = torch.zeros(1, 8, 8)
    mask2[0, 0, 0] = 1.0  # not a sample point: invisible at 4×4
    assert mask_channel(mask2, (4, 4)).min() == 1.0


def test_hole_is_black_and_outside_untouched():
    image = torch.full((1, 16, 16, 3), 0.7)
    mask = torch.zeros(1, 16, 16)
    mask[:, 8:, 8:] = 1.0
    seen = {}

    def encode(px):
        seen["px"] = px.clone()
        return fake_encode(px)

    out = build_control_latent(image, mask, encode)
    px = seen["px"]
    assert torch.all(px[:, 8:, 8:] == 0.0)  # black (= -1 after the VAE's 2x-1)
    assert torch.all(px[:, :8, :] == 0.7) and torch.all(px[:, :, :8] == 0.7)
    assert torch.all(image == 0.7)  # input untouched
    assert out.shape == (1, 17, 2, 2)
    assert out[0, 16].tolist() == [[1.0, 1.0], [1.0, 0.0]]


def test_channel_order_mask_in_features_64_to_67():
    latent = torch.arange(16, dtype=torch.float32).view(1, 16, 1, 1).expand(1, 16, 2, 2).clone()
    mask = torch.ones(1, 16, 16)  # all repaint → mask channel 0
    mask[:, :8, :8] = 0.0  # keep the top-left quarter → channel 1 there
    feats = pack_tokens(control_latent(latent, mask))
    assert feats.shape == (1, 1, 68)
    f = feats[0, 0]
    for c in range(16):
        assert f[c * 4 : c * 4 + 4].tolist() == [float(c)] * 4  # (c ph pw): channel-major
    assert f[64:68].tolist() == [1.0, 0.0, 0.0, 0.0]  # mask at (ph=0, pw=0) keep, rest hole


def test_binarise_default_and_soft_option():
    """The mask channel (index 16, 1 = keep) is 1 − (mask ≥ 0.5) by default and 1 − mask with binarize=False."""
    soft = torch.tensor([0.2, 0.5, 0.49, 0.9]).repeat_interleave(8).view(1, 1, 32).expand(1, 8, 32).clone()
    image = torch.rand(1, 8, 32, 3)
    binary = build_control_latent(image, soft, fake_encode)[0, 16, 0]
    kept = build_control_latent(image, soft, fake_encode, binarize=False)[0, 16, 0]
    assert binary.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert torch.allclose(kept, torch.tensor([0.8, 0.5, 0.51, 0.1]))


def test_empty_and_full_masks_are_finite_and_defined():
    image = torch.rand(1, 16, 16, 3)
    empty = build_control_latent(image, torch.zeros(1, 16, 16), fake_encode)
    full = build_control_latent(image, torch.ones(1, 16, 16), fake_encode)
    assert torch.isfinite(empty).all() and torch.isfinite(full).all()
    assert torch.all(empty[:, 16] == 1.0) and torch.all(full[:, 16] == 0.0)
    assert torch.all(full[:, :16] == 0.0)  # black image encodes to 0 with this encoder
    nan_mask = torch.full((1, 16, 16), float("nan"))
    assert torch.isfinite(build_control_latent(image, nan_mask, fake_encode)).all()


def test_batches_broadcast_one_mask_and_refuse_mismatch():
    images = torch.rand(2, 16, 16, 3)
    one_mask = torch.zeros(1, 16, 16)
    one_mask[:, :8] = 1
    out = build_control_latent(images, one_mask, fake_encode)
    assert out.shape[0] == 2 and torch.equal(out[0, 16], out[1, 16])
    with pytest.raises(FluxKitError, match="2 images and 3 masks"):
        build_control_latent(images, torch.zeros(3, 16, 16), fake_encode)
    with pytest.raises(FluxKitError, match="mask is 8×8"):
        build_control_latent(images, torch.zeros(1, 8, 8), fake_encode)


def test_odd_latent_sizes_pad_like_comfyui():
    x = torch.arange(2 * 3 * 5, dtype=torch.float32).view(1, 2, 3, 5)
    tokens = pack_tokens(x)
    assert tokens.shape == (1, 2 * 3, 8)
    padded = torch.nn.functional.pad(x, (0, 1, 0, 1), mode="circular")
    assert torch.equal(tokens[0, 0], padded[0, :, 0:2, 0:2].reshape(-1))
    ids = image_ids((3, 5), batch=2)
    assert ids.shape == (2, 6, 3)
    assert ids[0, 4].tolist() == [0.0, 1.0, 1.0] and ids[0, 2].tolist() == [0.0, 0.0, 2.0]
