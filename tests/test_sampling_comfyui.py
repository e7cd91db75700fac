"""FluxKit's schedule and DMD2 sampler nodes inside a real ComfyUI (thin FLUX for the flow case)."""

from __future__ import annotations

import pytest
import torch

from flux_core.schedules_ddpm import dmd2_eps_sigmas
from flux_core.schedules_flow import flux_mu, flux_sigmas, image_tokens

pytestmark = pytest.mark.comfyui


@pytest.fixture(scope="module")
def flux(live_comfy, thin_models):
    import comfy.sd

    return comfy.sd.load_diffusion_model(thin_models["flux"])


def node(live_comfy, name):
    return live_comfy.nodes.NODE_CLASS_MAPPINGS[name]


def run_custom_advanced(live_comfy, model, sampler, sigmas, seed=11):
    g = torch.Generator().manual_seed(0)
    cond = [
        [
            torch.randn(1, 6, 4096, generator=g),
            {"pooled_output": torch.randn(1, 768, generator=g), "guidance": 3.5},
        ]
    ]
    guider = live_comfy.run("BasicGuider", model=model, conditioning=cond)[0]
    noise = live_comfy.run("RandomNoise", noise_seed=seed)[0]
    latent = {"samples": torch.zeros(1, 16, 8, 8)}
    out = live_comfy.run(
        "SamplerCustomAdvanced",
        noise=noise,
        guider=guider,
        sampler=sampler,
        sigmas=sigmas,
        latent_image=latent,
    )
    return out[1]["samples"]


def test_turbo_scheduler_values(live_comfy, flux):
    sched = node(live_comfy, "FluxKitTurboScheduler")
    out = sched.execute(flux, 8, 1024, 768, "resolution")
    expected = flux_sigmas(8, flux_mu(image_tokens(1024, 768)))
    assert torch.allclose(out.result[0], torch.tensor(expected), atol=1e-7)
    assert out.ui["fluxkit_sigmas"][0] == 1.0  # sent to the front end for the plot
    by_model = sched.execute(flux, 8, 64, 64, "model").result[0]  # ModelSamplingFlux default μ = 1.15
    assert torch.allclose(by_model, torch.tensor(flux_sigmas(8, 1.15)), atol=1e-6)


def test_dmd2_sampler_equals_core_lcm_on_flux_and_turbo_runs(live_comfy, flux):
    sigmas = node(live_comfy, "FluxKitDMD2Scheduler").execute(flux, "4step", "", "literal")
    sigmas = sigmas.result[0]
    assert sigmas.tolist() == pytest.approx([0.999, 0.749, 0.499, 0.249, 0.0])
    dmd2 = node(live_comfy, "FluxKitDMD2Sampler").execute("unit").result[0]
    lcm = live_comfy.run("KSamplerSelect", sampler_name="lcm")[0]
    a = run_custom_advanced(live_comfy, flux, dmd2, sigmas)
    b = run_custom_advanced(live_comfy, flux, lcm, sigmas)
    assert torch.isfinite(a).all() and a.abs().max() > 0
    assert torch.equal(a, b)  # same maths, same seeded fresh noise: identical
    turbo = node(live_comfy, "FluxKitTurboScheduler").execute(flux, 8, 64, 64, "resolution").result[0]
    euler = live_comfy.run("KSamplerSelect", sampler_name="euler")[0]
    assert torch.isfinite(run_custom_advanced(live_comfy, flux, euler, turbo)).all()


class _SDXLSampling:
    """Stands in for an SDXL MODEL: only its real ComfyUI sampling object is needed by the scheduler node."""

    def __init__(self):
        import importlib

        supported = importlib.import_module("comfy.supported_models")
        model_base = importlib.import_module("comfy.model_base")
        cfg = supported.SDXL({})
        self.ms = model_base.model_sampling(cfg, model_base.ModelType.EPS)  # the same object SDXL models get

    def get_model_object(self, name):
        assert name == "model_sampling"
        return self.ms


def test_dmd2_scheduler_on_sdxl_sampling_is_exact_and_flow_refuses_eps_preset(live_comfy, flux):
    sched = node(live_comfy, "FluxKitDMD2Scheduler")
    sdxl = _SDXLSampling()
    got = sched.execute(sdxl, "4step", "", "literal").result[0]
    assert torch.allclose(
        got, torch.tensor(dmd2_eps_sigmas((999, 749, 499, 249)), dtype=torch.float32), rtol=2e-6
    )
    comfy_sgm = live_comfy.import_module("comfy.samplers").calculate_sigmas(sdxl.ms, "sgm_uniform", 4)
    assert not torch.allclose(comfy_sgm[1], got[1], rtol=1e-4)  # core's sgm_uniform is close, not exact
    one = sched.execute(sdxl, "1step", "", "literal").result[0]
    assert one.tolist() == pytest.approx([dmd2_eps_sigmas((399,))[0], 0.0], rel=2e-6)
    with pytest.raises(ValueError, match="eps \\(SDXL\\) model; this model is flow-matching"):
        sched.execute(flux, "1step", "", "literal")
    with pytest.raises(ValueError, match="strictly decreasing"):
        sched.execute(sdxl, "custom", "249, 999", "literal")


def test_dmd2_sampler_with_one_sigma_says_there_is_nothing_to_sample(live_comfy, flux):
    """A one-entry list (SplitSigmas at the last step, a 0-step schedule) used to return a latent near ±3e4."""
    from flux_core.errors import FluxKitError

    dmd2 = node(live_comfy, "FluxKitDMD2Sampler").execute("unit").result[0]
    for bad, why in (([0.999], "nothing to sample"), ([0.5, 0.7, 0.0], "strictly decreasing")):
        with pytest.raises(FluxKitError, match=rf"^FluxKit DMD2 Sampler \(denoise → renoise\): .*{why}"):
            run_custom_advanced(live_comfy, flux, dmd2, torch.tensor(bad))
    good = run_custom_advanced(live_comfy, flux, dmd2, torch.tensor([0.999, 0.0]))
    assert torch.isfinite(good).all() and good.abs().max() < 100
