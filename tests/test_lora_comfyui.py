"""FluxKit's LoRA loader inside a real ComfyUI: same patched weights as core's LoraLoaderModelOnly."""

from __future__ import annotations

import os

import pytest
import torch

pytestmark = pytest.mark.comfyui


@pytest.fixture(scope="module")
def lora_setup(live_comfy, thin_models):
    import comfy.sd
    import folder_paths

    from fluxkit_testmodels import shapes as tm

    root = os.path.dirname(thin_models["flux"])
    names = []
    for seed in (0, 1):
        path = os.path.join(root, f"turbo-thin-r4-s{seed}.safetensors")
        if not os.path.isfile(path):
            tm.write_thin_turbo_lora(path, seed=seed)
        names.append(os.path.basename(path))
    folder_paths.add_model_folder_path("loras", root)
    return {"model": comfy.sd.load_diffusion_model(thin_models["flux"]), "loras": names}


def patched_weights(patcher, compare=None):
    """The diffusion model's weights as `patcher` applies them: a copy (`compare` None), or `compare(state_dict)`
    computed while they are loaded, which needs no second 1 GB copy of the thin model."""
    import comfy.model_management as mm

    mm.load_models_gpu([patcher], force_full_load=True)
    state = patcher.model.diffusion_model.state_dict()
    out = {k: v.detach().clone() for k, v in state.items()} if compare is None else compare(state)
    mm.unload_all_models()
    return out


def max_diff(reference: dict[str, torch.Tensor]):
    return lambda state: max((state[k] - reference[k]).abs().max().item() for k in reference)


def core_lora(live_comfy, model, name, strength):
    return live_comfy.run("LoraLoaderModelOnly", model=model, lora_name=name, strength_model=strength)[0]


def test_fluxkit_lora_equals_core_lora_loader(live_comfy, lora_setup):
    model, (lora_a, lora_b) = lora_setup["model"], lora_setup["loras"]
    loader = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitLoraLoader"]
    # at most one copy of the weights at a time (+ the model, + ComfyUI's backup while patched): the suite
    # shares 24 GB with a ComfyUI server
    linears, img_in = patched_weights(
        model,
        lambda s: (
            [k for k, v in s.items() if k.endswith(".weight") and v.ndim == 2],
            s["img_in.weight"].clone(),
        ),
    )

    out = loader.execute(model, lora_a, 0.8)
    fk = out.result[0]
    assert "NOT applied" not in out.ui.as_dict()["text"][0]
    ours = patched_weights(fk)
    moved = patched_weights(model, lambda base: sum(not torch.equal(ours[k], base[k]) for k in linears))
    err = patched_weights(core_lora(live_comfy, model, lora_a, 0.8), max_diff(ours))
    ours = None  # free the copy before the stacked case
    print(f"FluxKit vs core LoraLoaderModelOnly: max abs weight diff {err:.2e}; {moved} weights changed")
    assert err <= 1e-6
    assert moved == len(linears) > 0  # every Linear got its delta
    assert patched_weights(model, lambda s: torch.equal(s["img_in.weight"], img_in))  # input MODEL untouched

    stacked_ours = patched_weights(loader.execute(fk, lora_b, 0.5).result[0])
    stacked_core = core_lora(live_comfy, core_lora(live_comfy, model, lora_a, 0.8), lora_b, 0.5)
    assert patched_weights(stacked_core, max_diff(stacked_ours)) <= 1e-6


def test_non_flux_lora_and_model_errors(live_comfy, lora_setup, tmp_path):
    import folder_paths
    from safetensors.torch import save_file

    sdxl = tmp_path / "sdxl_style.safetensors"
    save_file(
        {
            "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": torch.zeros(4, 320),
            "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": torch.zeros(320, 4),
        },
        str(sdxl),
    )
    folder_paths.add_model_folder_path("loras", str(tmp_path))
    loader = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitLoraLoader"]
    with pytest.raises(ValueError, match="sdxl_style.safetensors: no key of this LoRA targets FLUX"):
        loader.execute(lora_setup["model"], "sdxl_style.safetensors", 1.0)


def test_dev_lora_on_fill_is_placed_on_the_latent_columns_where_core_drops_it(
    live_comfy, lora_setup, thin_models
):
    """FLUX.1-Turbo-Alpha's img_in pair is 64 inputs wide, FLUX.1 Fill's img_in 384. Core (both lines) fails its
    reshape, logs an ERROR and leaves img_in unpatched; FluxKit applies it to columns 0..63 (the noisy latent), as
    diffusers' `_maybe_expand_lora_state_dict` does by zero-padding lora_A, and says so in its output. Every other
    weight equals core's."""
    import comfy.sd
    from safetensors.torch import load_file

    fill = comfy.sd.load_diffusion_model(thin_models["fill"])
    assert type(fill.model.model_config).__name__ == "FluxInpaint"
    assert fill.model.model_config.unet_config["in_channels"] == 96
    name = lora_setup["loras"][0]
    loader = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitLoraLoader"]
    out = loader.execute(fill, name, 0.8)
    report = out.ui.as_dict()["text"][0]
    assert "NOT applied" not in report and "64 inputs on img_in's 384: applied to columns 0..63" in report, (
        report
    )

    base_img_in = patched_weights(fill, lambda s: s["img_in.weight"].float().clone())
    ours = patched_weights(out.result[0])
    core = core_lora(live_comfy, fill, name, 0.8)
    others = [k for k in ours if k != "img_in.weight"]
    assert patched_weights(core, lambda s: max((s[k] - ours[k]).abs().max().item() for k in others)) <= 1e-6
    assert patched_weights(
        core, lambda s: torch.equal(s["img_in.weight"].float(), base_img_in)
    )  # core: unpatched

    sd = load_file(os.path.join(os.path.dirname(thin_models["flux"]), name))
    down, up = (
        sd["transformer.x_embedder.lora_A.weight"].float(),
        sd["transformer.x_embedder.lora_B.weight"].float(),
    )
    padded = torch.cat(
        [down, torch.zeros(down.shape[0], 384 - down.shape[1])], dim=1
    )  # what diffusers does (its
    # own expansion is compared on a tiny Fill-shaped model in test_lora_parity)
    expected = base_img_in + 0.8 * (up @ padded)
    got = ours["img_in.weight"].float()
    assert torch.equal(
        got[:, 64:], base_img_in[:, 64:]
    )  # the Fill conditioning columns keep the model's weights
    assert torch.allclose(got, expected, rtol=1e-3, atol=1e-5), (got - expected).abs().max()
    assert not torch.allclose(got[:, :64], base_img_in[:, :64])  # the delta is there
