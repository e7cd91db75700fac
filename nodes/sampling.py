"""Nodes: FLUX Turbo few-step sigmas, exact DMD2 sigmas, and DMD2's denoise→renoise sampler."""

from __future__ import annotations

import comfy.model_sampling
import comfy.samplers
import torch
from comfy_api.latest import io

from ..flux_core.dmd2_sampler import dmd2_sample, unit_noise_input_scale
from ..flux_core.errors import FluxKitError
from ..flux_core.schedules_ddpm import DMD2_PRESETS, dmd2_eps_sigmas, parse_timesteps, sdxl_alphas_cumprod
from ..flux_core.schedules_flow import (
    flux_mu,
    flux_sigmas,
    image_tokens,
    literal_flow_sigma,
    snr_matched_flow_sigma,
)
from . import comfy_types as t

CATEGORY = "FluxKit/sampling"
CUSTOM = "custom"
FLOW_MAPPINGS = [
    "shifted by the model (t/1000 → model sigma)",
    "literal (σ = t/1000)",
    "SNR-matched (σ_VE/(1+σ_VE))",
]
TURBO_SHIFT = ["resolution (FLUX dynamic μ)", "model's own shift"]


def _is_flow(model_sampling) -> bool:
    return isinstance(model_sampling, comfy.model_sampling.CONST)


def _ui_sigmas(sigmas: list[float]) -> dict:
    return {"fluxkit_sigmas": [round(float(s), 6) for s in sigmas]}


class FluxKitTurboScheduler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitTurboScheduler",
            is_output_node=True,  # queue it alone to preview the schedule (plotted on the node by js/)
            display_name="FluxKit Turbo Scheduler (FLUX few-step)",
            category=CATEGORY,
            description=(
                "SIGMAS for few-step FLUX sampling with SamplerCustomAdvanced. FLUX.1-Turbo-Alpha: 8 steps, "
                "FluxGuidance 3.5, LoRA strength 1.0, euler, cfg 1. μ follows the image size like FLUX/diffusers "
                "(256 tokens → 0.5, 4096 → 1.15), or the model's own shift."
            ),
            inputs=[
                t.Model.Input(
                    "model", tooltip="The FLUX model (its sampling object gives the 'model's own shift')."
                ),
                io.Int.Input(
                    "steps", default=8, min=1, max=100, tooltip="Turbo-Alpha: 8. Plain FLUX.1-dev: 28."
                ),
                io.Int.Input(
                    "width", default=1024, min=16, max=16384, step=8, tooltip="Image width in pixels (for μ)."
                ),
                io.Int.Input(
                    "height",
                    default=1024,
                    min=16,
                    max=16384,
                    step=8,
                    tooltip="Image height in pixels (for μ).",
                ),
                io.Combo.Input(
                    "shift",
                    options=TURBO_SHIFT,
                    default=TURBO_SHIFT[0],
                    tooltip="resolution: μ from width×height (what the FLUX and alimama pipelines do). "
                    "model: the shift set on the model (ModelSamplingFlux), ignoring width/height.",
                ),
            ],
            outputs=[t.Sigmas.Output()],
        )

    @classmethod
    def execute(cls, model, steps: int, width: int, height: int, shift: str) -> io.NodeOutput:
        ms = model.get_model_object("model_sampling")
        if not _is_flow(ms):
            raise FluxKitError("FluxKit Turbo Scheduler: the model is not a flow-matching (FLUX) model")
        if shift == TURBO_SHIFT[0]:
            sigmas = flux_sigmas(steps, flux_mu(image_tokens(width, height)))
        else:
            sigmas = [float(ms.percent_to_sigma(k / steps)) for k in range(steps + 1)]
        return io.NodeOutput(torch.tensor(sigmas, dtype=torch.float32), ui=_ui_sigmas(sigmas))


