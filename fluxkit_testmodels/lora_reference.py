"""Independent oracles for LoRA tests: a tiny diffusers FLUX transformer, its conversion to BFL by plain
concatenation/slicing (written out here, not taken from flux_core's table), and LoRA generators per format."""

from __future__ import annotations

import torch

TINY = dict(heads=2, head_dim=16, double=2, single=2, context=32, pooled=16)
H = TINY["heads"] * TINY["head_dim"]


def tiny_flux_transformer(seed: int = 0, in_channels: int = 64):
    """A tiny diffusers FLUX transformer; `in_channels` 384 gives FLUX.1 Fill's shape (latent 64 + picture and mask
    columns), its output staying 64 wide."""
    from diffusers import FluxTransformer2DModel

    model = FluxTransformer2DModel(
        patch_size=1,
        in_channels=in_channels,
        out_channels=64,
        num_layers=TINY["double"],
        num_single_layers=TINY["single"],
        attention_head_dim=TINY["head_dim"],
        num_attention_heads=TINY["heads"],
        joint_attention_dim=TINY["context"],
        pooled_projection_dim=TINY["pooled"],
        guidance_embeds=True,
        axes_dims_rope=(2, 6, 8),
    )
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return model.eval()


def to_bfl(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """diffusers FluxTransformer2DModel weights → BFL layout weights (`.weight` only), by explicit concatenation."""
    out = {}
    w = {k[: -len(".weight")]: v for k, v in sd.items() if k.endswith(".weight")}
    for n in range(TINY["double"]):
        d, b = f"transformer_blocks.{n}.", f"double_blocks.{n}."
        out[b + "img_attn.qkv"] = torch.cat([w[d + "attn.to_q"], w[d + "attn.to_k"], w[d + "attn.to_v"]])
        out[b + "txt_attn.qkv"] = torch.cat(
            [w[d + "attn.add_q_proj"], w[d + "attn.add_k_proj"], w[d + "attn.add_v_proj"]]
        )
        out[b + "img_attn.proj"], out[b + "txt_attn.proj"] = w[d + "attn.to_out.0"], w[d + "attn.to_add_out"]
        out[b + "img_mlp.0"], out[b + "img_mlp.2"] = w[d + "ff.net.0.proj"], w[d + "ff.net.2"]
        out[b + "txt_mlp.0"], out[b + "txt_mlp.2"] = w[d + "ff_context.net.0.proj"], w[d + "ff_context.net.2"]
        out[b + "img_mod.lin"], out[b + "txt_mod.lin"] = w[d + "norm1.linear"], w[d + "norm1_context.linear"]
    for n in range(TINY["single"]):
        d, b = f"single_transformer_blocks.{n}.", f"single_blocks.{n}."
        out[b + "linear1"] = torch.cat(
            [w[d + "attn.to_q"], w[d + "attn.to_k"], w[d + "attn.to_v"], w[d + "proj_mlp"]]
        )
        out[b + "linear2"], out[b + "modulation.lin"] = w[d + "proj_out"], w[d + "norm.linear"]
    t = "time_text_embed."
    pairs = {
        "img_in": "x_embedder",
        "txt_in": "context_embedder",
        "time_in.in_layer": t + "timestep_embedder.linear_1",
        "time_in.out_layer": t + "timestep_embedder.linear_2",
        "guidance_in.in_layer": t + "guidance_embedder.linear_1",
        "guidance_in.out_layer": t + "guidance_embedder.linear_2",
        "vector_in.in_layer": t + "text_embedder.linear_1",
        "vector_in.out_layer": t + "text_embedder.linear_2",
        "final_layer.linear": "proj_out",
    }
    out.update({bfl: w[dif] for bfl, dif in pairs.items()})
    scale, shift = w["norm_out.linear"].chunk(2)
    out["final_layer.adaLN_modulation.1"] = torch.cat(
        [shift, scale]
    )  # diffusers (scale, shift) → BFL (shift, scale)
    return {k + ".weight": v.detach().clone() for k, v in out.items()}


def linear_modules(model) -> dict[str, torch.nn.Linear]:
    return {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}


def peft_lora_for_every_linear(model, rank: int = 4, seed: int = 1) -> dict[str, torch.Tensor]:
    """A Turbo-Alpha-shaped LoRA: lora_A/lora_B on every Linear (incl. norm_out, embedders), diffusers naming."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for name, lin in linear_modules(model).items():
        sd[f"transformer.{name}.lora_A.weight"] = torch.randn(rank, lin.in_features, generator=g) * 0.1
        sd[f"transformer.{name}.lora_B.weight"] = torch.randn(lin.out_features, rank, generator=g) * 0.1
    return sd


def apply_patches(base: dict[str, torch.Tensor], patches, strength: float = 1.0) -> dict[str, torch.Tensor]:
    out = {k: v.clone() for k, v in base.items()}
    for p in patches:
        w = out[p.target]
        view = w if p.rows is None else w[p.rows[0] : p.rows[0] + p.rows[1]]
        view = view if getattr(p, "cols", None) is None else view[:, p.cols[0] : p.cols[0] + p.cols[1]]
        view += strength * p.delta()
    return out


def dense_deltas(patches, shapes: dict[str, tuple]) -> dict[str, torch.Tensor]:
    """Sum of the patches per BFL weight, allocated only for the weights they touch."""
    zeros = {k: torch.zeros(shapes[k]) for k in {p.target for p in patches}}
    return apply_patches(zeros, patches)
