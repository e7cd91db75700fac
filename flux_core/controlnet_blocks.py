"""Building blocks of the FLUX ControlNet in diffusers naming, so checkpoint keys load with no remapping.

Every Linear is built through `ops.Linear(in, out, bias=True, dtype=, device=)`: `torch.nn` by default, ComfyUI's
`comfy.ops` classes (manual cast, fp8 storage) when a node passes them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .attention import RMSNorm, joint_attention, layer_norm


class MLPEmbedder(nn.Module):
    """linear_1 → SiLU → linear_2 (diffusers TimestepEmbedding / PixArtAlphaTextProjection): [B, in] → [B, hidden]."""

    def __init__(self, ops, in_dim: int, hidden: int, dtype=None, device=None):
        super().__init__()
        self.linear_1 = ops.Linear(in_dim, hidden, dtype=dtype, device=device)
        self.linear_2 = ops.Linear(hidden, hidden, dtype=dtype, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))


class TimeTextEmbed(nn.Module):
    """Conditioning vector: timestep (+ guidance) embeddings + pooled CLIP projection, [B, hidden]."""

    def __init__(self, ops, hidden: int, pooled_dim: int, guidance: bool, dtype=None, device=None):
        super().__init__()
        self.timestep_embedder = MLPEmbedder(ops, 256, hidden, dtype, device)
        self.guidance_embedder = MLPEmbedder(ops, 256, hidden, dtype, device) if guidance else None
        self.text_embedder = MLPEmbedder(ops, pooled_dim, hidden, dtype, device)


class Modulation(nn.Module):
    """AdaLayerNormZero's projection (`norm1.linear`): SiLU(vec) → 6 chunks [B, 1, hidden] in the order
    (shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp)."""

    def __init__(self, ops, hidden: int, dtype=None, device=None):
        super().__init__()
        self.linear = ops.Linear(hidden, 6 * hidden, dtype=dtype, device=device)

    def forward(self, vec: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.linear(F.silu(vec))[:, None].chunk(6, dim=-1)


class _Proj(nn.Module):
    def __init__(self, ops, in_dim: int, out_dim: int, dtype=None, device=None):
        super().__init__()
        self.proj = ops.Linear(in_dim, out_dim, dtype=dtype, device=device)


class FeedForward(nn.Module):
    """`net.0.proj` (hidden → 4·hidden) → GELU(tanh) → `net.2` (4·hidden → hidden)."""

    def __init__(self, ops, hidden: int, dtype=None, device=None):
        super().__init__()
        self.net = nn.ModuleList(
            [
                _Proj(ops, hidden, 4 * hidden, dtype, device),
                nn.Identity(),
                ops.Linear(4 * hidden, hidden, dtype=dtype, device=device),
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[2](F.gelu(self.net[0].proj(x), approximate="tanh"))


class JointAttention(nn.Module):
    """Separate q/k/v projections for the image stream (`to_*`) and the text stream (`add_*_proj`)."""

    def __init__(self, ops, hidden: int, head_dim: int, dtype=None, device=None):
        super().__init__()

        def lin():
            return ops.Linear(hidden, hidden, dtype=dtype, device=device)

        self.to_q, self.to_k, self.to_v = lin(), lin(), lin()
        self.add_q_proj, self.add_k_proj, self.add_v_proj = lin(), lin(), lin()
        self.to_out = nn.ModuleList([lin()])
        self.to_add_out = lin()
        self.norm_q, self.norm_k = RMSNorm(head_dim, dtype, device), RMSNorm(head_dim, dtype, device)
        self.norm_added_q, self.norm_added_k = (
            RMSNorm(head_dim, dtype, device),
            RMSNorm(head_dim, dtype, device),
        )


class DoubleStreamBlock(nn.Module):
    """FLUX double block (diffusers FluxTransformerBlock naming). img [B, L, h], txt [B, T, h], vec [B, h],
    freqs [B, 1, T+L, d/2, 2, 2] → (img, txt). Joint attention runs over [txt ; img]."""

    def __init__(self, ops, hidden: int, num_heads: int, dtype=None, device=None):
        super().__init__()
        self.num_heads = num_heads
        self.norm1 = Modulation(ops, hidden, dtype, device)
        self.norm1_context = Modulation(ops, hidden, dtype, device)
        self.attn = JointAttention(ops, hidden, hidden // num_heads, dtype, device)
        self.ff = FeedForward(ops, hidden, dtype, device)
        self.ff_context = FeedForward(ops, hidden, dtype, device)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return rearrange(x, "b l (h d) -> b h l d", h=self.num_heads)

    def forward(self, img, txt, vec, freqs):
        a = self.attn
        i_shift, i_scale, i_gate, i_mshift, i_mscale, i_mgate = self.norm1(vec)
        t_shift, t_scale, t_gate, t_mshift, t_mscale, t_mgate = self.norm1_context(vec)
        x = layer_norm(img) * (1 + i_scale) + i_shift
        c = layer_norm(txt) * (1 + t_scale) + t_shift
        q = torch.cat([a.norm_added_q(self._heads(a.add_q_proj(c))), a.norm_q(self._heads(a.to_q(x)))], dim=2)
        k = torch.cat([a.norm_added_k(self._heads(a.add_k_proj(c))), a.norm_k(self._heads(a.to_k(x)))], dim=2)
        v = torch.cat([self._heads(a.add_v_proj(c)), self._heads(a.to_v(x))], dim=2)
        out = joint_attention(q, k, v, freqs)
        txt_attn, img_attn = out[:, : txt.shape[1]], out[:, txt.shape[1] :]
        img = img + i_gate * a.to_out[0](img_attn)
        img = img + i_mgate * self.ff(layer_norm(img) * (1 + i_mscale) + i_mshift)
        txt = txt + t_gate * a.to_add_out(txt_attn)
        txt = txt + t_mgate * self.ff_context(layer_norm(txt) * (1 + t_mscale) + t_mshift)
        if txt.dtype == torch.float16:
            txt = txt.clip(-65504, 65504)
        return img, txt