class FluxKitDMD2Scheduler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitDMD2Scheduler",
            is_output_node=True,  # queue it alone to preview the schedule (plotted on the node by js/)
            display_name="FluxKit DMD2 Scheduler (exact timesteps)",
            category=CATEGORY,
            description=(
                "SIGMAS at exactly DMD2's trained timesteps, through the plugged-in model's own sampling object. "
                "For dmd2_sdxl_4step_unet / dmd2_sdxl_4step_lora (4-step) and dmd2_sdxl_1step_unet (1-step, t=399). "
                "Use with FluxKit DMD2 Sampler and cfg 1 (DMD2 uses no CFG at inference)."
            ),
            inputs=[
                t.Model.Input("model", tooltip="SDXL with DMD2 UNet/LoRA, or a flow (FLUX) model."),
                io.Combo.Input(
                    "preset",
                    options=[*DMD2_PRESETS, CUSTOM],
                    default=next(iter(DMD2_PRESETS)),
                    tooltip="4-step 999,749,499,249 (4-step UNet or LoRA); 2-step 999,499; 1-step 399 for the "
                    "1-step UNet (eps models only); custom uses the text below.",
                ),
                io.String.Input(
                    "custom_timesteps",
                    default="999, 749, 499, 249",
                    tooltip="Integers 0…999, strictly decreasing, comma separated (used when preset = custom).",
                ),
                io.Combo.Input(
                    "flow_mapping",
                    options=FLOW_MAPPINGS,
                    default=FLOW_MAPPINGS[0],
                    tooltip="Flow models only: how a timestep t becomes a sigma. shifted: the model's sigma at t/1000 "
                    "(FLUX shift). literal: t/1000. SNR-matched: the flow sigma with SDXL's signal-to-noise ratio at t.",
                ),
            ],
            outputs=[t.Sigmas.Output()],
        )

    @classmethod
    def execute(cls, model, preset: str, custom_timesteps: str, flow_mapping: str) -> io.NodeOutput:
        where = "FluxKit DMD2 Scheduler"
        if preset == CUSTOM:
            steps, eps_only = parse_timesteps(custom_timesteps, where), False
        else:
            steps, eps_only = DMD2_PRESETS[preset].timesteps, DMD2_PRESETS[preset].eps_only
        ms = model.get_model_object("model_sampling")
        if _is_flow(ms):
            if eps_only:
                raise FluxKitError(
                    f"{where}: preset {preset!r} is for an eps (SDXL) model; this model is flow-matching"
                )
            sigmas = _flow_sigmas(ms, steps, flow_mapping)
        else:
            sigmas = [float(ms.sigma(torch.tensor(float(s)))) for s in steps] + [0.0]
        return io.NodeOutput(torch.tensor(sigmas, dtype=torch.float32), ui=_ui_sigmas(sigmas))


def _flow_sigmas(ms, steps: tuple[int, ...], mapping: str) -> list[float]:
    if mapping == FLOW_MAPPINGS[0]:
        return [float(ms.sigma(torch.tensor(literal_flow_sigma(s)))) for s in steps] + [0.0]
    if mapping == FLOW_MAPPINGS[1]:
        return [literal_flow_sigma(s) for s in steps] + [0.0]
    return [snr_matched_flow_sigma(s) for s in dmd2_eps_sigmas(steps, sdxl_alphas_cumprod())[:-1]] + [0.0]


def sample_dmd2(model, x, sigmas, extra_args=None, callback=None, disable=None, unit_noise_first_step=True):
    """ComfyUI KSAMPLER function: DMD2's loop with the model's own noise scaling and ComfyUI's seeded noise."""
    from comfy.k_diffusion.sampling import default_noise_sampler

    extra_args = {} if extra_args is None else extra_args
    ms = model.inner_model.inner_model.model_sampling
    noise_sampler = default_noise_sampler(x, seed=extra_args.get("seed"))
    s_in = x.new_ones([x.shape[0]])
    sigma0 = float(sigmas[0])
    max_denoised = sigma0 >= float(ms.sigma_max) * (1 - 1e-5)
    if unit_noise_first_step and not _is_flow(ms) and not max_denoised and sigma0 > 0:
        x = x * unit_noise_input_scale(sigma0)  # the model sees unit noise labelled sigma0 (empty latent)

    def denoise(xi, sigma):
        return model(xi, sigma * s_in, **extra_args)

    def renoise(sigma, noise, x0):
        return ms.noise_scaling(torch.tensor(sigma, device=x0.device), noise, x0)

    def step_callback(i, xi, x0):
        if callback is not None:
            callback({"x": xi, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": x0})

    def fresh_noise(i):
        return noise_sampler(sigmas[i], sigmas[i + 1])

    return dmd2_sample(denoise, x, [float(s) for s in sigmas], renoise, fresh_noise, step_callback)


class FluxKitDMD2Sampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitDMD2Sampler",
            display_name="FluxKit DMD2 Sampler (denoise → renoise)",
            category=CATEGORY,
            description=(
                "DMD2's sampler for SamplerCustomAdvanced: predict x0, re-noise to the next sigma with fresh seeded "
                "noise, return the last x0. For DMD2 SDXL 4-step/1-step checkpoints and few-step FLUX; cfg must be 1."
            ),
            inputs=[
                io.Combo.Input(
                    "first_step_noise",
                    options=["unit (DMD2)", "ComfyUI default"],
                    default="unit (DMD2)",
                    tooltip="unit: the model sees unit-variance noise at the first step, as DMD2 trained it (matters for "
                    "the 1-step t=399 UNet; for 999 it equals ComfyUI's). Assumes an empty latent (text-to-image).",
                )
            ],
            outputs=[t.Sampler.Output()],
        )

    @classmethod
    def execute(cls, first_step_noise: str) -> io.NodeOutput:
        unit = first_step_noise == "unit (DMD2)"
        return io.NodeOutput(
            comfy.samplers.KSAMPLER(sample_dmd2, extra_options={"unit_noise_first_step": unit})
        )


NODES = [FluxKitTurboScheduler, FluxKitDMD2Scheduler, FluxKitDMD2Sampler]
