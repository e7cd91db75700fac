"""Nodes: FLUX Turbo few-step sigmas, exact DMD2 sigmas, and DMD2's denoise→renoise sampler."""

from __future__ import annotations

import comfy.model_sampling
import comfy.samplers
import torch
from comfy_api.latest import io

from ..flux_core.dmd2_sampler import check_sigmas, dmd2_sample, unit_noise_input_scale
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
from .choices import Choice, Choices, all_accepted
from .comfy_compat import OTHER_FAMILIES, model_family
from .names import DMD2_SAMPLER, DMD2_SCHEDULER, TURBO_SCHEDULER, named_errors

CATEGORY = "FluxKit/sampling"
# Model families (ComfyUI's image_model) whose sigmas follow another rule than FLUX.1's shift, and what gives them.
OWN_SCHEDULE = {"flux2": "core's Flux2Scheduler (FluxKit's klein workflows use it)"}
TURBO_SHIFT = Choices(
    TURBO_SCHEDULER,
    "shift",
    (
        Choice("resolution", "μ from width×height (FLUX dynamic μ, as the FLUX and alimama pipelines)",
               ("resolution (FLUX dynamic μ)",)),
        Choice("model", "the shift set on the model (ModelSamplingFlux), ignoring width/height", ("model's own shift",)),
    ),
)  # fmt: skip
DMD2_PRESET = Choices(
    DMD2_SCHEDULER,
    "preset",
    (
        Choice("4step", "t = 999, 749, 499, 249: dmd2_sdxl_4step_unet or _lora", ("4-step 999,749,499,249",)),
        Choice("2step", "t = 999, 499", ("2-step 999,499",)),
        Choice("1step", "t = 399 with unit noise: dmd2_sdxl_1step_unet (eps models only)", ("1-step 399 (unit noise)",)),
        Choice("custom", "the timesteps typed below"),
    ),
)  # fmt: skip
FLOW_MAPPING = Choices(
    DMD2_SCHEDULER,
    "flow_mapping",
    (
        Choice("shifted", "the model's sigma at t/1000 (FLUX shift)", ("shifted by the model (t/1000 → model sigma)",)),
        Choice("literal", "σ = t/1000", ("literal (σ = t/1000)",)),
        Choice("snr", "the flow sigma with SDXL's signal-to-noise ratio at t, σ_VE/(1+σ_VE)",
               ("SNR-matched (σ_VE/(1+σ_VE))",)),
    ),
)  # fmt: skip
FIRST_STEP_NOISE = Choices(
    DMD2_SAMPLER,
    "first_step_noise",
    (
        Choice("unit", "the model sees unit-variance noise at the first step, as DMD2 trained it (matters for the "
               "1-step t=399 UNet; for 999 it equals ComfyUI's); assumes an empty latent", ("unit (DMD2)",)),
        Choice("comfyui", "ComfyUI's default noise scaling", ("ComfyUI default",)),
    ),
)  # fmt: skip


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
            display_name=TURBO_SCHEDULER,
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
                    options=TURBO_SHIFT.ids(),
                    default=TURBO_SHIFT.default,
                    tooltip=TURBO_SHIFT.tooltip("Where μ comes from:"),
                ),
            ],
            outputs=[t.Sigmas.Output()],
        )

    @classmethod
    def validate_inputs(cls, shift: str | None = None) -> bool | str:
        return TURBO_SHIFT.accepts(shift)

    @classmethod
    def execute(cls, model, steps: int, width: int, height: int, shift: str) -> io.NodeOutput:
        with named_errors(TURBO_SCHEDULER):
            ms = model.get_model_object("model_sampling")
            if not _is_flow(ms):
                raise FluxKitError(f"{TURBO_SCHEDULER}: the model is not a flow-matching (FLUX) model")
            family = model_family(model)
            if family in OWN_SCHEDULE:  # FLUX.1's resolution shift would be the wrong schedule
                raise FluxKitError(
                    f"{TURBO_SCHEDULER}: the model is {OTHER_FAMILIES[family][0]}, which shifts its sigmas by its "
                    f"own rule: use {OWN_SCHEDULE[family]}"
                )
            if TURBO_SHIFT.resolve(shift) == "resolution":
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
            display_name=DMD2_SCHEDULER,
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
                    options=DMD2_PRESET.ids(),
                    default=DMD2_PRESET.default,
                    tooltip=DMD2_PRESET.tooltip("DMD2's trained timesteps:"),
                ),
                io.String.Input(
                    "custom_timesteps",
                    default="999, 749, 499, 249",
                    tooltip="Integers 0…999, strictly decreasing, comma separated (used when preset = custom).",
                ),
                io.Combo.Input(
                    "flow_mapping",
                    options=FLOW_MAPPING.ids(),
                    default=FLOW_MAPPING.default,
                    tooltip=FLOW_MAPPING.tooltip("Flow models only: how a timestep t becomes a sigma:"),
                ),
            ],
            outputs=[t.Sigmas.Output()],
        )

    @classmethod
    def validate_inputs(cls, preset: str | None = None, flow_mapping: str | None = None) -> bool | str:
        return all_accepted((DMD2_PRESET, preset), (FLOW_MAPPING, flow_mapping))

    @classmethod
    def execute(cls, model, preset: str, custom_timesteps: str, flow_mapping: str) -> io.NodeOutput:
        with named_errors(DMD2_SCHEDULER):
            preset, flow_mapping = DMD2_PRESET.resolve(preset), FLOW_MAPPING.resolve(flow_mapping)
            if preset == "custom":
                steps, eps_only = parse_timesteps(custom_timesteps, DMD2_SCHEDULER), False
            else:
                steps, eps_only = DMD2_PRESETS[preset].timesteps, DMD2_PRESETS[preset].eps_only
            ms = model.get_model_object("model_sampling")
            if _is_flow(ms):
                if eps_only:
                    raise FluxKitError(
                        f"{DMD2_SCHEDULER}: preset {preset!r} is for an eps (SDXL) model; this model is flow-matching"
                    )
                sigmas = _flow_sigmas(ms, steps, flow_mapping)
            else:
                sigmas = [float(ms.sigma(torch.tensor(float(s)))) for s in steps] + [0.0]
            return io.NodeOutput(torch.tensor(sigmas, dtype=torch.float32), ui=_ui_sigmas(sigmas))


