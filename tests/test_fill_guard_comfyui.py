"""FLUX.1 Fill without InpaintModelConditioning: core samples a blank picture without a word; FluxKit refuses it,
however the model was loaded, and checks only the conditioning sampling evaluates (the thin Fill, real ComfyUI)."""

from __future__ import annotations

import asyncio
import json

import pytest
import torch
from safetensors.torch import save_file

from flux_core.errors import FluxKitError

pytestmark = pytest.mark.comfyui
KS = dict(seed=0, steps=1, sampler_name="euler", scheduler="simple", denoise=1.0)


@pytest.fixture(scope="module")
def fill_setup(live_comfy, thin_models):
    import comfy.sd
    import comfy.utils

    gen = torch.Generator().manual_seed(0)
    text = [[torch.randn(1, 8, 4096, generator=gen), {"pooled_output": torch.randn(1, 768, generator=gen)}]]
    (zero,) = live_comfy.run("ConditioningZeroOut", conditioning=text)
    vae = comfy.sd.VAE(sd=comfy.utils.load_torch_file(thin_models["vae"]))
    pixels = torch.rand(1, 64, 64, 3, generator=gen)
    mask = torch.zeros(1, 64, 64)
    mask[:, 16:48, 16:48] = 1.0
    pos, neg, lat = live_comfy.run("InpaintModelConditioning", positive=text, negative=text, vae=vae, pixels=pixels,
                                   mask=mask, noise_mask=True)  # fmt: skip
    fill = comfy.sd.load_diffusion_model(thin_models["fill"])
    return dict(fill=fill, text=text, zero=zero, pos=pos, neg=neg, lat=lat)


def test_the_guard_checks_what_sampling_evaluates_and_changes_nothing_else(
    live_comfy, fill_setup, thin_models
):
    import comfy.patcher_extension as ext
    import comfy.sd

    s = fill_setup
    node = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitFillGuard"]
    guarded = node.execute(s["fill"]).result[0]
    assert guarded is not s["fill"] and not s["fill"].get_wrappers(
        ext.WrappersMP.OUTER_SAMPLE, "fluxkit_fill_needs_inpaint_conditioning"
    )
    # cfg 1 with a ConditioningZeroOut negative wired straight in: core never evaluates it; FluxKit lets it through
    # and the latent is core's, bit for bit
    args = dict(positive=s["pos"], negative=s["zero"], latent_image=s["lat"], cfg=1.0, **KS)
    (ours,) = live_comfy.run("KSampler", model=guarded, **args)
    (core,) = live_comfy.run("KSampler", model=s["fill"], **args)
    assert torch.equal(ours["samples"], core["samples"]) and ours["samples"].std() > 0
    refusals = {
        "positive": dict(positive=s["text"], negative=s["zero"], cfg=1.0),  # no InpaintModelConditioning at all
        "negative": dict(positive=s["pos"], negative=s["zero"], cfg=3.5),  # cfg ≠ 1: the negative is evaluated
        "pix2pix": dict(positive=[[s["text"][0][0], {**s["text"][0][1], "concat_latent_image": s["lat"]["samples"]}]],
                        negative=s["neg"], cfg=1.0),  # one key without the mask
    }  # fmt: skip
    for name, extra in refusals.items():
        with pytest.raises(FluxKitError) as refused:
            live_comfy.run("KSampler", model=guarded, latent_image=s["lat"], **{**KS, **extra})
        said = str(refused.value)
        assert said.startswith(
            "FluxKit Fill Guard (needs InpaintModelConditioning): the model is FLUX.1 Fill"
        ), said
        assert f"{'positive' if name == 'pix2pix' else name} conditioning did not come through" in said, (
            name,
            said,
        )
    dev = comfy.sd.load_diffusion_model(thin_models["flux"])
    assert node.execute(dev).result[0] is dev  # not Fill: passes through, no copy
    assert node.execute(guarded).result[0] is guarded  # already guarded


