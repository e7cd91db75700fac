"""Working copies for the stitch's estimates: block-averaged images, masks that stay strict, pixel coordinates.

Estimates (tone, alignment) run on copies a few hundred pixels a side: an integer factor `f` averages f×f blocks
(edge-padded to a multiple of f), a mask keeps a block only where every pixel of it was set, and `coords` gives
each working pixel's centre in the full image's normalised coordinates (−1 … 1 from the first to the last pixel),
so a field fitted on the copy evaluates at full size without a shift.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def factor(h: int, w: int, side: int) -> int:
    """The smallest integer block size that brings max(h, w) to at most `side`."""
    return max(1, math.ceil(max(h, w) / side))


def _pad(x: torch.Tensor, f: int, value: float | None) -> torch.Tensor:
    """[N, C, h, w] → padded at the bottom/right to multiples of f (edge replicated, or `value`)."""
    ph, pw = -x.shape[-2] % f, -x.shape[-1] % f
    if not (ph or pw):
        return x
    if value is None:
        return F.pad(x, (0, pw, 0, ph), mode="replicate")
    return F.pad(x, (0, pw, 0, ph), value=value)


def block_mean(img: torch.Tensor, f: int) -> torch.Tensor:
    """[h, w, C] → [⌈h/f⌉, ⌈w/f⌉, C] means of f×f blocks (float32)."""
    if f == 1:
        return img.float()
    x = _pad(img.float().movedim(-1, 0)[None], f, None)
    return F.avg_pool2d(x, f)[0].movedim(0, -1)


def block_all(mask: torch.Tensor, f: int) -> torch.Tensor:
    """[h, w] bool → [⌈h/f⌉, ⌈w/f⌉] bool: True where the whole block is True (padding counts as False)."""
    if f == 1:
        return mask.bool()
    x = _pad((~mask.bool()).float()[None, None], f, 1.0)
    return F.max_pool2d(x, f)[0, 0] == 0


def coords(n: int, f: int, device=None) -> torch.Tensor:
    """Normalised centres (−1 … 1 over the n full-size pixels) of the ⌈n/f⌉ blocks of size f."""
    centres = (torch.arange(math.ceil(n / f), device=device, dtype=torch.float32) + 0.5) * f - 0.5
    return centres / max(n - 1, 1) * 2 - 1
