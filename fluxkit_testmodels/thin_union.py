"""A thin FLUX union ControlNet in the published diffusers layout (`FluxControlNetModel` with `num_mode`, the
layout of Qwen2VL-Flux's `controlnet/` and InstantX's union ControlNet): real width 3072, one double and one single
block, a `controlnet_mode_embedder` [modes, 3072]. Random weights, generated at test time, never committed.

Keys (diffusers FluxControlNetModel module tree): x_embedder / controlnet_x_embedder [3072, 64], context_embedder
[3072, 4096], time_text_embed.{timestep,guidance,text}_embedder, transformer_blocks.N (as the alimama ControlNet),
single_transformer_blocks.N (norm.linear [9216, 3072], proj_mlp [12288, 3072], proj_out [3072, 15360],
attn.to_q/k/v [3072, 3072], attn.norm_q/norm_k [128]), controlnet_blocks.N, controlnet_single_blocks.N [3072, 3072].
"""

from __future__ import annotations

from .shapes import (
    FLUX_HEAD_DIM,
    FLUX_HIDDEN,
    FLUX_MLP,
    Shape,
    _linear,
    _write,
    inpaint_controlnet_shapes,
    random_state_dict,
)

UNION_MODES = 10  # InstantX's union ControlNet and Shakker's Union Pro embed 10 modes


def union_controlnet_shapes(
    double_blocks: int = 1, single_blocks: int = 1, modes: int = UNION_MODES, hidden: int = FLUX_HIDDEN
) -> dict[str, Shape]:
    h, d = hidden, FLUX_HEAD_DIM
    out = dict(inpaint_controlnet_shapes(double_blocks, hidden))
    out.update(_linear("controlnet_x_embedder", h, 64))  # a VAE latent, packed 2×2: 16·4 features
    for i in range(single_blocks):
        p = f"single_transformer_blocks.{i}"
        items = [*_linear(f"{p}.norm.linear", 3 * h, h), *_linear(f"{p}.proj_mlp", FLUX_MLP, h)]
        items += _linear(f"{p}.proj_out", h, h + FLUX_MLP)
        for proj in ("to_q", "to_k", "to_v"):
            items += _linear(f"{p}.attn.{proj}", h, h)
        items += [(f"{p}.attn.norm_q.weight", (d,)), (f"{p}.attn.norm_k.weight", (d,))]
        items += _linear(f"controlnet_single_blocks.{i}", h, h)
        out.update(items)
    out["controlnet_mode_embedder.weight"] = (modes, h)
    return out


def write_thin_union_controlnet(path: str, modes: int = UNION_MODES, seed: int = 0) -> str:
    """A union ControlNet (bf16, diffusers keys), real width, one double + one single block, `modes` modes."""
    return _write(path, random_state_dict(union_controlnet_shapes(modes=modes), seed))
