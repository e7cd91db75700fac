"""Blending the corrected crop into the original: a linear feather, or a multi-band blend that hides a detail mismatch.

Both write only where the blend weight `b` (1 on the hole, falling linearly to 0 across the feather, 0 beyond) is
> 0, so every other pixel stays bit-identical.

- `linear`: out = orig + b · (gen − orig).
- `multiband` (after Burt & Adelson, "A multiresolution spline", 1983, with the bands taken at full resolution):
  the hole (b = 1) is the generated crop. Outside it, the difference D = gen − orig *of the context* (zero on the
  hole, so the new content's colours never bleed outwards the way a plain pyramid blend spreads them) is split into
  bands B_0 (finest) … B_K (the low-pass rest) from a pyramid of 2×2 block means upsampled back, Σ B_k = D exactly,
  and band k is added with its own weight W_k, a feather 2^(k+1) pixels wide at the hole's edge (the whole feather
  for the rest), read off `b` itself: W_k = clamp((b − 1 + s_k) / s_k, 0, 1), s_k = that width / (feather + 1).
  Tone blends over the whole feather, fine detail switches within two pixels, so a softer generation leaves no
  washed-out halo; every W_k → 1 at the hole's edge (continuous there) and is 0 wherever b is 0.

Shapes: orig/gen `[h, w, C]`, b `[h, w]` (the same window of the original image).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MAX_LEVELS = 5


def linear(orig: torch.Tensor, gen: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    w = b[..., None].to(orig.dtype)
    return torch.where(w > 0, orig * (1 - w) + gen * w, orig)


def band_weights(b: torch.Tensor, feather_px: int, levels: int) -> list[torch.Tensor]:
    """[h, w] blend weight → `levels` + 1 weights, finest band first, the last = b."""
    out = []
    for k in range(levels):
        s = min(1.0, 2 ** (k + 1) / (feather_px + 1))
        out.append(((b - 1 + s) / s).clamp(0, 1))
    return [*out, b]


def bands(d: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[h, w, C] → `levels` + 1 tensors [h, w, C] that sum to d: detail bands (finest first), then the low-pass."""
    x = d.movedim(-1, 0)[None]
    h, w = x.shape[-2:]
    ups = [x]
    cur = x
    for _ in range(levels):
        cur = F.avg_pool2d(cur, 2, ceil_mode=True)
        ups.append(F.interpolate(cur, size=(h, w), mode="bilinear", align_corners=False))
    out = [ups[k] - ups[k + 1] for k in range(levels)] + [ups[-1]]
    return [o[0].movedim(0, -1) for o in out]


def multiband(orig: torch.Tensor, gen: torch.Tensor, b: torch.Tensor, feather_px: int) -> torch.Tensor:
    levels = 0
    while levels < MAX_LEVELS and 2 ** (levels + 1) < feather_px + 1:
        levels += 1
    if levels == 0:  # a feather of a pixel or two: nothing to split
        return linear(orig, gen, b)
    hole = b >= 1
    d = (gen.float() - orig.float()) * ~hole[
        ..., None
    ]  # the context's difference only: no new content bleeds out
    weights = band_weights(b.float(), feather_px, levels)
    correction = sum(w[..., None] * band for w, band in zip(weights, bands(d, levels)))
    blended = torch.where(hole[..., None], gen.float(), (orig.float() + correction).clamp(0, 1)).to(
        orig.dtype
    )
    return torch.where(b[..., None] > 0, blended, orig)


BLENDS = {"linear": lambda orig, gen, b, feather_px: linear(orig, gen, b), "multiband": multiband}
