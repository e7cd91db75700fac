"""FLUX attention primitives: timestep embedding, 3-axis RoPE, QK RMSNorm, joint SDPA attention.

Conventions follow black-forest-labs/flux (modules/layers.py, math.py) and are numerically the same as diffusers'
FluxPosEmbed / Timesteps(flip_sin_to_cos=True): precision-sensitive maths run in fp32 (rope in fp64) and are cast back.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int = 256, max_period: float = 10_000.0, factor: float = 1000.0):
    """t [B] (a sigma or a guidance value; multiplied by `factor` first) → [B, dim] as (cos | sin), fp32."""
    t = t.float() * factor
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def rope_frequencies(ids: torch.Tensor, axes_dims: tuple[int, ...], theta: int) -> torch.Tensor:
    """Position ids [B, L, n_axes] → rotation matrices [B, 1, L, head_dim/2, 2, 2] (fp32).

    Axis i uses `axes_dims[i]` of the head dim; pairs (2j, 2j+1) rotate by ids[..., i] · theta^(-2j/axes_dims[i]).
    """
    parts = []
    for i, d in enumerate(axes_dims):
        scale = torch.arange(0, d, 2, dtype=torch.float64, device=ids.device) / d
        angle = ids[..., i].double()[..., None] / (theta**scale)
        cos, sin = torch.cos(angle), torch.sin(angle)
        parts.append(torch.stack([cos, -sin, sin, cos], dim=-1))
    rot = torch.cat(parts, dim=-2)
    return rearrange(rot, "b l d (i j) -> b 1 l d i j", i=2, j=2).float()


def apply_rope(x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """x [B, H, L, D] rotated pairwise by `freqs` [B, 1, L, D/2, 2, 2]; computed in fp32, returned in x's dtype."""
    xf = x.float().reshape(*x.shape[:-1], -1, 1, 2)
    out = freqs[..., 0] * xf[..., 0] + freqs[..., 1] * xf[..., 1]
    return out.reshape(*x.shape).type_as(x)


def joint_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """q, k, v [B, H, L, D] (text tokens first, then image tokens) → [B, L, H·D] via SDPA after RoPE on q and k."""
    out = F.scaled_dot_product_attention(apply_rope(q, freqs), apply_rope(k, freqs), v)
    return rearrange(out, "b h l d -> b l (h d)")


class RMSNorm(nn.Module):
    """Per-head RMSNorm with a learned scale `weight` [D] (diffusers key `…norm_q.weight`), eps 1e-6, fp32 inside."""

    def __init__(self, dim: int, dtype=None, device=None):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim, dtype=dtype, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-6)
        return (xf * self.weight.float()).to(x.dtype)


def layer_norm(x: torch.Tensor) -> torch.Tensor:
    """LayerNorm over the last dim without affine parameters, eps 1e-6 (FLUX's norm before modulation)."""
    return F.layer_norm(x, x.shape[-1:], eps=1e-6)
