"""Thin random checkpoints in the published key layouts, for running real graphs without real weights.

ComfyUI infers only the *block counts* of a FLUX checkpoint (hidden 3072, 24 heads, text width 4096 are fixed) and
fixes the VAE widths, so a checkpoint it can load must have the real width: "thin" = real width, one block. The
shapes below are the published layouts:

- FLUX.1-dev transformer, BFL layout (`double_blocks.N.img_attn.qkv` fused q|k|v, `single_blocks.N.linear1` fused
  q|k|v|mlp, `final_layer.adaLN_modulation.1` = (shift, scale)), as loaded by ComfyUI's UNETLoader.
- FLUX VAE (ae.safetensors, ldm naming: `encoder.down.N.block.M…`, 16 latent channels, no quant convs).
- alimama FLUX.1-dev-Controlnet-Inpainting, diffusers layout (`transformer_blocks.N.attn.to_q`, 68-wide
  `controlnet_x_embedder`, `controlnet_blocks.N`).

Values are seeded random, scaled by 1/sqrt(fan_in) so activations stay O(1) and a VAE encode is finite. Nothing
here is committed: files are generated on first use and cached by the caller.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import torch
from safetensors.torch import save_file

# The attention Linears of a diffusers FLUX double block (image stream, then text stream, then the two outputs).
DOUBLE_BLOCK_ATTN = (
    "to_q",
    "to_k",
    "to_v",
    "add_q_proj",
    "add_k_proj",
    "add_v_proj",
    "to_out.0",
    "to_add_out",
)
Shape = tuple[int, ...]

FLUX_HIDDEN = 3072
FLUX_HEAD_DIM = 128
FLUX_MLP = 4 * FLUX_HIDDEN
FLUX_CONTEXT = 4096
FLUX_POOLED = 768
FLUX_LATENT_CHANNELS = 16
FLUX_DEV_IMG_IN = 4 * FLUX_LATENT_CHANNELS  # packed 2×2 patches of the 16-channel latent
FLUX_FILL_IMG_IN = (
    FLUX_DEV_IMG_IN + 4 * FLUX_LATENT_CHANNELS + 4 * 64
)  # + masked-image latent + 8×8 mask patches
VAE_BASE = 128
VAE_MULT = (1, 2, 4, 4)
VAE_RES_BLOCKS = 2


def _linear(prefix: str, out_f: int, in_f: int, bias: bool = True) -> Iterator[tuple[str, Shape]]:
    yield f"{prefix}.weight", (out_f, in_f)
    if bias:
        yield f"{prefix}.bias", (out_f,)


def flux_bfl_shapes(
    double_blocks: int = 1, single_blocks: int = 1, hidden: int = FLUX_HIDDEN, img_in: int = FLUX_DEV_IMG_IN
) -> dict[str, Shape]:
    """Key → shape of a FLUX.1 transformer in BFL layout with the given block counts; `img_in` input columns are
    FLUX.1-dev's 64 (also Kontext), or FLUX.1 Fill's 384 (`FLUX_FILL_IMG_IN`)."""
    h, d = hidden, FLUX_HEAD_DIM
    out: list[tuple[str, Shape]] = []
    out += _linear("img_in", h, img_in)
    out += _linear("txt_in", h, FLUX_CONTEXT)
    for name, in_f in (("time_in", 256), ("guidance_in", 256), ("vector_in", FLUX_POOLED)):
        out += _linear(f"{name}.in_layer", h, in_f)
        out += _linear(f"{name}.out_layer", h, h)
    for i in range(double_blocks):
        for s in ("img", "txt"):
            p = f"double_blocks.{i}.{s}"
            out += _linear(f"{p}_mod.lin", 6 * h, h)
            out += _linear(f"{p}_attn.qkv", 3 * h, h)
            out += [(f"{p}_attn.norm.query_norm.scale", (d,)), (f"{p}_attn.norm.key_norm.scale", (d,))]
            out += _linear(f"{p}_attn.proj", h, h)
            out += _linear(f"{p}_mlp.0", FLUX_MLP, h)
            out += _linear(f"{p}_mlp.2", h, FLUX_MLP)
    for i in range(single_blocks):
        p = f"single_blocks.{i}"
        out += _linear(f"{p}.linear1", 3 * h + FLUX_MLP, h)
        out += _linear(f"{p}.linear2", h, h + FLUX_MLP)
        out += [(f"{p}.norm.query_norm.scale", (d,)), (f"{p}.norm.key_norm.scale", (d,))]
        out += _linear(f"{p}.modulation.lin", 3 * h, h)
    out += _linear("final_layer.linear", 4 * FLUX_LATENT_CHANNELS, h)
    out += _linear("final_layer.adaLN_modulation.1", 2 * h, h)
    return dict(out)


def inpaint_controlnet_shapes(double_blocks: int = 1, hidden: int = FLUX_HIDDEN) -> dict[str, Shape]:
    """Key → shape of the alimama inpainting ControlNet in diffusers layout (alimama-creative/FLUX-Controlnet-Inpainting@6ea5d92 controlnet_flux.py module tree)."""
    h, d = hidden, FLUX_HEAD_DIM
    out: list[tuple[str, Shape]] = []
    out += _linear("x_embedder", h, 64)
    out += _linear("controlnet_x_embedder", h, 68)
    out += _linear("context_embedder", h, FLUX_CONTEXT)
    for emb, in_f in (("timestep_embedder", 256), ("guidance_embedder", 256), ("text_embedder", FLUX_POOLED)):
        out += _linear(f"time_text_embed.{emb}.linear_1", h, in_f)
        out += _linear(f"time_text_embed.{emb}.linear_2", h, h)
    for i in range(double_blocks):
        p = f"transformer_blocks.{i}"
        out += _linear(f"{p}.norm1.linear", 6 * h, h)
        out += _linear(f"{p}.norm1_context.linear", 6 * h, h)
        for proj in DOUBLE_BLOCK_ATTN:
            out += _linear(f"{p}.attn.{proj}", h, h)
        out += [(f"{p}.attn.{n}.weight", (d,)) for n in ("norm_q", "norm_k", "norm_added_q", "norm_added_k")]
        for ff in ("ff", "ff_context"):
            out += _linear(f"{p}.{ff}.net.0.proj", FLUX_MLP, h)
            out += _linear(f"{p}.{ff}.net.2", h, FLUX_MLP)
        out += _linear(f"controlnet_blocks.{i}", h, h)
    return dict(out)


def _resnet(prefix: str, c_in: int, c_out: int) -> Iterator[tuple[str, Shape]]:
    yield from ((f"{prefix}.norm1.weight", (c_in,)), (f"{prefix}.norm1.bias", (c_in,)))
    yield from ((f"{prefix}.conv1.weight", (c_out, c_in, 3, 3)), (f"{prefix}.conv1.bias", (c_out,)))
    yield from ((f"{prefix}.norm2.weight", (c_out,)), (f"{prefix}.norm2.bias", (c_out,)))
    yield from ((f"{prefix}.conv2.weight", (c_out, c_out, 3, 3)), (f"{prefix}.conv2.bias", (c_out,)))
    if c_in != c_out:
        yield from (
            (f"{prefix}.nin_shortcut.weight", (c_out, c_in, 1, 1)),
            (f"{prefix}.nin_shortcut.bias", (c_out,)),
        )


def _mid(prefix: str, c: int) -> Iterator[tuple[str, Shape]]:
    yield from _resnet(f"{prefix}.mid.block_1", c, c)
    yield from ((f"{prefix}.mid.attn_1.norm.weight", (c,)), (f"{prefix}.mid.attn_1.norm.bias", (c,)))
    for n in ("q", "k", "v", "proj_out"):
        yield from (
            (f"{prefix}.mid.attn_1.{n}.weight", (c, c, 1, 1)),
            (f"{prefix}.mid.attn_1.{n}.bias", (c,)),
        )
    yield from _resnet(f"{prefix}.mid.block_2", c, c)


def flux_vae_shapes(z: int = FLUX_LATENT_CHANNELS) -> dict[str, Shape]:
    """Key → shape of the FLUX VAE (ae.safetensors, ldm naming, `z` = 16 latent channels; FLUX.2's has 32)."""
    ch, mult = VAE_BASE, VAE_MULT
    out: list[tuple[str, Shape]] = [
        ("encoder.conv_in.weight", (ch, 3, 3, 3)),
        ("encoder.conv_in.bias", (ch,)),
    ]
    c_in = ch
    for i, m in enumerate(mult):
        c_out = ch * m
        for j in range(VAE_RES_BLOCKS):
            out += _resnet(f"encoder.down.{i}.block.{j}", c_in if j == 0 else c_out, c_out)
        if i != len(mult) - 1:
            out += [(f"encoder.down.{i}.downsample.conv.weight", (c_out, c_out, 3, 3))]
            out += [(f"encoder.down.{i}.downsample.conv.bias", (c_out,))]
        c_in = c_out
    top = ch * mult[-1]
    out += _mid("encoder", top)
    out += [("encoder.norm_out.weight", (top,)), ("encoder.norm_out.bias", (top,))]
    out += [("encoder.conv_out.weight", (2 * z, top, 3, 3)), ("encoder.conv_out.bias", (2 * z,))]
    out += [("decoder.conv_in.weight", (top, z, 3, 3)), ("decoder.conv_in.bias", (top,))]
    out += _mid("decoder", top)
    c_in = top
    for i in reversed(range(len(mult))):
        c_out = ch * mult[i]
        for j in range(VAE_RES_BLOCKS + 1):
            out += _resnet(f"decoder.up.{i}.block.{j}", c_in if j == 0 else c_out, c_out)
        if i != 0:
            out += [(f"decoder.up.{i}.upsample.conv.weight", (c_out, c_out, 3, 3))]
            out += [(f"decoder.up.{i}.upsample.conv.bias", (c_out,))]
        c_in = c_out
    out += [("decoder.norm_out.weight", (ch,)), ("decoder.norm_out.bias", (ch,))]
    out += [("decoder.conv_out.weight", (3, ch, 3, 3)), ("decoder.conv_out.bias", (3,))]
    return dict(out)


def random_state_dict(
    shapes: dict[str, Shape], seed: int = 0, dtype: torch.dtype = torch.bfloat16, gain: float = 1.0
) -> dict[str, torch.Tensor]:
    """Seeded random tensors for `shapes`.

    Weights ~ N(0, gain²/fan_in) (fan_in = product of all but the first dim), biases ~ N(0, 0.02²), norm scales
    (1-D tensors named `*norm*` / `*scale`) = 1 + N(0, 0.02²), so each layer roughly preserves activation scale.
    """
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in shapes.items():
        if len(shape) == 1:
            t = torch.randn(shape, generator=gen) * 0.02
            if "norm" in key and (key.endswith(".weight") or key.endswith(".scale")):
                t += 1.0
        else:
            fan_in = math.prod(shape[1:])
            t = torch.randn(shape, generator=gen) * (gain / math.sqrt(fan_in))
        out[key] = t.to(dtype)
    return out


def write_thin_flux(path: str, double_blocks: int = 1, single_blocks: int = 1, seed: int = 0) -> str:
    """A FLUX.1-dev-layout transformer (bf16, BFL keys) with real width and the given block counts."""
    return _write(path, random_state_dict(flux_bfl_shapes(double_blocks, single_blocks), seed))


def write_thin_fill(path: str, seed: int = 0) -> str:
    """A FLUX.1-Fill-dev-layout transformer: FLUX.1-dev's keys with img_in [3072, 384] (ComfyUI detects in_channels
    96 and loads it as supported_models.FluxInpaint), real width, one double and one single block."""
    return _write(path, random_state_dict(flux_bfl_shapes(img_in=FLUX_FILL_IMG_IN), seed))


def write_thin_vae(path: str, seed: int = 0) -> str:
    """A FLUX VAE (bf16, ldm keys) with random weights."""
    return _write(path, random_state_dict(flux_vae_shapes(), seed))


def write_thin_inpaint_controlnet(path: str, double_blocks: int = 1, seed: int = 0) -> str:
    """An alimama-layout inpainting ControlNet (bf16, diffusers keys) with real width and `double_blocks` blocks."""
    return _write(path, random_state_dict(inpaint_controlnet_shapes(double_blocks), seed))


def _write(path: str, sd: dict[str, torch.Tensor]) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.partial"
    save_file(sd, tmp, metadata={"format": "pt", "generator": "fluxkit.thin_models"})
    os.replace(tmp, path)
    return path


def turbo_lora_shapes(
    double_blocks: int = 1, single_blocks: int = 1, rank: int = 4, hidden: int = FLUX_HIDDEN
) -> dict[str, Shape]:
    """Key → shape of a FLUX.1-Turbo-Alpha-style LoRA: diffusers/PEFT naming, lora_A [r, in] / lora_B [out, r] on every
    Linear of a FLUX transformer with the given block counts (incl. norm_out and the embedders; the Turbo-Alpha file as listed on huggingface.co/alimama-creative/FLUX.1-Turbo-Alpha)."""
    h, m = hidden, FLUX_MLP
    modules: dict[str, tuple[int, int]] = {
        "x_embedder": (h, 4 * FLUX_LATENT_CHANNELS),
        "context_embedder": (h, FLUX_CONTEXT),
        "time_text_embed.timestep_embedder.linear_1": (h, 256),
        "time_text_embed.timestep_embedder.linear_2": (h, h),
        "time_text_embed.guidance_embedder.linear_1": (h, 256),
        "time_text_embed.guidance_embedder.linear_2": (h, h),
        "time_text_embed.text_embedder.linear_1": (h, FLUX_POOLED),
        "time_text_embed.text_embedder.linear_2": (h, h),
        "norm_out.linear": (2 * h, h),
        "proj_out": (4 * FLUX_LATENT_CHANNELS, h),
    }
    for n in range(double_blocks):
        p = f"transformer_blocks.{n}"
        for name in DOUBLE_BLOCK_ATTN:
            modules[f"{p}.attn.{name}"] = (h, h)
        for ff in ("ff", "ff_context"):
            modules[f"{p}.{ff}.net.0.proj"], modules[f"{p}.{ff}.net.2"] = (m, h), (h, m)
        modules[f"{p}.norm1.linear"] = modules[f"{p}.norm1_context.linear"] = (6 * h, h)
    for n in range(single_blocks):
        p = f"single_transformer_blocks.{n}"
        for name in ("to_q", "to_k", "to_v"):
            modules[f"{p}.attn.{name}"] = (h, h)
        modules[f"{p}.proj_mlp"], modules[f"{p}.proj_out"], modules[f"{p}.norm.linear"] = (
            (m, h),
            (h, h + m),
            (3 * h, h),
        )
    out: dict[str, Shape] = {}
    for name, (o, i) in modules.items():
        out[f"transformer.{name}.lora_A.weight"] = (rank, i)
        out[f"transformer.{name}.lora_B.weight"] = (o, rank)
    return out


def write_thin_turbo_lora(
    path: str, double_blocks: int = 1, single_blocks: int = 1, rank: int = 4, seed: int = 0
) -> str:
    """A Turbo-Alpha-shaped LoRA (bf16, diffusers keys) for a thin FLUX with the given block counts."""
    sd = random_state_dict(turbo_lora_shapes(double_blocks, single_blocks, rank), seed, gain=0.05)
    return _write(path, sd)
