"""A thin FLUX.2 [klein] and its VAE in the published layouts, and a saved conditioning in place of Qwen3.

ComfyUI (0.28+, `comfy/model_detection.py`) calls a FLUX-family state dict `image_model` "flux2" when it has
`double_stream_modulation_img.lin.weight`, and unlike FLUX.1 reads the width from `img_in.weight` (heads = width /
128), the text width from `txt_in.weight` and the block counts from the keys, so a narrow klein with one block of each
kind loads through the stock UNETLoader. Layout (BFL's, as ComfyUI's `Flux` builds it for flux2): no biases, global
modulation (`double_stream_modulation_img/txt`, `single_stream_modulation`), SiLU-gated MLPs of ratio 3 (`*_mlp.0`
is 2·3·width), patch size 1 with 128 input channels (the VAE's 32 latent channels 2×2-packed), no guidance or CLIP
vector input (klein is distilled without them); QK norms as `*_norm.scale` (ComfyUI renames them on load).

The FLUX.2 VAE is FLUX.1's with 32 latent channels, quant convs (`encoder.quant_conv`, `decoder.post_quant_conv`)
and a batch norm over the 2×2-packed latent (`bn.running_mean/var`, 128 channels, no affine): ComfyUI's VAE reads
that as `batch_norm_latent`, 128 latent channels at 16× downscale.

Klein's text conditioning is Qwen3's hidden states of three layers side by side: 3 × 2560 = 7680 for klein 4B.
"""

from __future__ import annotations

import torch

from flux_core.conditioning_io import save_conditioning

from .shapes import Shape, _write, flux_vae_shapes, random_state_dict

KLEIN_HIDDEN = 256  # two heads of 128 (klein 4B: 3072)
KLEIN_CONTEXT = 3 * 2560  # Qwen3-4B, three layers
KLEIN_IN = 128  # 32 latent channels × 2×2
KLEIN_HEAD_DIM = 128
FLUX2_VAE_Z = 32


def klein_shapes(
    double_blocks: int = 1, single_blocks: int = 1, hidden: int = KLEIN_HIDDEN
) -> dict[str, Shape]:
    h, mlp, d = hidden, 3 * hidden, KLEIN_HEAD_DIM
    out: dict[str, Shape] = {
        "img_in.weight": (h, KLEIN_IN),
        "txt_in.weight": (h, KLEIN_CONTEXT),
        "time_in.in_layer.weight": (h, 256),
        "time_in.out_layer.weight": (h, h),
        "double_stream_modulation_img.lin.weight": (6 * h, h),
        "double_stream_modulation_txt.lin.weight": (6 * h, h),
        "single_stream_modulation.lin.weight": (3 * h, h),
        "final_layer.linear.weight": (KLEIN_IN, h),
        "final_layer.adaLN_modulation.1.weight": (2 * h, h),
    }
    for i in range(double_blocks):
        for s in ("img", "txt"):
            p = f"double_blocks.{i}.{s}"
            out[f"{p}_attn.qkv.weight"] = (3 * h, h)
            out[f"{p}_attn.norm.query_norm.scale"] = out[f"{p}_attn.norm.key_norm.scale"] = (d,)
            out[f"{p}_attn.proj.weight"] = (h, h)
            out[f"{p}_mlp.0.weight"], out[f"{p}_mlp.2.weight"] = (2 * mlp, h), (h, mlp)
    for i in range(single_blocks):
        p = f"single_blocks.{i}"
        out[f"{p}.linear1.weight"], out[f"{p}.linear2.weight"] = (3 * h + 2 * mlp, h), (h, h + mlp)
        out[f"{p}.norm.query_norm.scale"] = out[f"{p}.norm.key_norm.scale"] = (d,)
    return out


def flux2_vae_shapes() -> dict[str, Shape]:
    z = FLUX2_VAE_Z
    out = flux_vae_shapes(z)
    out.update({
        "encoder.quant_conv.weight": (2 * z, 2 * z, 1, 1), "encoder.quant_conv.bias": (2 * z,),
        "decoder.post_quant_conv.weight": (z, z, 1, 1), "decoder.post_quant_conv.bias": (z,),
    })  # fmt: skip
    return out


def write_thin_klein(path: str, seed: int = 0) -> str:
    """A FLUX.2 [klein]-layout transformer (bf16), 256 wide, one double and one single block."""
    return _write(path, random_state_dict(klein_shapes(), seed))


def write_thin_flux2_vae(path: str, seed: int = 0) -> str:
    """The FLUX.2 VAE (bf16, ldm keys, 32 latent channels, latent batch norm) with random weights."""
    sd = random_state_dict(flux2_vae_shapes(), seed)
    gen = torch.Generator().manual_seed(seed + 1)
    sd["bn.running_mean"] = (torch.randn(4 * FLUX2_VAE_Z, generator=gen) * 0.1).to(torch.bfloat16)
    sd["bn.running_var"] = (1 + torch.rand(4 * FLUX2_VAE_Z, generator=gen)).to(torch.bfloat16)  # positive
    sd["bn.num_batches_tracked"] = torch.tensor(0, dtype=torch.int64)
    return _write(path, sd)


def write_klein_prompt(path: str, tokens: int = 16, seed: int = 0) -> str:
    """A random klein prompt conditioning ([1, tokens, 7680] Qwen3 states; klein takes no pooled vector)."""
    gen = torch.Generator().manual_seed(seed)
    save_conditioning(path, [(torch.randn(1, tokens, KLEIN_CONTEXT, generator=gen) * 0.1, {})])
    return path


def write_thin_klein_lora(path: str, rank: int = 4, seed: int = 0) -> str:
    """A LoRA for the thin klein in ComfyUI's converted layout (fal's `…_comfy_converted.safetensors`:
    `diffusion_model.<BFL key>.lora_A/B.weight`), on the attention and MLP weights of its blocks."""
    shapes = {
        k: v for k, v in klein_shapes().items() if k.endswith(".weight") and "blocks." in k and len(v) == 2
    }
    lora: dict[str, Shape] = {}
    for key, (out_f, in_f) in shapes.items():
        stem = "diffusion_model." + key[: -len(".weight")]
        lora[f"{stem}.lora_A.weight"], lora[f"{stem}.lora_B.weight"] = (rank, in_f), (out_f, rank)
    return _write(path, random_state_dict(lora, seed, gain=0.05))
