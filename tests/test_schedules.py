"""Schedule values against independent computations and the published numbers (tianweiy/DMD2@8d8fa55, black-forest-labs/flux sampling.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from flux_core.errors import FluxKitError
from flux_core.schedules_ddpm import (
    DMD2_PRESETS,
    dmd2_eps_sigmas,
    parse_timesteps,
    sdxl_alphas_cumprod,
    ve_sigma,
)
from flux_core.schedules_flow import (
    flux_mu,
    flux_sigmas,
    image_tokens,
    sd3_shift,
    snr_matched_flow_sigma,
    time_shift,
)


def test_ddpm_table_bit_exact_against_a_plain_python_float64_loop():
    lo, hi = 0.00085**0.5, 0.012**0.5
    acp, prod = [], 1.0
    for t in range(1000):
        beta = (lo + t * ((hi - lo) / 999)) ** 2
        prod *= 1.0 - beta
        acp.append(prod)
    ours = sdxl_alphas_cumprod().numpy()
    assert ours.dtype == np.float64
    assert ours.tolist() == acp  # bit-exact
    # diffusers' np.linspace-based table agrees to float64 rounding
    ref = np.cumprod(1.0 - np.linspace(lo, hi, 1000, dtype=np.float64) ** 2)
    assert np.max(np.abs(ours - ref) / ref) < 1e-13


@pytest.mark.parametrize(
    "t, alpha_bar, sigma",
    [
        (999, 0.004660, 14.615),
        (749, 0.05662, 4.082),
        (499, 0.2777, 1.613),
        (399, 0.4261, 1.161),
        (249, 0.6754, 0.693),
    ],
)
def test_published_sigmas(t, alpha_bar, sigma):
    acp = sdxl_alphas_cumprod()
    assert float(acp[t]) == pytest.approx(alpha_bar, rel=2e-3)
    assert ve_sigma(acp, t) == pytest.approx(sigma, abs=1.5e-3)


def test_presets_and_eps_sigmas():
    assert DMD2_PRESETS["4step"].timesteps == (999, 749, 499, 249)
    assert DMD2_PRESETS["1step"].timesteps == (399,)
    s = dmd2_eps_sigmas((999, 749, 499, 249))
    assert s[-1] == 0.0 and len(s) == 5 and s == sorted(s, reverse=True)
    # not ComfyUI's sgm_uniform 4-step [999, 749.25, 499.5, 249.75]: that one lands between table entries
    assert s[1] != pytest.approx(4.086, abs=1e-3)


def test_mu_and_shift_by_hand():
    assert flux_mu(256) == pytest.approx(0.5) and flux_mu(4096) == pytest.approx(1.15)
    assert image_tokens(1024, 1024) == 4096 and image_tokens(768, 768) == 2304
    assert flux_mu(image_tokens(768, 768)) == pytest.approx(0.5 + 2048 * 0.65 / 3840)  # 0.8467
    mu, sigma = 1.15, 0.749
    assert time_shift(mu, sigma) == pytest.approx(math.exp(mu) / (math.exp(mu) + 1 / sigma - 1))
    assert time_shift(mu, sigma) == pytest.approx(sd3_shift(math.exp(mu), sigma))  # the two shifts are one
    assert [round(time_shift(1.15, s), 4) for s in (0.999, 0.749, 0.499, 0.249)] == [
        0.9997,
        0.9041,
        0.7588,
        0.5115,
    ]
    assert [round(sd3_shift(3.0, s), 4) for s in (0.999, 0.749, 0.499, 0.249)] == [
        0.9997,
        0.8995,
        0.7492,
        0.4987,
    ]


def test_turbo_eight_step_schedule():
    s = flux_sigmas(8, flux_mu(4096))
    assert len(s) == 9 and s[0] == 1.0 and s[-1] == 0.0
    assert s[4] == pytest.approx(time_shift(1.15, 0.5))
    assert all(a > b for a, b in zip(s, s[1:]))


def test_snr_matched_mapping():
    acp = sdxl_alphas_cumprod()
    got = [round(snr_matched_flow_sigma(ve_sigma(acp, t)), 3) for t in (999, 749, 499, 399, 249)]
    assert got == [0.936, 0.803, 0.617, 0.537, 0.409]


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "no timesteps"),
        ("999, 749.5", "non-integer"),
        ("999, 1000", "outside"),
        ("499, 999", "strictly decreasing"),
        ("999, 999", "strictly decreasing"),
        ("-1", "outside"),
        ("abc", "non-integer"),
    ],
)
def test_bad_custom_timesteps(text, match):
    with pytest.raises(FluxKitError, match=match):
        parse_timesteps(text)


def test_custom_timesteps_parse():
    assert parse_timesteps(" 999,749 , 499 249 ") == (999, 749, 499, 249)
