"""The seam benchmark's world: real photographs, blob masks, the ideal result, a simulated model, and the metrics.

- Photos: scikit-image's bundled `skimage.data` pictures (astronaut, coffee, chelsea, rocket; nothing downloaded,
  nothing committed), as [1, H, W, 3] float32 in [0, 1].
- Mask: a smooth random blob (three Gaussians thresholded), about 12 % of the picture, seeded per photo.
- Ideal: the original outside the hole, another photo (resized) inside it: what a perfect model + stitch gives.
- The "model" works on a pack's crop of the *ideal* picture and returns it as a VAE round trip and an editing model
  would: a per-channel tone shift in linear light (gain and offset, `strength` × TYPICAL, optionally a ramp across
  the crop), a slight blur, and a translation of the whole crop. `Scene.simulate` is that model; `Scene.undo` is its
  exact inverse except for the blur (the oracle's correction).
- Metrics (CIE76 ΔE on 8-bit results against the ideal): the seam band (±6 px around the hole's edge), the hole's
  core (the hole shrunk by 10 px), the context ring (6–40 px outside), and the largest change in 8-bit levels
  beyond every pack's blend (pixels over 64 px from the hole: must be 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from flux_core.inpaint.align import warp
from flux_core.inpaint.colour import delta_e, linear_to_srgb, srgb_to_linear
from flux_core.inpaint.mask import grow

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
TYPICAL_GAIN = (1.05, 0.98, 0.94)  # linear-light gain per channel at strength 1 (≈ ΔE 3–5 on these photos)
TYPICAL_OFFSET = (0.004, 0.0, 0.008)
BLUR_SIGMA = 0.7  # crop pixels
FAR_PX = 64  # beyond every pack's feather


def photo(name: str) -> torch.Tensor:
    import skimage.data

    return torch.from_numpy(np.ascontiguousarray(getattr(skimage.data, name)()[..., :3])).float()[None] / 255


def blob_mask(h: int, w: int, seed: int, area: float = 0.12) -> torch.Tensor:
    """[1, H, W] binary: three overlapping Gaussians around a random centre, thresholded to about `area`."""
    g = torch.Generator().manual_seed(seed)
    cy, cx = (0.3 + 0.4 * torch.rand(2, generator=g)).tolist()
    ys, xs = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    field = torch.zeros(h, w)
    for _ in range(3):
        oy, ox = (0.12 * torch.randn(2, generator=g)).tolist()
        s = 0.08 + 0.06 * float(torch.rand(1, generator=g))
        field += torch.exp(-(((ys - cy - oy) ** 2) + ((xs - cx - ox) * w / h) ** 2) / (2 * s * s))
    threshold = torch.quantile(field.flatten(), 1 - area)
    return (field >= threshold).float()[None]


@dataclass(frozen=True)
class Scene:
    name: str
    strength: float  # × the typical tone shift
    shift_px: float  # translation of the crop (crop pixels, diagonal: dx = t, dy = −0.6 t)
    ramp: bool = False  # the shift grows from 0.25× on the left of the crop to 1.75× on the right

    def fields(self, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(gain, offset) [h, w, 3] of the simulated tone shift over a crop."""
        k = torch.ones(h, w, 1) * self.strength
        if self.ramp:
            k = k * torch.linspace(0.25, 1.75, w).view(1, w, 1)
        gain = 1 + k * (torch.tensor(TYPICAL_GAIN) - 1)
        return gain, k * torch.tensor(TYPICAL_OFFSET)

    def simulate(self, crops: torch.Tensor) -> torch.Tensor:
        """[N, h, w, 3] crops of the ideal picture → what the simulated model returns."""
        out = []
        for c in crops:
            gain, offset = self.fields(*c.shape[:2])
            x = linear_to_srgb(srgb_to_linear(c) * gain + offset)
            x = _blur(x, BLUR_SIGMA)
            out.append(warp(x, -self.shift_px, 0.6 * self.shift_px, "bicubic").clamp(0, 1))
        return torch.stack(out)

    def undo(self, gen: torch.Tensor) -> torch.Tensor:
        """The exact inverse of `simulate` but for the blur: the oracle's correction."""
        out = []
        for c in gen:
            x = warp(c, self.shift_px, -0.6 * self.shift_px, "bicubic").clamp(0, 1)
            gain, offset = self.fields(*c.shape[:2])
            out.append(linear_to_srgb((srgb_to_linear(x) - offset) / gain))
        return torch.stack(out)


def scenes() -> list[Scene]:
    return [
        Scene("none", 0.0, 0.0),
        Scene("tone ×0.5", 0.5, 0.0),
        Scene("tone ×1 (typical)", 1.0, 0.0),
        Scene("tone ×2", 2.0, 0.0),
        Scene("tone ×1 ramp", 1.0, 0.0, ramp=True),
        Scene("tone ×1 + 1 px", 1.0, 1.0),
        Scene("tone ×1 + 2 px", 1.0, 2.0),
        Scene("tone ×1 + 3 px", 1.0, 3.0),
    ]


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = max(1, int(3 * sigma))
    k = torch.exp(-(torch.arange(-r, r + 1, dtype=torch.float32) ** 2) / (2 * sigma**2))
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
    y = F.pad(x.movedim(-1, 0)[None], (r, r, r, r), mode="replicate")
    y = F.conv2d(F.conv2d(y, k, groups=3), k.transpose(-1, -2), groups=3)
    return y[0].movedim(0, -1)


def to_8bit(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round() / 255


def zones(hole: torch.Tensor) -> dict[str, torch.Tensor]:
    """[1, H, W] binary hole → the metric zones, [H, W] bool each."""
    h = hole.float()
    inside, outside = grow(h, -6)[0] > 0, grow(h, 6)[0] > 0
    return {
        "seam": outside & ~inside,
        "core": grow(h, -10)[0] > 0,
        "ring": (grow(h, 40)[0] > 0) & ~outside,
        "far": ~(grow(h, FAR_PX)[0] > 0),
    }


def metrics(result: torch.Tensor, ideal: torch.Tensor, original: torch.Tensor, z: dict) -> dict[str, float]:
    """Mean ΔE per zone against the ideal, and the largest 8-bit change from the original beyond the blend."""
    r, i = to_8bit(result[0]), to_8bit(ideal[0])
    de = delta_e(r, i)
    far = (r - to_8bit(original[0])).abs()[z["far"]].max() * 255 if z["far"].any() else torch.tensor(0.0)
    return {
        "seam": float(de[z["seam"]].mean()),
        "core": float(de[z["core"]].mean()),
        "ring": float(de[z["ring"]].mean()),
        "far_max_levels": float(far),
    }
