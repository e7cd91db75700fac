"""Tiny diffusers reference ControlNets with alimama's 68-feature embedder, and checkpoint writers for tests."""

from __future__ import annotations

import torch
from safetensors.torch import save_file

from flux_core.control_input import image_ids

# axes (2, 6, 8) = flux_core's default RoPE split for head_dim 16
TINY = dict(heads=2, head_dim=16, blocks=3, context=32, pooled=16, axes=(2, 6, 8))


def diffusers_inpaint_controlnet(
    heads: int, head_dim: int, blocks: int, context: int, pooled: int, axes, guidance: bool = True, seed: int = 0,
    bias_std: float = 0.1,
):  # fmt: skip
    """diffusers FluxControlNetModel (in_channels 64) with controlnet_x_embedder replaced by Linear(68, inner),
    exactly what alimama's fork adds; every weight random (diffusers zero-inits the ControlNet blocks): weights
    N(0, 1/fan_in), biases N(0, bias_std²). fp32, eval mode."""
    from diffusers import FluxControlNetModel

    ref = FluxControlNetModel(
        in_channels=64,
        num_layers=blocks,
        num_single_layers=0,
        attention_head_dim=head_dim,
        num_attention_heads=heads,
        joint_attention_dim=context,
        pooled_projection_dim=pooled,
        guidance_embeds=guidance,
        axes_dims_rope=list(axes),
    )
    ref.controlnet_x_embedder = torch.nn.Linear(68, heads * head_dim)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (bias_std if p.ndim == 1 else p.shape[-1] ** -0.5))
    return ref.eval()


def tiny_diffusers_inpaint_controlnet(
    seed: int = 0, blocks: int = TINY["blocks"], guidance: bool = True, axes=TINY["axes"]
):
    """The tests' tiny reference: 2 heads of 16, text width 32, pooled 16."""
    return diffusers_inpaint_controlnet(
        TINY["heads"], TINY["head_dim"], blocks, TINY["context"], TINY["pooled"], axes, guidance, seed
    )


def write_checkpoint(model: torch.nn.Module, path: str, dtype: torch.dtype = torch.float32) -> str:
    save_file({k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}, path)
    return path


def tiny_inputs(tokens_hw=(3, 4), txt_tokens: int = 5, batch: int = 1, seed: int = 1) -> dict:
    g = torch.Generator().manual_seed(seed)
    h, w = tokens_hw
    ids = image_ids((2 * h, 2 * w), 1)[0]  # [h·w, 3] (0, row, col)
    return {
        "img": torch.randn(batch, h * w, 64, generator=g),
        "cond": torch.randn(batch, h * w, 68, generator=g),
        "txt": torch.randn(batch, txt_tokens, TINY["context"], generator=g),
        "pooled": torch.randn(batch, TINY["pooled"], generator=g),
        "timesteps": torch.rand(batch, generator=g),
        "guidance": torch.full((batch,), 3.5),
        "img_ids": ids,
        "txt_ids": torch.zeros(txt_tokens, 3),
    }


def reference_residuals(ref, x: dict, scale: float) -> list[torch.Tensor]:
    with torch.no_grad():
        return list(
            ref(
                hidden_states=x["img"],
                controlnet_cond=x["cond"],
                encoder_hidden_states=x["txt"],
                pooled_projections=x["pooled"],
                timestep=x["timesteps"],
                guidance=x["guidance"],
                img_ids=x["img_ids"],
                txt_ids=x["txt_ids"],
                conditioning_scale=scale,
                return_dict=False,
            )[0]
        )
