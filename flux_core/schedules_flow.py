"""Flow-matching (FLUX) sigma schedules: the resolution-dependent shift and few-step (Turbo / DMD2-style) lists.

Formulas (black-forest-labs/flux sampling.py `get_schedule`/`time_shift`; diffusers@58eb52c src/diffusers/pipelines/flux/pipeline_flux.py `calculate_shift`):
- image tokens: seq = (H/16)·(W/16) for an H×W image (latent /8, packed 2×2);
- μ(seq) = base + (seq − 256)·(max − base)/(4096 − 256), base 0.5, max 1.15 (256 tokens → 0.5, 4096 → 1.15);
- exponential shift: σ' = e^μ / (e^μ + (1/σ − 1)), identical to SD3's σ' = sσ / (1 + (s − 1)σ) with s = e^μ;
- Turbo/FLUX schedule for N steps: σ_k = shift(1 − k/N), k = 0…N (ends at 0);
- DMD2 timestep t on the 1000-step grid → σ = t/1000 (literal, optionally shifted) or the SNR-matched
  σ_flow = σ_VE / (1 + σ_VE) with σ_VE = √((1 − ᾱ_t)/ᾱ_t) from the SDXL DDPM table.
"""

from __future__ import annotations

import math

BASE_SEQ, MAX_SEQ = 256, 4096
BASE_SHIFT, MAX_SHIFT = 0.5, 1.15


def image_tokens(width: int, height: int) -> float:
    """FLUX image tokens for a width×height image: (W/16)(H/16), as ComfyUI's ModelSamplingFlux computes it."""
    return width * height / (8 * 8 * 2 * 2)


def flux_mu(tokens: float, base_shift: float = BASE_SHIFT, max_shift: float = MAX_SHIFT) -> float:
    """μ linear in the token count through (256, base_shift) and (4096, max_shift)."""
    slope = (max_shift - base_shift) / (MAX_SEQ - BASE_SEQ)
    return base_shift + slope * (tokens - BASE_SEQ)


def time_shift(mu: float, sigma: float) -> float:
    """FLUX's exponential shift σ' = e^μ / (e^μ + (1/σ − 1)); σ = 0 stays 0 and σ = 1 stays 1."""
    if sigma <= 0.0:
        return 0.0
    if sigma >= 1.0:
        return 1.0
    return math.exp(mu) / (math.exp(mu) + (1.0 / sigma - 1.0))


def sd3_shift(s: float, sigma: float) -> float:
    """SD3's shift σ' = sσ / (1 + (s − 1)σ); equals `time_shift(ln s, σ)`."""
    return s * sigma / (1.0 + (s - 1.0) * sigma)


def flux_sigmas(steps: int, mu: float) -> list[float]:
    """N-step FLUX schedule: shifted linspace(1, 0, N + 1), N + 1 values ending at 0."""
    if steps < 1:
        raise ValueError(f"steps must be ≥ 1, got {steps}")
    return [time_shift(mu, 1.0 - k / steps) for k in range(steps + 1)]


def literal_flow_sigma(t: int) -> float:
    """DMD2 timestep t (0…999) read literally as a flow sigma: t/1000."""
    return t / 1000.0


def snr_matched_flow_sigma(sigma_ve: float) -> float:
    """Flow sigma with the same signal-to-noise ratio as a VE sigma: σ_VE / (1 + σ_VE)."""
    return sigma_ve / (1.0 + sigma_ve)
