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
