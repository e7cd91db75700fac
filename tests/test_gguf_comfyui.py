"""FluxKit's LoRA on quantized FLUX, loaded as low-VRAM users load it: city96/ComfyUI-GGUF's UnetLoaderGGUF (the pack
linked into the same real ComfyUI) on a thin FLUX written as GGUF (Q8_0, Q4_0) at test time, and core's UNETLoader
with weight_dtype fp8_e4m3fn. The LoRA against core's LoraLoaderModelOnly, the inpainting ControlNet against core's
alimama nodes, each on the same model.

Where the GGUF pack is absent ($COMFYUI_GGUF_PATH or ~/ComfyUI-GGUF, a checkout of city96/ComfyUI-GGUF; scripts/test.sh
clones the pinned commit when neither exists) or the `gguf` package is missing, these tests skip with the reason,
and fail in CI.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import torch
from conftest import prerequisite_missing

pytestmark = pytest.mark.comfyui
STRENGTH = 3.0  # the thin rank-4 LoRA at 1.0 moves a 2-step latent by only ~0.4 %


def _gguf_pack() -> Path | None:
    for c in (os.environ.get("COMFYUI_GGUF_PATH"), str(Path.home() / "ComfyUI-GGUF")):
        if c and (Path(c) / "nodes.py").is_file() and (Path(c) / "ops.py").is_file():
            return Path(c).resolve()
    return None


@pytest.fixture(scope="module")
def gguf_env(live_comfy, thin_models, tmp_path_factory):
    pytest.importorskip("gguf", reason="pip install gguf (city96/ComfyUI-GGUF needs it)")
    pack = _gguf_pack()
    if pack is None:  # scripts/test.sh clones the pinned commit when none is found
        prerequisite_missing(
            "no city96/ComfyUI-GGUF checkout: set COMFYUI_GGUF_PATH or put one at ~/ComfyUI-GGUF"
        )
    import folder_paths

    from fluxkit_testmodels.thin_gguf import write_flux_gguf

    if "UnetLoaderGGUF" not in live_comfy.nodes.NODE_CLASS_MAPPINGS:
        assert asyncio.run(live_comfy.nodes.load_custom_node(str(pack))), f"ComfyUI failed to load {pack}"
    cache = Path(os.path.dirname(thin_models["flux"]))
    files = {}
    for qtype in ("Q8_0", "Q4_0"):
        path = cache / f"flux-thin-{qtype}.gguf"
        if not path.is_file():
            write_flux_gguf(thin_models["flux"], str(path), qtype)
        files[qtype] = path.name
    folder_paths.add_model_folder_path("unet_gguf", str(cache))
    folder_paths.add_model_folder_path("loras", os.path.dirname(thin_models["lora"]))
    return {"files": files, "lora": os.path.basename(thin_models["lora"])}


def conditioning(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return [
        [
            torch.randn(1, 6, 4096, generator=g),
            {"pooled_output": torch.randn(1, 768, generator=g), "guidance": 3.5},
        ]
    ]


def sample(live_comfy, model, steps: int = 2):
    latent = {"samples": torch.zeros(1, 16, 16, 16)}
    cond = conditioning()
    with torch.inference_mode():  # as ComfyUI's executor runs nodes (fp8 weight patching needs it)
        out = live_comfy.nodes.common_ksampler(model, 5, steps, 1.0, "euler", "simple", cond, cond, latent)
    return out[0]["samples"]


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.fixture(scope="module")
def fp8_env(live_comfy, thin_models):
    import folder_paths

    folder_paths.add_model_folder_path("diffusion_models", os.path.dirname(thin_models["flux"]))
    folder_paths.add_model_folder_path("loras", os.path.dirname(thin_models["lora"]))
    return {"unet": os.path.basename(thin_models["flux"]), "lora": os.path.basename(thin_models["lora"])}


def lora_parity(live_comfy, model, lora: str, label: str):
    out = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitLoraLoader"].execute(model, lora, STRENGTH)
    report = out.ui.as_dict()["text"][0]
    assert "NOT applied" not in report, report
    ours = sample(live_comfy, out.result[0])
    core = sample(
        live_comfy,
        live_comfy.run("LoraLoaderModelOnly", model=model, lora_name=lora, strength_model=STRENGTH)[0],
    )
    plain = sample(live_comfy, model)
    err, effect = rel(ours, core), rel(plain, core)
    print(f"{label}: FluxKit LoRA vs core LoRA rel err {err:.2e}; LoRA effect {effect:.2e}")
    assert torch.isfinite(ours).all()
    assert err <= 1e-4
    assert effect > 1e-2


@pytest.mark.parametrize("qtype", ["Q8_0", "Q4_0"])
def test_lora_on_gguf_model_equals_core_lora_loader(live_comfy, gguf_env, qtype):
    model = live_comfy.run("UnetLoaderGGUF", unet_name=gguf_env["files"][qtype])[0]
    qkv = model.model.diffusion_model.double_blocks[0].img_attn.qkv.weight
    assert getattr(qkv, "tensor_type", None) is not None  # really quantized storage
    lora_parity(live_comfy, model, gguf_env["lora"], f"GGUF {qtype}")


def test_lora_on_fp8_model_equals_core_lora_loader(live_comfy, fp8_env):
    model = live_comfy.run("UNETLoader", unet_name=fp8_env["unet"], weight_dtype="fp8_e4m3fn")[0]
    assert model.model.diffusion_model.double_blocks[0].img_attn.qkv.weight.dtype == torch.float8_e4m3fn
    lora_parity(live_comfy, model, fp8_env["lora"], "fp8_e4m3fn")


def _cn_parity(live_comfy, model, thin_models, label: str):
    import comfy.sd as sd
    import comfy.utils as utils
    import folder_paths

    folder_paths.add_model_folder_path("controlnet", os.path.dirname(thin_models["controlnet"]))
    name = os.path.basename(thin_models["controlnet"])
    vae = sd.VAE(sd=utils.load_torch_file(thin_models["vae"]))
    image = torch.rand(1, 128, 128, 3, generator=torch.Generator().manual_seed(3))
    mask = torch.zeros(1, 128, 128)
    mask[:, 32:96, 40:100] = 1.0
    cond = conditioning()
    args = dict(positive=cond, negative=cond, vae=vae, image=image, mask=mask, strength=1.0, start_percent=0.0,
                end_percent=1.0)  # fmt: skip
    fluxkit_cn = (
        live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitInpaintControlNetLoader"].execute(name).result[0]
    )
    fk = live_comfy.run("FluxKitInpaintControlNetApply", control_net=fluxkit_cn, **args)
    core = live_comfy.run("ControlNetInpaintingAliMamaApply", control_net=live_comfy.run("ControlNetLoader", control_net_name=name)[0],
                     **args)  # fmt: skip

    def run(pos, neg):
        latent = {"samples": torch.zeros(1, 16, 16, 16)}
        with torch.inference_mode():
            return live_comfy.nodes.common_ksampler(model, 5, 2, 1.0, "euler", "simple", pos, neg, latent)[0][
                "samples"
            ]

    ours, theirs, plain = run(*fk), run(*core), run(cond, cond)
    err, effect = rel(ours, theirs), rel(plain, theirs)
    print(f"{label}: FluxKit ControlNet vs core alimama nodes rel err {err:.2e}; control effect {effect:.2e}")
    assert err <= 1e-4 and effect > 1e-2


def test_controlnet_on_gguf_model_equals_core(live_comfy, gguf_env, thin_models):
    model = live_comfy.run("UnetLoaderGGUF", unet_name=gguf_env["files"]["Q8_0"])[0]
    _cn_parity(live_comfy, model, thin_models, "GGUF Q8_0")


def test_controlnet_on_fp8_model_equals_core(live_comfy, fp8_env, thin_models):
    model = live_comfy.run("UNETLoader", unet_name=fp8_env["unet"], weight_dtype="fp8_e4m3fn")[0]
    _cn_parity(live_comfy, model, thin_models, "fp8_e4m3fn")
