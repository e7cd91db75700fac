"""DMD2's loop on an analytic toy: Gaussian data, whose optimal denoiser is linear and known in closed form.

Data x0 ~ N(m, s²) per dimension. VP forward: x_t = √ᾱ·x0 + √(1−ᾱ)·ε ⇒ E[ε | x_t] is linear in x_t. Flow forward:
x_σ = (1−σ)·x0 + σ·ε ⇒ E[x0 | x_σ] is linear too. The reference loops below are written step by step from the DMD2
description (VP space, ᾱ, fresh noise), independently of flux_core's VE-space loop.
"""

from __future__ import annotations

import pytest
import torch

from flux_core.dmd2_sampler import dmd2_sample, renoise_eps_ve, renoise_flow, unit_noise_input_scale
from flux_core.schedules_ddpm import sdxl_alphas_cumprod, ve_sigma

M, S = 0.3, 0.7  # data mean and std
ACP = sdxl_alphas_cumprod()


def eps_star(x_t, a):
    """E[ε | x_t] for x_t = √a·x0 + √(1−a)·ε, x0 ~ N(M, S²)."""
    var = a * S**2 + (1 - a)
    return (1 - a) ** 0.5 * (x_t - a**0.5 * M) / var


def x0_star_flow(x, sigma):
    """E[x0 | x] for x = (1−σ)·x0 + σ·ε."""
    var = (1 - sigma) ** 2 * S**2 + sigma**2
    return M + (1 - sigma) * S**2 * (x - (1 - sigma) * M) / var


def noises(n, shape=(4096,), seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(n)]


def reference_vp(timesteps, eps):
    """DMD2 as published: x ← unit noise; per t: x0 from eps; if a next t: x ← √ᾱ'·x0 + √(1−ᾱ')·ε_fresh."""
    x = eps[0]
    for k, t in enumerate(timesteps):
        a = float(ACP[t])
        x0 = (x - (1 - a) ** 0.5 * eps_star(x, a)) / a**0.5
        if k + 1 < len(timesteps):
            a_next = float(ACP[timesteps[k + 1]])
            x = a_next**0.5 * x0 + (1 - a_next) ** 0.5 * eps[k + 1]
    return x0


def ve_denoiser(x, sigma):
    """What ComfyUI's eps model wrapper computes: input scaled by 1/√(σ²+1), x0 = x − σ·ε̂."""
    a = 1.0 / (1.0 + sigma**2)
    return x - sigma * eps_star(x * a**0.5, a)


@pytest.mark.parametrize("timesteps", [(999, 749, 499, 249), (999, 499), (399,)])
def test_eps_loop_matches_reference(timesteps):
    eps = noises(len(timesteps))
    sigmas = [ve_sigma(ACP, t) for t in timesteps] + [0.0]
    x_init = eps[0] * sigmas[0] * unit_noise_input_scale(sigmas[0])  # model sees unit noise at the first step
    out = dmd2_sample(ve_denoiser, x_init, sigmas, renoise_eps_ve, lambda i: eps[i + 1])
    ref = reference_vp(timesteps, eps)
    assert (out - ref).abs().max().item() <= 1e-9
    assert (out - x_init).abs().mean().item() > 0.1  # the loop really moved the sample


def test_one_step_without_unit_noise_is_what_comfyui_default_gives_and_differs():
    eps = noises(1)
    s = ve_sigma(ACP, 399)
    wrong = dmd2_sample(
        ve_denoiser, eps[0] * s, [s, 0.0], renoise_eps_ve, lambda i: None
    )  # 0.758× noise seen
    right = reference_vp((399,), eps)
    assert (wrong - right).abs().max().item() > 0.1


def reference_flow(sigmas, eps):
    x = eps[0]
    for k, sigma in enumerate(sigmas[:-1]):
        x0 = x0_star_flow(x, sigma)
        if sigmas[k + 1] > 0:
            x = (1 - sigmas[k + 1]) * x0 + sigmas[k + 1] * eps[k + 1]
    return x0


@pytest.mark.parametrize("sigmas", [[0.999, 0.749, 0.499, 0.249, 0.0], [0.999, 0.499, 0.0], [1.0, 0.0]])
def test_flow_loop_matches_reference(sigmas):
    eps = noises(len(sigmas) - 1, seed=1)
    x_init = sigmas[0] * eps[0] + (1 - sigmas[0]) * 0.0  # ComfyUI's flow noise scaling of an empty latent
    out = dmd2_sample(x0_star_flow, x_init, sigmas, renoise_flow, lambda i: eps[i + 1])
    ref_x0 = reference_flow(sigmas, [sigmas[0] * eps[0]] + eps[1:])
    assert (out - ref_x0).abs().max().item() <= 1e-12
