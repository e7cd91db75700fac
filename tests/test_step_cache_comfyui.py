"""FluxKit's inpainting ControlNet under ComfyUI's step caching (EasyCache, LazyCache; in 0.3.64 and 0.28), 28 steps on the thin
set. The caches wrap the diffusion model's forward and reuse its output on steps they skip; the ControlNet's
residuals are computed before that forward on every step, so on computed steps they apply as without a cache.
Oracle: core's alimama ControlNet nodes under the same cache, same seed. Skipped where a release has no cache node."""

from __future__ import annotations

import logging
import os
import re

import pytest
import torch

pytestmark = pytest.mark.comfyui
STEPS = 28
# reuse thresholds at which each cache skips steps on the thin random model (EasyCache's default 0.2 skips none there)
THRESHOLDS = {"EasyCache": 1.0, "LazyCache": 0.2}


def conditioning(seed: int):
    g = torch.Generator().manual_seed(seed)
    return [
        [
            torch.randn(1, 8, 4096, generator=g),
            {"pooled_output": torch.randn(1, 768, generator=g), "guidance": 3.5},
        ]
    ]


@pytest.fixture(scope="module")
def parts(live_comfy, thin_models):
    import comfy.sd as sd
    import comfy.utils as utils
    import folder_paths

    folder_paths.add_model_folder_path("controlnet", os.path.dirname(thin_models["controlnet"]))
    name = os.path.basename(thin_models["controlnet"])
    g = torch.Generator().manual_seed(3)
    image = torch.rand(1, 128, 128, 3, generator=g)
    mask = torch.zeros(1, 128, 128)
    mask[:, 32:96, 40:100] = 1.0
    return {
        "model": sd.load_diffusion_model(thin_models["flux"]),
        "vae": sd.VAE(sd=utils.load_torch_file(thin_models["vae"])),
        "fluxkit_cn": live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitInpaintControlNetLoader"]
        .execute(name)
        .result[0],
        "core_cn": live_comfy.run("ControlNetLoader", control_net_name=name)[0],
        "image": image,
        "mask": mask,
    }


def sample(live_comfy, model, positive, negative):
    latent = {"samples": torch.zeros(1, 16, 8, 8)}
    with torch.inference_mode():
        out = live_comfy.nodes.common_ksampler(
            model, 7, STEPS, 1.0, "euler", "simple", positive, negative, latent
        )
    return out[0]["samples"]


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("cache", ["EasyCache", "LazyCache"])
def test_controlnet_under_step_cache_matches_core_and_steps_are_skipped(live_comfy, parts, cache, caplog):
    if cache not in live_comfy.nodes.NODE_CLASS_MAPPINGS:
        pytest.skip(f"ComfyUI {live_comfy.version} has no {cache} node (added after 0.3.64)")
    cached = live_comfy.run(cache, model=parts["model"], reuse_threshold=THRESHOLDS[cache], start_percent=0.15, end_percent=0.95,
                       verbose=False)[0]  # fmt: skip
    pos, neg = conditioning(1), conditioning(2)
    args = dict(vae=parts["vae"], image=parts["image"], mask=parts["mask"], strength=1.0, start_percent=0.0,
                end_percent=1.0)  # fmt: skip
    fk = live_comfy.run(
        "FluxKitInpaintControlNetApply", positive=pos, negative=neg, control_net=parts["fluxkit_cn"], **args
    )
    core = live_comfy.run("ControlNetInpaintingAliMamaApply", positive=pos, negative=neg, control_net=parts["core_cn"],
                     **args)  # fmt: skip
    with caplog.at_level(logging.INFO):
        ours = sample(live_comfy, cached, fk[0], fk[1])
    skipped = [int(m) for m in re.findall(rf"{cache} - skipped (\d+)/{STEPS} steps", caplog.text)]
    theirs = sample(live_comfy, cached, core[0], core[1])
    plain = sample(live_comfy, cached, pos, neg)
    err, effect = rel(ours, theirs), rel(plain, theirs)
    print(
        f"{cache}: skipped {skipped} of {STEPS}; FluxKit vs core CN rel err {err:.2e}; control effect {effect:.2e}"
    )
    assert len(skipped) == 1 and skipped[0] > 0  # the cache really skipped steps in FluxKit's run
    assert err <= 1e-4  # the same residuals on the computed steps (and so the same skip decisions)
    assert effect > 1e-2  # and they matter
