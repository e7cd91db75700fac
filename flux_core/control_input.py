"""The alimama inpainting ControlNet's control input: image + mask → 17-channel latent → 68 features per token.

Recipe (alimama-creative/FLUX-Controlnet-Inpainting@6ea5d92, pipeline_flux_controlnet_inpaint.py
`prepare_image_with_mask`):

1. mask: 1 = repaint (ComfyUI MASK convention); binarised at 0.5 as in alimama's training recipe
   (ComfyUI core keeps it soft; `binarize=False` reproduces core).
2. masked image: hole pixels set to black (0 in [0, 1], i.e. -1 after the VAE's 2x-1), all three channels.
3. VAE-encode the masked image (a callable supplied by the caller; it returns the *scaled* latent
   ``(z - 0.1159) * 0.3611``, [B, 16, h, w]).
4. mask resized to the latent size with nearest-exact, inverted (1 = keep, 0 = hole), concatenated *after* the 16
   latent channels → [B, 17, h, w].
5. packed 2×2, channel-major: feature = c*4 + ph*2 + pw, so the mask occupies features 64..67 → [B, L, 68].
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from einops import rearrange

from .errors import FluxKitError
from .inpaint.mask import as_batch, pair_batches
from .inpaint.mask import binarize as binarized

LATENT_CHANNELS = 16
PATCH = 2


def fill_hole_black(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """image [B, H, W, C] in [0, 1], mask [B, H, W] (1 = repaint) → new image with the hole set to 0 (black).

    A soft mask counts as hole where it rounds to 1 (≥ 0.5), as in ComfyUI core and alimama.
    """
    keep = (mask < 0.5).to(image.dtype).unsqueeze(-1)
    return image[..., :3] * keep


def mask_channel(mask: torch.Tensor, latent_hw: tuple[int, int]) -> torch.Tensor:
    """mask [B, H, W] (1 = repaint) → [B, 1, h, w] with 1 = keep, resized with nearest-exact."""
    small = F.interpolate(mask.unsqueeze(1).float(), size=latent_hw, mode="nearest-exact")
    return 1.0 - small


def pad_to_patch(x: torch.Tensor, patch: int = PATCH) -> torch.Tensor:
    """Pad [B, C, h, w] on the bottom/right to a multiple of `patch`, circularly — the same padding ComfyUI's FLUX
    applies to its latent, so control tokens line up with the model's tokens for odd latent sizes."""
    pad_h, pad_w = (-x.shape[-2]) % patch, (-x.shape[-1]) % patch
    if pad_h == 0 and pad_w == 0:
        return x
    return F.pad(x, (0, pad_w, 0, pad_h), mode="circular")


def pack_tokens(x: torch.Tensor, patch: int = PATCH) -> torch.Tensor:
    """[B, C, h, w] → [B, (h/2)(w/2), C*4], channel-major within a token (c ph pw), after `pad_to_patch`."""
    x = pad_to_patch(x, patch)
    return rearrange(x, "b c (h ph) (w pw) -> b (h w) (c ph pw)", ph=patch, pw=patch)


def image_ids(
    latent_hw: tuple[int, int], batch: int, device=None, dtype=torch.float32, patch: int = PATCH
) -> torch.Tensor:
    """Position ids [B, L, 3] of the packed image tokens: (0, row, col), as FLUX/BFL and diffusers build them."""
    h_len, w_len = (latent_hw[0] + patch - 1) // patch, (latent_hw[1] + patch - 1) // patch
    rows = torch.arange(h_len, device=device, dtype=dtype)[:, None].expand(h_len, w_len)
    cols = torch.arange(w_len, device=device, dtype=dtype)[None, :].expand(h_len, w_len)
    ids = torch.stack([torch.zeros_like(rows), rows, cols], dim=-1).reshape(1, h_len * w_len, 3)
    return ids.expand(batch, -1, -1)


def control_latent(latent: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Scaled latent of the masked image [B, 16, h, w] + mask [B, H, W] (1 = repaint) → [B, 17, h, w]."""
    if latent.ndim != 4 or latent.shape[1] != LATENT_CHANNELS:
        raise FluxKitError(f"expected a FLUX latent [B, 16, h, w], got {tuple(latent.shape)}")
    if mask.shape[0] not in (1, latent.shape[0]):
        raise FluxKitError(f"mask batch {mask.shape[0]} does not match latent batch {latent.shape[0]}")
    m = mask_channel(mask, tuple(latent.shape[-2:])).to(latent).expand(latent.shape[0], -1, -1, -1)
    return torch.cat([latent, m], dim=1)


def build_control_latent(
    image: torch.Tensor,
    mask: torch.Tensor,
    encode: Callable[[torch.Tensor], torch.Tensor],
    binarize: bool = True,
    where: str = "inpaint control",
) -> torch.Tensor:
    """image [B, H, W, 3] in [0, 1] + mask (1 = repaint) → [B, 17, H/8, W/8] control latent.

    `encode` maps a pixel batch [B, H, W, 3] in [0, 1] to the scaled FLUX latent [B, 16, H/8, W/8]. Inputs are
    never modified. An empty mask gives a control with nothing to repaint (mask channel all 1); a full mask a black
    image with mask channel all 0; neither produces NaN.
    """
    if image.ndim != 4 or image.shape[-1] < 3:
        raise FluxKitError(f"{where}: image must be [B, H, W, 3], got {tuple(image.shape)}")
    mask = as_batch(mask.to(image.device), where)
    image, mask = pair_batches(image, binarized(mask) if binarize else mask, where)
    latent = encode(fill_hole_black(image, mask))
    return control_latent(latent, mask)
