"""DMD2's sampling loop: predict x0, re-noise to the next timestep with *fresh* noise, return the last x0.

Written over three callables so the same loop serves ComfyUI (denoiser = the wrapped model, re-noise = the model's
own `noise_scaling`) and closed-form tests:
- `denoise(x, sigma) → x0`;
- `renoise(sigma_next, noise, x0) → x`: VE-eps x0 + σ'·ε (= DMD2's √ᾱ'·x0 + √(1−ᾱ')·ε divided by √ᾱ'), flow
  (1 − σ')·x0 + σ'·ε;
- `noise(i) → ε_i`, fresh standard normal noise for re-noising after step i.
(tianweiy/DMD2@8d8fa55 main/utils.py get_x0_from_noise + scheduler.add_noise.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from .errors import FluxKitError

Denoise = Callable[[torch.Tensor, float], torch.Tensor]
Renoise = Callable[[float, torch.Tensor, torch.Tensor], torch.Tensor]


def renoise_eps_ve(sigma: float, noise: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    return x0 + sigma * noise


def renoise_flow(sigma: float, noise: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    return (1.0 - sigma) * x0 + sigma * noise


def unit_noise_input_scale(sigma: float) -> float:
    """Factor turning VE input σ·n into √(1+σ²)·n, which an eps model sees as unit noise (x/√(1+σ²) = n): DMD2's
    1-step model takes unit noise labelled t = 399, not noise at the t = 399 level."""
    return math.sqrt(1.0 + sigma * sigma) / sigma


def check_sigmas(sigmas: Sequence[float], where: str = "DMD2 sampler") -> None:
    """A schedule DMD2 can run: at least two sigmas (one step goes from sigmas[0] to sigmas[1]), strictly
    decreasing, none negative. One sigma (a SplitSigmas that kept only the last entry, a 0-step scheduler) leaves
    nothing to sample: ComfyUI still calls the sampler, which returned a latent near ±3e4."""
    values = [float(s) for s in sigmas]
    if len(values) < 2:
        raise FluxKitError(
            f"{where}: {len(values)} sigma{'s' if len(values) != 1 else ''} {values}: nothing to sample; a DMD2 "
            "schedule has one sigma per step plus the final 0 (FluxKit DMD2 Scheduler's output, or SplitSigmas' "
            "high part with at least two entries)"
        )
    if any(b >= a for a, b in zip(values, values[1:])) or values[-1] < 0:
        raise FluxKitError(f"{where}: sigmas {values} must be strictly decreasing and not negative")


def dmd2_sample(
    denoise: Denoise,
    x: torch.Tensor,
    sigmas: Sequence[float],
    renoise: Renoise,
    noise: Callable[[int], torch.Tensor],
    callback: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """Run DMD2 over `sigmas` (decreasing, last 0) from the noised input `x`; returns the final x0."""
    check_sigmas(sigmas)
    x0 = x
    for i in range(len(sigmas) - 1):
        x0 = denoise(x, float(sigmas[i]))
        if callback is not None:
            callback(i, x, x0)
        if sigmas[i + 1] > 0:
            x = renoise(float(sigmas[i + 1]), noise(i), x0)
    return x0