def _flow_sigmas(ms, steps: tuple[int, ...], mapping: str) -> list[float]:
    """Sigmas for DMD2 timesteps on a flow model; `mapping` is a FLOW_MAPPING id."""
    mappings = {
        "shifted": lambda: [float(ms.sigma(torch.tensor(literal_flow_sigma(s)))) for s in steps],
        "literal": lambda: [literal_flow_sigma(s) for s in steps],
        "snr": lambda: [
            snr_matched_flow_sigma(s) for s in dmd2_eps_sigmas(steps, sdxl_alphas_cumprod())[:-1]
        ],
    }
    return mappings[mapping]() + [0.0]


def sample_dmd2(model, x, sigmas, extra_args=None, callback=None, disable=None, unit_noise_first_step=True):
    """ComfyUI KSAMPLER function: DMD2's loop with the model's own noise scaling and ComfyUI's seeded noise."""
    from comfy.k_diffusion.sampling import default_noise_sampler

    check_sigmas(sigmas.tolist() if hasattr(sigmas, "tolist") else sigmas, DMD2_SAMPLER)
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
            display_name=DMD2_SAMPLER,
            category=CATEGORY,
            description=(
                "DMD2's sampler for SamplerCustomAdvanced: predict x0, re-noise to the next sigma with fresh seeded "
                "noise, return the last x0. For DMD2 SDXL 4-step/1-step checkpoints and few-step FLUX; cfg must be 1."
            ),
            inputs=[
                io.Combo.Input(
                    "first_step_noise",
                    options=FIRST_STEP_NOISE.ids(),
                    default=FIRST_STEP_NOISE.default,
                    tooltip=FIRST_STEP_NOISE.tooltip("Noise scaling at the first step:"),
                )
            ],
            outputs=[t.Sampler.Output()],
        )

    @classmethod
    def validate_inputs(cls, first_step_noise: str | None = None) -> bool | str:
        return FIRST_STEP_NOISE.accepts(first_step_noise)

    @classmethod
    def execute(cls, first_step_noise: str) -> io.NodeOutput:
        with named_errors(DMD2_SAMPLER):
            unit = FIRST_STEP_NOISE.resolve(first_step_noise) == "unit"
            return io.NodeOutput(
                comfy.samplers.KSAMPLER(sample_dmd2, extra_options={"unit_noise_first_step": unit})
            )


NODES = [FluxKitTurboScheduler, FluxKitDMD2Scheduler, FluxKitDMD2Sampler]
