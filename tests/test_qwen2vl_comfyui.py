"""FluxKit Qwen2VL-Flux Encode inside a real ComfyUI: the conditioning it makes is ordinary FLUX conditioning whose
T5 part, once through the model's own (LoRA-patched) text embedder, equals the reference's t5_embedder output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.comfyui


@pytest.fixture(scope="module")
def parts(live_comfy, thin_models):
    import os

    import folder_paths

    qwen_mod = live_comfy.import_module(live_comfy.pack.__name__ + ".nodes.qwen2vl")
    lora_mod = live_comfy.import_module(live_comfy.pack.__name__ + ".nodes.lora")
    sd = live_comfy.import_module("comfy.sd")
    conditioning_io = live_comfy.import_module(live_comfy.pack.__name__ + ".flux_core.conditioning_io")
    folder_paths.add_model_folder_path("qwen2vl_flux", os.path.dirname(thin_models["qwen_connector"]))
    folder_paths.add_model_folder_path("loras", os.path.dirname(thin_models["lora"]))
    folder_paths.add_model_folder_path("qwen2vl", os.path.dirname(thin_models["qwen2vl"]))
    model = sd.load_diffusion_model(thin_models["flux"])
    patched = lora_mod.FluxKitLoraLoader.execute(model, os.path.basename(thin_models["lora"]), 1.0).result[0]
    qwen = qwen_mod.FluxKitQwen2VLLoader.execute(os.path.basename(thin_models["qwen2vl"]), "fp32").result[0]
    connector = qwen_mod.FluxKitQwen2VLConnectorLoader.execute(
        os.path.basename(thin_models["qwen_connector"]), os.path.basename(thin_models["qwen_t5_embedder"])
    ).result[0]
    (cond, opts), = conditioning_io.load_conditioning(thin_models["conditioning"])  # fmt: skip
    return qwen_mod, patched, qwen, connector, [[cond, opts]]


def test_encode_is_ordinary_conditioning_and_t5_part_is_exact(live_comfy, parts, thin_models):
    qwen_mod, model, qwen, connector, text = parts
    image = torch.from_numpy(np.random.default_rng(0).random((2, 160, 224, 3)).astype(np.float32))
    out = qwen_mod.FluxKitQwen2VLEncode.execute(
        qwen, connector, model, image, text, 0.5, 0.5, 0.0, text
    ).result[0]
    (context, opts), = out  # fmt: skip
    t5 = text[0][0]
    n_t5 = t5.shape[1]
    assert context.shape[0] == 2 and context.shape[2] == 4096 and context.shape[1] > n_t5
    assert opts["pooled_output"].shape == (2, 768)
    assert torch.equal(
        opts["pooled_output"][0], text[0][1]["pooled_output"][0]
    )  # pooled from the empty prompt

    # What the sampler's txt_in will compute: load the LoRA-patched model and use its actual weights.
    live_comfy.import_module("comfy.model_management").load_models_gpu([model])
    txt_in = model.model.diffusion_model.txt_in
    with torch.no_grad():
        embedded_by_model = txt_in(context[:, -n_t5:].to(txt_in.weight.dtype))
        expected = connector.t5_embedder(t5.float())
    rel = ((embedded_by_model - expected).abs().max() / expected.abs().max()).item()
    assert rel < 1e-3, rel
    base = live_comfy.import_module("comfy.sd").load_diffusion_model(thin_models["flux"])
    assert not torch.equal(
        base.model.diffusion_model.txt_in.weight, txt_in.weight
    )  # the LoRA did move txt_in


def test_qwen2vl_is_loaded_through_comfyui_model_management(live_comfy, parts):
    """Qwen2-VL (~15 GB) goes to the GPU as ComfyUI's own models do (load_models_gpu frees room, e.g. by
    unloading FLUX) and is unloaded by it like any other model; never moved by hand outside its bookkeeping."""
    mm = live_comfy.import_module("comfy.model_management")
    qwen_mod, model, qwen, connector, text = parts
    mm.unload_all_models()
    assert not any(lm.model is qwen.patcher for lm in mm.current_loaded_models)
    before = {k: v.clone() for k, v in connector.connector.state_dict().items()}
    qwen_mod.FluxKitQwen2VLEncode.execute(
        qwen, connector, model, torch.rand(1, 64, 64, 3), text, 0.5, 0.5, 0.0
    )
    loaded = [lm for lm in mm.current_loaded_models if lm.model is qwen.patcher]
    assert len(loaded) == 1 and loaded[0].device == qwen.patcher.load_device
    assert qwen.patcher.model.qwen is qwen.qwen.model
    mm.unload_all_models()  # what ComfyUI does to make room for FLUX: Qwen2-VL leaves with the rest
    assert not any(lm.model is qwen.patcher for lm in mm.current_loaded_models)
    after = connector.connector.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the connector (a node output) is unchanged


def test_prompt_without_t5_embedder_is_a_clear_error(parts):
    qwen_mod, model, qwen, connector, text = parts
    image_only = qwen_mod.Connector(connector.connector, None)
    image = torch.rand(1, 64, 64, 3)
    with pytest.raises(Exception, match="needs the T5 embedder"):
        qwen_mod.FluxKitQwen2VLEncode.execute(qwen, image_only, model, image, text, 0.5, 0.5, 0.0, text)
    ((context, _),) = qwen_mod.FluxKitQwen2VLEncode.execute(  # fmt: skip
        qwen, image_only, model, image, text, 0.5, 0.5, 0.0
    ).result[0]
    assert context.shape[0] == 1 and context.shape[2] == 4096