def test_the_prompt_guard_finds_fill_files_by_their_header(live_comfy, tmp_path):
    import sys

    guard = sys.modules[f"{live_comfy.pack.__name__}.nodes.fill_prompt_guard"]  # loaded with the pack
    files = {}
    for name, width in (("fill.safetensors", 384), ("dev.safetensors", 64)):
        files[name] = tmp_path / name
        save_file({"img_in.weight": torch.zeros(8, width, dtype=torch.uint8)}, str(files[name]))
    assert guard.img_in_features(str(files["fill.safetensors"])) == 384
    prompt = {
        "1": {
            "class_type": "UNETLoader",
            "inputs": {"unet_name": "fill.safetensors", "weight_dtype": "default"},
        },
        "2": {
            "class_type": "UNETLoader",
            "inputs": {"unet_name": "dev.safetensors", "weight_dtype": "default"},
        },
        "3": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "positive": ["9", 0]}},
        "4": {"class_type": "KSampler", "inputs": {"model": ["2", 0], "positive": ["9", 0]}},
    }
    out = guard.guard_prompt(json.loads(json.dumps(prompt)), lambda folder, name: str(tmp_path / name))
    assert out["3"]["inputs"]["model"] == ["1.fluxkit_fill_guard", 0] and out["4"]["inputs"]["model"] == [
        "2",
        0,
    ]
    assert out["1.fluxkit_fill_guard"]["inputs"] == {"model": ["1", 0]} and len(out) == 5
    assert out["1.fluxkit_fill_guard"]["class_type"] == "FluxKitFillGuard"
    assert guard.guard_prompt(json.loads(json.dumps(out)), lambda f, n: str(tmp_path / n)) == out  # once only


def test_a_server_refuses_a_fill_graph_without_inpaint_conditioning_however_the_model_was_loaded(
    comfy_server,
):
    """Through a real server: UNETLoader → KSampler and UNETLoader → FluxKit LoRA Loader → KSampler, both without
    InpaintModelConditioning, fail with the guard's message (the server put the guard in); a FLUX.1-dev graph is
    not touched."""
    from fluxkit_catalog import model_files as mf
    from fluxkit_comfy.client import PromptFailed, run_prompt
    from fluxkit_testmodels.thin_set import PROMPT_FILE

    def graph(unet: str, lora: bool) -> dict:
        model = ["5", 0] if lora else ["1", 0]
        prompt = {
            "1": {"class_type": "UNETLoader", "inputs": {"unet_name": unet, "weight_dtype": "default"}},
            "2": {"class_type": "FluxKitLoadConditioning", "inputs": {"conditioning_name": PROMPT_FILE}},
            "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
            "4": {
                "class_type": "KSampler",
                "inputs": {
                    "model": model,
                    "positive": ["2", 0],
                    "negative": ["2", 0],
                    "latent_image": ["3", 0],
                    "cfg": 1.0,
                    **KS,
                },
            },  # fmt: skip
            "6": {
                "class_type": "SaveLatent",
                "inputs": {"samples": ["4", 0], "filename_prefix": "fluxkit_guard"},
            },
        }
        if lora:
            prompt["5"] = {
                "class_type": "FluxKitLoraLoader",
                "inputs": {"model": ["1", 0], "lora_name": mf.TURBO_LORA, "strength": 1.0},
            }
        return prompt

    for lora in (False, True):
        with pytest.raises(PromptFailed) as failed:
            asyncio.run(run_prompt(comfy_server.url, graph(mf.FLUX_FILL, lora), timeout_s=600))
        assert "FluxKit Fill Guard (needs InpaintModelConditioning): the model is FLUX.1 Fill" in str(
            failed.value
        )
    result = asyncio.run(run_prompt(comfy_server.url, graph(mf.FLUX_DEV, False), timeout_s=600))
    assert result.node_seconds and not any(k.endswith("fluxkit_fill_guard") for k in result.node_seconds)
