"""SDXL's discrete DDPM table and DMD2's few-step timestep presets (data), with their sigmas.

SDXL (stabilityai/stable-diffusion-xl-base-1.0 scheduler config): 1000 steps, "scaled_linear" betas
β_t = (√0.00085 + t/(999)·(√0.012 − √0.00085))², ᾱ_t = Π(1 − β), VE sigma σ_t = √((1 − ᾱ_t)/ᾱ_t).
DMD2 (tianweiy/DMD2@8d8fa55 demo/text_to_image_sdxl.py, main/sd_unified_model.py): 4-step [999, 749, 499, 249] (SDXL 4-step UNet / LoRA), 2-step [999, 499],
1-step [399] for the SDXL 1-step UNet, which is fed *unit* noise labelled t = 399.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from .errors import FluxKitError

NUM_TRAIN_STEPS = 1000
BETA_START, BETA_END = 0.00085, 0.012


@dataclass(frozen=True)
class DMD2Preset:
    timesteps: tuple[int, ...]
    eps_only: bool  # meaningful only for an eps (SDXL) model
    note: str


DMD2_PRESETS: dict[str, DMD2Preset] = {
    "4step": DMD2Preset((999, 749, 499, 249), False, "dmd2_sdxl_4step_unet / _lora (fuse at 1.0)"),
    "2step": DMD2Preset((999, 499), False, "DMD2 2-step evaluation schedule"),
    "1step": DMD2Preset((399,), True, "dmd2_sdxl_1step_unet: unit noise labelled t=399"),
}


def sdxl_alphas_cumprod(steps: int = NUM_TRAIN_STEPS) -> torch.Tensor:
    """ᾱ_t for t = 0…steps−1 (float64): β_t = (√β₀ + t·(√β₁ − √β₀)/(steps − 1))², ᾱ_t = Π_{i≤t} (1 − β_i)."""
    lo, hi = BETA_START**0.5, BETA_END**0.5
    step = (hi - lo) / (steps - 1)
    betas = (lo + torch.arange(steps, dtype=torch.float64) * step) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


def ve_sigma(alphas_cumprod: torch.Tensor, t: int) -> float:
    """σ_VE(t) = √((1 − ᾱ_t)/ᾱ_t)."""
    a = alphas_cumprod[t]
    return float(((1.0 - a) / a).sqrt())


def parse_timesteps(text: str, where: str = "DMD2 timesteps") -> tuple[int, ...]:
    """'999, 749, 499, 249' → (999, 749, 499, 249); integers in [0, 999], strictly decreasing, at least one."""
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if not parts:
        raise FluxKitError(f"{where}: no timesteps given (expected e.g. '999, 749, 499, 249')")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError as e:
        raise FluxKitError(f"{where}: {text!r} has a non-integer timestep (expected integers 0…999)") from e
    bad = [v for v in values if not 0 <= v < NUM_TRAIN_STEPS]
    if bad:
        raise FluxKitError(f"{where}: timesteps {bad} are outside 0…{NUM_TRAIN_STEPS - 1}")
    if any(b >= a for a, b in zip(values, values[1:])):
        raise FluxKitError(f"{where}: timesteps {list(values)} must be strictly decreasing")
    return values


def dmd2_eps_sigmas(timesteps: tuple[int, ...], alphas_cumprod: torch.Tensor | None = None) -> list[float]:
    """VE sigmas of the DMD2 timesteps for an eps model, followed by 0."""
    acp = sdxl_alphas_cumprod() if alphas_cumprod is None else alphas_cumprod
    return [ve_sigma(acp, t) for t in timesteps] + [0.0]
