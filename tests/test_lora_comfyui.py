"""FluxKit's LoRA loader inside a real ComfyUI: same patched weights as core's LoraLoaderModelOnly."""

from __future__ import annotations

import os

import pytest
import torch

pytestmark = pytest.mark.comfyui


@pytest.fixture(scope="module")
def lora_setup(comfy, thin_models):
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


def patched_weights(patcher) -> dict[str, torch.Tensor]:
    import comfy.model_management as mm

    mm.load_models_gpu([patcher], force_full_load=True)
    out = {k: v.detach().clone() for k, v in patcher.model.diffusion_model.state_dict().items()}
    mm.unload_all_models()
    return out


def core_lora(comfy, model, name, strength):
    return comfy.run("LoraLoaderModelOnly", model=model, lora_name=name, strength_model=strength)[0]


def test_fluxkit_lora_equals_core_lora_loader(comfy, lora_setup):
    model, (lora_a, lora_b) = lora_setup["model"], lora_setup["loras"]
    loader = comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitLoraLoader"]
    base = patched_weights(model)

    out = loader.execute(model, lora_a, 0.8)
    fk = out.result[0]
    assert (
        "0 keys NOT applied" not in out.ui.as_dict()["text"][0]
        and "NOT applied" not in out.ui.as_dict()["text"][0]
    )
    ours = patched_weights(fk)
    theirs = patched_weights(core_lora(comfy, model, lora_a, 0.8))
    err = max((ours[k] - theirs[k]).abs().max().item() for k in ours)
    moved = sum(
        not torch.equal(ours[k], base[k]) for k in ours if k.endswith(".weight") and ours[k].ndim == 2
    )
    print(f"FluxKit vs core LoraLoaderModelOnly: max abs weight diff {err:.2e}; {moved} weights changed")
    assert err <= 1e-6
    assert moved == sum(
        1 for k in base if k.endswith(".weight") and base[k].ndim == 2
    )  # every Linear got its delta
    assert torch.equal(
        patched_weights(model)["img_in.weight"], base["img_in.weight"]
    )  # input MODEL untouched

    stacked_ours = patched_weights(loader.execute(fk, lora_b, 0.5).result[0])
    stacked_core = patched_weights(core_lora(comfy, core_lora(comfy, model, lora_a, 0.8), lora_b, 0.5))
    assert max((stacked_ours[k] - stacked_core[k]).abs().max().item() for k in stacked_ours) <= 1e-6


def test_non_flux_lora_and_model_errors(comfy, lora_setup, tmp_path):
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
    loader = comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitLoraLoader"]
    with pytest.raises(ValueError, match="sdxl_style.safetensors: no key of this LoRA targets FLUX"):
        loader.execute(lora_setup["model"], "sdxl_style.safetensors", 1.0)
