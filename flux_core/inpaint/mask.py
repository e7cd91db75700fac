"""Mask preparation for inpainting: binarise, grow/shrink, feather for blending, polarity check.

Masks are [B, H, W] floats, 1 = repaint (ComfyUI's MASK convention). The ControlNet gets the binary *hole*; the
feathered *blend* mask is only used to paste the result back. Feathering has a hard radius, so every pixel farther
than `feather` from the hole has blend weight exactly 0 and is left bit-identical by the stitch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import FluxKitError

INVERTED_COVERAGE = (
    0.75  # a hole covering more than this fraction of the image probably has its polarity flipped
)


def as_batch(mask: torch.Tensor, where: str) -> torch.Tensor:
    """[H, W] or [B, H, W] → float [B, H, W] without NaN, clamped to [0, 1] (a new tensor)."""
    if mask.ndim == 2:
        mask = mask.unsqueeze(0)
    if mask.ndim != 3:
        raise FluxKitError(f"{where}: mask must be [H, W] or [B, H, W], got {tuple(mask.shape)}")
    return torch.nan_to_num(mask.float(), nan=0.0).clamp(0.0, 1.0)


def binarize(mask: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """≥ `threshold` → 1, else 0 (as diffusers' VaeImageProcessor and alimama's training recipe)."""
    return (mask >= threshold).to(mask.dtype)


def pair_batches(images: torch.Tensor, masks: torch.Tensor, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The one batch rule for images [B_i, H, W, C] and masks [B_m, H, W]: equal, or one side 1 (broadcast as a
    view); another size or count is an error naming `where`."""
    if tuple(images.shape[1:3]) != tuple(masks.shape[1:3]):
        raise FluxKitError(
            f"{where}: image is {images.shape[2]}×{images.shape[1]} but mask is {masks.shape[2]}×{masks.shape[1]} "
            "(width×height); give a mask of the image's size (Load Image outputs both)"
        )
    bi, bm = images.shape[0], masks.shape[0]
    if bi == bm:
        return images, masks
    if bm == 1:
        return images, masks.expand(bi, -1, -1)
    if bi == 1:
        return images.expand(bm, -1, -1, -1), masks
    raise FluxKitError(
        f"{where}: {bi} images and {bm} masks; use equal batches, or 1 image or 1 mask to broadcast"
    )


def grow(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """[B, H, W]: dilate (pixels > 0) or erode (pixels < 0) with a square of radius |pixels| (separably: a row
    pass, then a column pass); values stay in [0, 1]."""
    if pixels == 0:
        return mask
    r = abs(pixels)
    x = mask.unsqueeze(1)
    if pixels < 0:
        x = -F.pad(x, (r, r, r, r), value=1.0)
    pad = (0, r) if pixels > 0 else (0, 0)
    x = F.max_pool2d(x, (1, 2 * r + 1), stride=1, padding=pad)
    x = F.max_pool2d(x, (2 * r + 1, 1), stride=1, padding=pad[::-1])
    return (x if pixels > 0 else -x).squeeze(1)


def dilate(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """[B, H, W] binary (> 0.5) → bool dilated by a square of radius `pixels`: the same as `grow` on a binary
    mask, in O(1) per pixel whatever the radius (box sums from cumulative sums, exact in float32 below 2^24 px)."""
    x = (mask > 0.5).float()
    if pixels <= 0:
        return x > 0.5
    r = pixels
    x = F.pad(x, (r + 1, r, r + 1, r))
    c = x.cumsum(-1)
    x = c[..., 2 * r + 1 :] - c[..., : -2 * r - 1]
    c = x.cumsum(-2)
    return (c[..., 2 * r + 1 :, :] - c[..., : -2 * r - 1, :]) > 0.5


def feather(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Blend mask: 1 on the hole, falling linearly outward to 0 over `pixels` (chessboard distance d → 1 − d/(r+1)).

    Computed as the mean of the hole dilated by 0…r pixels, so weights are exactly 0 beyond `pixels` from the hole
    and exactly the hole's value on it; soft holes feather the same way.
    """
    if pixels <= 0:
        return mask.clone()
    acc, cur = mask.clone(), mask
    for _ in range(pixels):
        cur = grow(cur, 1)
        acc = acc + cur
    return acc / (pixels + 1)


def looks_inverted(mask: torch.Tensor) -> list[int]:
    """Indices of batch items whose hole covers more than INVERTED_COVERAGE of the image (white = repaint)."""
    coverage = (mask >= 0.5).float().mean(dim=(1, 2))
    return [i for i, c in enumerate(coverage.tolist()) if c > INVERTED_COVERAGE]


def prepare(
    mask: torch.Tensor, binary: bool = True, grow_px: int = 0, feather_px: int = 0, where: str = "mask"
) -> tuple[torch.Tensor, torch.Tensor]:
    """mask → (hole for the ControlNet, blend mask for the stitch), both [B, H, W]."""
    m = as_batch(mask, where)
    hole = grow(binarize(m) if binary else m, grow_px)
    return hole, feather(hole, feather_px)


def mask_overlay(
    image: torch.Tensor,
    mask: torch.Tensor,
    colour: tuple[float, float, float] = (1.0, 0.1, 0.1),
    opacity: float = 0.5,
) -> torch.Tensor:
    """A preview of what will be repainted: `image` [B, H, W, 3] in 0…1 tinted with `colour` where `mask`
    ([B, H, W] or [H, W], 1 = repaint; batches broadcast) is set. Returns a new tensor; the inputs are untouched."""
    if mask.dim() == 2:
        mask = mask[None]
    if mask.shape[-2:] != image.shape[1:3]:
        mask = torch.nn.functional.interpolate(mask[:, None].float(), size=image.shape[1:3], mode="nearest")[
            :, 0
        ]
    weight = (mask.clamp(0, 1) * opacity)[..., None].to(image)
    tint = torch.tensor(colour, dtype=image.dtype, device=image.device)
    return image * (1 - weight) + tint * weight
