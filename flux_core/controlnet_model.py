"""alimama-creative FLUX.1-dev-Controlnet-Inpainting (Alpha, Beta) as a pure-torch module, and its loader.

Architecture (alimama-creative/FLUX-Controlnet-Inpainting@6ea5d92 controlnet_flux.py, transformer_flux.py): diffusers'
FluxControlNetModel with 6 double blocks, 0 single blocks, guidance embedding, and a 68-feature
`controlnet_x_embedder` (16 latent + 1 mask channel, packed 2×2). Module attribute names are the checkpoint keys, so
the published safetensors load with `assign=True` and no remapping. The config is inferred from key shapes (any block
count and width load); a diffusers config.json beside the file is read when present and must agree.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .attention import rope_frequencies, timestep_embedding
from .controlnet_blocks import DoubleStreamBlock, TimeTextEmbed
from .errors import CheckpointError
from .safetensors_io import check_finite, load_state_dict

log = logging.getLogger(__name__)
EXPECTED = "the alimama FLUX.1-dev inpainting ControlNet (diffusers format, 68-feature controlnet_x_embedder)"


@dataclass(frozen=True)
class InpaintControlNetConfig:
    hidden_size: int = 3072
    num_heads: int = 24
    num_double_blocks: int = 6
    in_channels: int = 64
    cond_channels: int = 68
    context_dim: int = 4096
    pooled_dim: int = 768
    guidance_embed: bool = True
    axes_dims: tuple[int, int, int] = (16, 56, 56)
    theta: int = 10_000

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


def default_axes_dims(head_dim: int) -> tuple[int, int, int]:
    """RoPE split of the head dim over (index, row, col), all even: FLUX's (16, 56, 56) at head_dim 128 (≈ d/8, 7d/16,
    rest). Only used when no config.json says otherwise; FLUX-width checkpoints always get (16, 56, 56)."""
    a = 2 * (head_dim // 16)
    b = 2 * ((head_dim - a) // 4)
    return (a, b, head_dim - a - b)


# Key patterns that identify what a file *is* when it is not the inpainting ControlNet: (test, what it is).
NOT_INPAINT_CONTROLNET: list[tuple[Callable[[set[str]], bool], str]] = [
    (
        lambda keys: any(
            ".lora_" in k or "lora_down" in k or "lora_A" in k or k.endswith(".alpha") for k in keys
        ),
        "a LoRA",
    ),
    (
        lambda keys: "input_hint_block.0.weight" in keys,
        "an XLabs FLUX ControlNet (pixel-space input_hint_block)",
    ),
    (
        lambda keys: any(
            k.startswith(("input_blocks.", "controlnet_cond_embedding.", "zero_convs.")) for k in keys
        ),
        "an SD1.5/SDXL ControlNet",
    ),
    (
        lambda keys: (
            "double_blocks.0.img_attn.qkv.weight" in keys
            or any(k.startswith("model.diffusion_model.") for k in keys)
        ),
        "a FLUX model checkpoint in BFL/ComfyUI layout",
    ),
    (
        lambda keys: "proj_out.weight" in keys and "controlnet_blocks.0.weight" not in keys,
        "a full FLUX transformer",
    ),
    (
        lambda keys: "controlnet_blocks.0.weight" in keys and "controlnet_x_embedder.weight" not in keys,
        "a FLUX ControlNet without controlnet_x_embedder (not an inpainting one)",
    ),
]


def _count(keys, prefix: str) -> int:
    return len({k[len(prefix) :].split(".")[0] for k in keys if k.startswith(prefix)})


def infer_inpaint_controlnet_config(sd: dict[str, torch.Tensor], path: str, config_json: dict | None = None):
    """Config from key shapes; CheckpointError (naming `path`) when the file is something else."""
    keys = set(sd)
    for test, what in NOT_INPAINT_CONTROLNET:
        if test(keys):
            raise CheckpointError(path, f"this is {what}", EXPECTED)
    if "controlnet_x_embedder.weight" not in keys or "x_embedder.weight" not in keys:
        raise CheckpointError(
            path, "no controlnet_x_embedder / x_embedder weights: not a FLUX ControlNet", EXPECTED
        )
    hidden, cond = sd["controlnet_x_embedder.weight"].shape
    if cond != 68:
        kind = (
            "a union ControlNet"
            if "controlnet_mode_embedder.weight" in keys
            else "an ordinary FLUX ControlNet"
        )
        raise CheckpointError(
            path,
            f"{kind}: controlnet_x_embedder takes {cond} features; inpainting needs 68 (16 latent + 1 mask, ×4)",
            EXPECTED,
        )
    if _count(keys, "single_transformer_blocks.") or _count(keys, "controlnet_single_blocks."):
        raise CheckpointError(
            path, "has single-stream blocks; FluxKit supports double-block inpainting ControlNets", EXPECTED
        )
    head_dim = (
        sd["transformer_blocks.0.attn.norm_q.weight"].shape[0]
        if "transformer_blocks.0.attn.norm_q.weight" in keys
        else 128
    )
    cfg = dict(
        hidden_size=hidden,
        num_heads=hidden // head_dim,
        num_double_blocks=_count(keys, "transformer_blocks."),
        in_channels=sd["x_embedder.weight"].shape[1],
        cond_channels=cond,
        context_dim=sd["context_embedder.weight"].shape[1],
        pooled_dim=sd["time_text_embed.text_embedder.linear_1.weight"].shape[1],
        guidance_embed="time_text_embed.guidance_embedder.linear_1.weight" in keys,
        axes_dims=default_axes_dims(head_dim),
    )
    if config_json:
        _check_config_json(cfg, config_json, path)
    return InpaintControlNetConfig(**cfg)


CONFIG_JSON_FIELDS = {  # diffusers config.json field → (our field, converter)
    "num_layers": ("num_double_blocks", int),
    "num_attention_heads": ("num_heads", int),
    "guidance_embeds": ("guidance_embed", bool),
    "axes_dims_rope": ("axes_dims", tuple),
}


def _check_config_json(cfg: dict, config_json: dict, path: str) -> None:
    if config_json.get("num_single_layers", 0):
        raise CheckpointError(path, "config.json declares single layers", EXPECTED)
    for field, (ours, conv) in CONFIG_JSON_FIELDS.items():
        if field not in config_json:
            continue
        value = conv(config_json[field])
        if ours == "axes_dims":
            cfg[ours] = value  # not inferable from shapes: the config is the authority
        elif cfg[ours] != value:
            raise CheckpointError(
                path, f"config.json says {field}={value} but the weights have {ours}={cfg[ours]}"
            )


class AlimamaInpaintControlNet(nn.Module):
    """The inpainting ControlNet. See `forward` for shapes."""

    def __init__(self, config: InpaintControlNetConfig, dtype=None, device=None, operations=None):
        super().__init__()
        ops = operations if operations is not None else nn
        self.config = c = config
        h = c.hidden_size
        self.x_embedder = ops.Linear(c.in_channels, h, dtype=dtype, device=device)
        self.controlnet_x_embedder = ops.Linear(c.cond_channels, h, dtype=dtype, device=device)
        self.context_embedder = ops.Linear(c.context_dim, h, dtype=dtype, device=device)
        self.time_text_embed = TimeTextEmbed(ops, h, c.pooled_dim, c.guidance_embed, dtype, device)
        blocks = range(c.num_double_blocks)
        self.transformer_blocks = nn.ModuleList(
            [DoubleStreamBlock(ops, h, c.num_heads, dtype, device) for _ in blocks]
        )
        self.controlnet_blocks = nn.ModuleList([ops.Linear(h, h, dtype=dtype, device=device) for _ in blocks])

    def forward(
        self, img, cond, txt, pooled, timesteps, guidance, img_ids, txt_ids, scale=1.0, num_residuals=None
    ):
        """Residuals for the base model's image stream.

        img [B, L, 64] packed noisy latent; cond [B, L, 68] packed control latent; txt [B, T, 4096]; pooled [B, 768]
        (None → zeros); timesteps [B] sigma in [0, 1]; guidance [B] or None (then not embedded, as ComfyUI does);
        img_ids [B, L, 3] or [L, 3]; txt_ids [B, T, 3] or [T, 3]. Returns `num_residuals` (default: all) tensors
        [B, L, hidden] = controlnet_blocks[k](image stream after block k) · scale; blocks past the last requested
        residual are not run.
        """
        n = (
            self.config.num_double_blocks
            if num_residuals is None
            else min(num_residuals, self.config.num_double_blocks)
        )
        dt = img.dtype
        emb = self.time_text_embed
        vec = emb.timestep_embedder(timestep_embedding(timesteps).to(dt))
        if emb.guidance_embedder is not None and guidance is not None:
            vec = vec + emb.guidance_embedder(timestep_embedding(guidance).to(dt))
        if pooled is None:
            pooled = torch.zeros(img.shape[0], self.config.pooled_dim, dtype=dt, device=img.device)
        vec = vec + emb.text_embedder(pooled)
        x = self.x_embedder(img) + self.controlnet_x_embedder(cond)
        c = self.context_embedder(txt)
        img_ids = img_ids[None] if img_ids.ndim == 2 else img_ids
        txt_ids = txt_ids[None] if txt_ids.ndim == 2 else txt_ids
        batch = max(img_ids.shape[0], txt_ids.shape[0])
        ids = torch.cat([txt_ids.expand(batch, -1, -1), img_ids.expand(batch, -1, -1)], dim=1)
        freqs = rope_frequencies(ids, self.config.axes_dims, self.config.theta)
        out = []
        for k in range(n):
            x, c = self.transformer_blocks[k](x, c, vec, freqs)
            out.append(self.controlnet_blocks[k](x) * scale)
        return out


def expected_keys(config: InpaintControlNetConfig) -> set[str]:
    """The checkpoint keys `config` defines: the state-dict keys of the module built with plain torch layers on
    the meta device (no memory). Not the keys of the module built with the caller's `operations`: ComfyUI's lazy
    layers (dynamic VRAM) hold `weight=None` until the state dict is loaded, so their state_dict() is short."""
    with torch.device("meta"):
        return set(AlimamaInpaintControlNet(config).state_dict())


def load_inpaint_controlnet(
    path: str,
    dtype=None,
    device=None,
    operations=None,
    config: InpaintControlNetConfig | None = None,
    linear_weight_dtype: torch.dtype | None = None,
) -> AlimamaInpaintControlNet:
    """Read `path` (safetensors), infer or check the config, build on the meta device and assign the weights.

    `linear_weight_dtype` (e.g. torch.float8_e4m3fn) stores only the Linear weights in that dtype (biases, norms and
    everything else stay in `dtype`); `operations` must then cast weights at compute time (ComfyUI's manual_cast
    ops do). Halves the ControlNet's memory in fp8 (Beta: 4.28 → ≈2.15 GB)."""
    sd = load_state_dict(path)
    config_json = None
    side = os.path.join(os.path.dirname(os.path.abspath(path)), "config.json")
    if config is None and os.path.isfile(side):
        with open(side) as f:
            candidate = json.load(f)
        if candidate.get("_class_name") == "FluxControlNetModel":
            config_json = candidate
    inferred = infer_inpaint_controlnet_config(sd, path, config_json)
    check_finite(sd, path, EXPECTED)
    config = config or inferred
    expected = expected_keys(config)
    with torch.device("meta"):
        model = AlimamaInpaintControlNet(config, dtype=dtype, operations=operations)
    missing, unexpected = sorted(expected - set(sd)), sorted(set(sd) - expected)
    if missing or unexpected:
        raise CheckpointError(
            path,
            f"key mismatch: missing {missing[:5]}{'…' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'…' if len(unexpected) > 5 else ''}",
            EXPECTED,
        )
    if dtype is not None:
        sd = {k: v.to(dtype) for k, v in sd.items()}
    if linear_weight_dtype is not None:
        linear_weights = {
            f"{name}.weight" for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)
        }
        sd = {k: v.to(linear_weight_dtype) if k in linear_weights else v for k, v in sd.items()}
    model.load_state_dict(sd, strict=True, assign=True)
    return model.to(device) if device is not None else model
