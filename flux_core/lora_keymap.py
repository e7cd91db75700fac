"""Where each FLUX LoRA target lands in ComfyUI's fused BFL weights: a data table plus one small function.

BFL layout (black-forest-labs/flux; ComfyUI's comfy/ldm/flux): q|k|v are fused in `double_blocks.N.{img,txt}_attn.qkv`
([3h, h]) and single blocks fuse q|k|v|mlp in `single_blocks.N.linear1` ([3h + 4h, h]); `final_layer.adaLN_modulation.1`
holds (shift, scale) where diffusers' `norm_out.linear` holds (scale, shift). Diffusers/PEFT LoRAs address the unfused
modules, so each maps to a row slice (diffusers@58eb52c src/diffusers/loaders/lora_conversion_utils.py, ComfyUI comfy/utils.py
flux_to_diffusers). Slices are written in units of the hidden size h and the MLP width 4h, so tiny test models use the
same table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """A BFL weight (key without `.weight`) and the rows a module writes: rows [start·h, start·h + length·h)."""

    key: str
    start: int | None = None  # in units of h; None = whole weight
    length: int | None = None
    swap_halves: bool = False  # diffusers (scale, shift) → BFL (shift, scale)

    def rows(self, hidden: int) -> tuple[int, int] | None:
        return None if self.start is None else (self.start * hidden, self.length * hidden)


# diffusers module path → BFL target, with {n} the block index.
DOUBLE_BLOCK: dict[str, Target] = {
    "attn.to_q": Target("img_attn.qkv", 0, 1),
    "attn.to_k": Target("img_attn.qkv", 1, 1),
    "attn.to_v": Target("img_attn.qkv", 2, 1),
    "attn.add_q_proj": Target("txt_attn.qkv", 0, 1),
    "attn.add_k_proj": Target("txt_attn.qkv", 1, 1),
    "attn.add_v_proj": Target("txt_attn.qkv", 2, 1),
    "attn.to_out.0": Target("img_attn.proj"),
    "attn.to_add_out": Target("txt_attn.proj"),
    "ff.net.0.proj": Target("img_mlp.0"),
    "ff.net.2": Target("img_mlp.2"),
    "ff_context.net.0.proj": Target("txt_mlp.0"),
    "ff_context.net.2": Target("txt_mlp.2"),
    "norm1.linear": Target("img_mod.lin"),
    "norm1_context.linear": Target("txt_mod.lin"),
}
SINGLE_BLOCK: dict[str, Target] = {
    "attn.to_q": Target("linear1", 0, 1),
    "attn.to_k": Target("linear1", 1, 1),
    "attn.to_v": Target("linear1", 2, 1),
    "proj_mlp": Target("linear1", 3, 4),
    "proj_out": Target("linear2"),
    "norm.linear": Target("modulation.lin"),
}
GLOBAL: dict[str, Target] = {
    "x_embedder": Target("img_in"),
    "context_embedder": Target("txt_in"),
    "time_text_embed.timestep_embedder.linear_1": Target("time_in.in_layer"),
    "time_text_embed.timestep_embedder.linear_2": Target("time_in.out_layer"),
    "time_text_embed.guidance_embedder.linear_1": Target("guidance_in.in_layer"),
    "time_text_embed.guidance_embedder.linear_2": Target("guidance_in.out_layer"),
    "time_text_embed.text_embedder.linear_1": Target("vector_in.in_layer"),
    "time_text_embed.text_embedder.linear_2": Target("vector_in.out_layer"),
    "norm_out.linear": Target("final_layer.adaLN_modulation.1", swap_halves=True),
    "proj_out": Target("final_layer.linear"),
}
# XLabs runtime-attention LoRAs (double blocks only): processor name → BFL target inside double_blocks.{n}.
XLABS_DOUBLE: dict[str, Target] = {
    "qkv_lora1": Target("img_attn.qkv"),
    "proj_lora1": Target("img_attn.proj"),
    "qkv_lora2": Target("txt_attn.qkv"),
    "proj_lora2": Target("txt_attn.proj"),
}


@dataclass(frozen=True)
class FluxShape:
    """What the key map needs to know about the model being patched (read from the model, not assumed)."""

    hidden: int = 3072
    double_blocks: int = 19
    single_blocks: int = 38


def diffusers_targets(shape: FluxShape) -> dict[str, Target]:
    """Every diffusers module path of a FLUX transformer with `shape` → its BFL target (full key)."""
    out: dict[str, Target] = {}
    for n in range(shape.double_blocks):
        for path, t in DOUBLE_BLOCK.items():
            out[f"transformer_blocks.{n}.{path}"] = Target(f"double_blocks.{n}.{t.key}", t.start, t.length)
    for n in range(shape.single_blocks):
        for path, t in SINGLE_BLOCK.items():
            out[f"single_transformer_blocks.{n}.{path}"] = Target(
                f"single_blocks.{n}.{t.key}", t.start, t.length
            )
    out.update(GLOBAL)
    return out


def bfl_linear_keys(shape: FluxShape) -> set[str]:
    """Every BFL Linear weight key (without `.weight`) of a FLUX model with `shape`."""
    return {t.key for t in diffusers_targets(shape).values()}


def underscored(path: str) -> str:
    """kohya's flattening of a module path: dots become underscores."""
    return path.replace(".", "_")
