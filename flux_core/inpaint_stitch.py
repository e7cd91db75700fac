"""Paste generated crops back into the original pixels: resize back, optional colour match, feathered blend.

Only pixels with blend weight > 0 (hole ∪ feather) are written; every other pixel of the output is a copy of the
input, bit for bit. Colour match (Reinhard-style, in CIE Lab): the generated hole's mean/std per channel are moved
to those of a ring of original pixels around the hole, which removes the tone shift a VAE round trip leaves.
"""

from __future__ import annotations

import torch

from .errors import FluxKitError
from .inpaint_crop import StitchRecord, resize_image
from .inpaint_mask import grow

# sRGB (D65) ↔ XYZ matrices (IEC 61966-2-1) and the D65 white point.
RGB_TO_XYZ = torch.tensor(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
WHITE = torch.tensor([0.95047, 1.0, 1.08883])
EPS, KAPPA = 216 / 24389, 24389 / 27


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """[..., 3] sRGB in [0, 1] → CIE Lab (L in 0…100), computed in float32."""
    c = rgb.float()
    lin = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = lin @ RGB_TO_XYZ.to(c.device).T / WHITE.to(c.device)
    f = torch.where(xyz > EPS, xyz.clamp_min(1e-12) ** (1 / 3), (KAPPA * xyz + 16) / 116)
    return torch.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Inverse of `rgb_to_lab`, clamped to [0, 1]."""
    fy = (lab[..., 0] + 16) / 116
    f = torch.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], -1)
    xyz = torch.where(f**3 > EPS, f**3, (116 * f - 16) / KAPPA) * WHITE.to(lab.device)
    lin = (xyz @ torch.linalg.inv(RGB_TO_XYZ).to(lab.device).T).clamp(0.0, 1.0)
    return torch.where(
        lin <= 0.0031308, 12.92 * lin, 1.055 * lin.clamp_min(1e-12) ** (1 / 2.4) - 0.055
    ).clamp(0.0, 1.0)


def match_colour(
    generated: torch.Tensor, original: torch.Tensor, hole: torch.Tensor, ring_px: int
) -> torch.Tensor:
    """generated/original [h, w, 3] over the same region, hole [h, w] → generated with the hole's Lab mean/std moved
    to the ring's (pixels within `ring_px` of the hole, outside it). Unchanged when either set is empty."""
    inside = hole > 0.5
    ring = (grow(hole[None].float(), ring_px)[0] > 0.5) & ~inside
    if inside.sum() < 2 or ring.sum() < 2:
        return generated
    g_lab, o_lab = rgb_to_lab(generated[..., :3]), rgb_to_lab(original[..., :3])
    g_mean, g_std = g_lab[inside].mean(0), g_lab[inside].std(0).clamp_min(1e-3)
    r_mean, r_std = o_lab[ring].mean(0), o_lab[ring].std(0)
    out = generated.clone()
    out[..., :3] = lab_to_rgb((g_lab - g_mean) / g_std * r_std + r_mean).to(generated.dtype)
    return out


def stitch(
    generated: torch.Tensor, record: StitchRecord, colour_match: bool = False, ring_px: int = 16
) -> torch.Tensor:
    """generated [N, h, w, C] (the crops after inpainting) → [N, H, W, C] original images with the result blended in."""
    n = len(record.boxes)
    if generated.shape[0] != n:
        raise FluxKitError(
            f"stitch: {generated.shape[0]} generated images for {n} crops (one per crop expected)"
        )
    out = record.original.clone()
    H, W = out.shape[1:3]
    for i, box in enumerate(record.boxes):
        if record.empty[i]:
            continue
        gen = resize_image(generated[i].to(out.dtype), (box.h, box.w))[..., : out.shape[-1]]
        x0, y0, x1, y1 = max(0, box.x0), max(0, box.y0), min(W, box.x1), min(H, box.y1)
        gen = gen[y0 - box.y0 : y1 - box.y0, x0 - box.x0 : x1 - box.x0]
        orig = out[i, y0:y1, x0:x1]
        if colour_match:
            gen = match_colour(gen, orig, record.hole[i, y0:y1, x0:x1], ring_px)
        b = record.blend[i, y0:y1, x0:x1, None].to(out.dtype)
        out[i, y0:y1, x0:x1] = torch.where(b > 0, orig * (1 - b) + gen * b, orig)
    return out
