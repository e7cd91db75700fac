"""Colour spaces the stitch corrects and measures in: sRGB ↔ linear light, CIE Lab, CIE76 ΔE, luma.

All functions take `[..., 3]` tensors (channels last, ComfyUI's IMAGE layout) in [0, 1] and compute in float32.
Linear light is where a VAE's tone shift is a per-channel gain and offset; Lab is where ΔE is read.
"""

from __future__ import annotations

import torch

# sRGB (D65) → XYZ (IEC 61966-2-1) and the D65 white point.
RGB_TO_XYZ = torch.tensor(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
WHITE = torch.tensor([0.95047, 1.0, 1.08883])
EPS, KAPPA = 216 / 24389, 24389 / 27
LUMA = (0.2126, 0.7152, 0.0722)  # Rec. 709 weights of linear R, G, B


def srgb_to_linear(c: torch.Tensor) -> torch.Tensor:
    """sRGB-encoded [..., C] in [0, 1] → linear light (the IEC 61966-2-1 curve, float32)."""
    c = c.float()
    return torch.where(c <= 0.04045, c / 12.92, ((c.clamp_min(0.0) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(lin: torch.Tensor) -> torch.Tensor:
    """Linear light → sRGB-encoded, clamped to [0, 1]."""
    lin = lin.clamp(0.0, 1.0)
    return torch.where(
        lin <= 0.0031308, 12.92 * lin, 1.055 * lin.clamp_min(1e-12) ** (1 / 2.4) - 0.055
    ).clamp(0.0, 1.0)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """[..., 3] sRGB in [0, 1] → CIE Lab (L in 0…100)."""
    xyz = srgb_to_linear(rgb) @ RGB_TO_XYZ.to(rgb.device).T / WHITE.to(rgb.device)
    f = torch.where(xyz > EPS, xyz.clamp_min(1e-12) ** (1 / 3), (KAPPA * xyz + 16) / 116)
    return torch.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Inverse of `rgb_to_lab`, clamped to [0, 1]."""
    fy = (lab[..., 0] + 16) / 116
    f = torch.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], -1)
    xyz = torch.where(f**3 > EPS, f**3, (116 * f - 16) / KAPPA) * WHITE.to(lab.device)
    return linear_to_srgb(xyz @ torch.linalg.inv(RGB_TO_XYZ).to(lab.device).T)


def delta_e(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """CIE76 ΔE between two sRGB images [..., 3] → [...] (1 ≈ a just-noticeable difference)."""
    return (rgb_to_lab(a) - rgb_to_lab(b)).norm(dim=-1)


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """[..., 3] sRGB → [...] luminance of the linear values (what alignment matches)."""
    return srgb_to_linear(rgb[..., :3]) @ torch.tensor(LUMA, device=rgb.device)
