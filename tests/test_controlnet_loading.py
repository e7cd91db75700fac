"""The inpainting ControlNet loader: config inference from shapes, clear errors for every wrong file."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from flux_core.controlnet_model import (
    AlimamaInpaintControlNet,
    infer_inpaint_controlnet_config,
    load_inpaint_controlnet,
)
from flux_core.errors import CheckpointError
from flux_core.safetensors_io import check_finite
from fluxkit_testmodels import shapes as tm
from fluxkit_testmodels.cn_reference import tiny_diffusers_inpaint_controlnet, write_checkpoint


def meta_sd(shapes: dict) -> dict:
    return {k: torch.empty(s, device="meta") for k, s in shapes.items()}


def test_alpha_beta_shapes_infer_the_published_config():
    cfg = infer_inpaint_controlnet_config(
        meta_sd(tm.inpaint_controlnet_shapes(double_blocks=6)), "beta.safetensors"
    )
    assert (cfg.hidden_size, cfg.num_heads, cfg.num_double_blocks) == (3072, 24, 6)
    assert (cfg.cond_channels, cfg.context_dim, cfg.pooled_dim, cfg.guidance_embed) == (68, 4096, 768, True)
    assert cfg.axes_dims == (16, 56, 56)
    assert (
        infer_inpaint_controlnet_config(meta_sd(tm.inpaint_controlnet_shapes(2)), "x").num_double_blocks == 2
    )


def test_module_keys_equal_the_published_layout():
    cfg = infer_inpaint_controlnet_config(meta_sd(tm.inpaint_controlnet_shapes(6)), "beta")
    with torch.device("meta"):
        model = AlimamaInpaintControlNet(cfg)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == tm.inpaint_controlnet_shapes(6)
    assert sum(v.numel() for v in model.state_dict().values()) / 1e9 == pytest.approx(
        2.14, abs=0.01
    )  # the published Beta file: 4.28 GB in bf16 = 2.14 B parameters


def _save(tmp_path, name, sd):
    path = str(tmp_path / name)
    save_file({k: v.contiguous() for k, v in sd.items()}, path)
    return path


@pytest.mark.parametrize(
    "name, keys, what",
    [
        (
            "turbo_lora.safetensors",
            {"transformer.x_embedder.lora_A.weight": (4, 64), "transformer.x_embedder.lora_B.weight": (8, 4)},
            "a LoRA",
        ),
        (
            "kohya.safetensors",
            {
                "lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight": (4, 8),
                "lora_unet_double_blocks_0_img_attn_qkv.alpha": (),
            },
            "a LoRA",
        ),
        (
            "xlabs_cn.safetensors",
            {"input_hint_block.0.weight": (16, 3, 3, 3), "controlnet_blocks.0.weight": (8, 8)},
            "XLabs",
        ),
        (
            "flux1-dev.safetensors",
            {"double_blocks.0.img_attn.qkv.weight": (24, 8), "img_in.weight": (8, 64)},
            "BFL",
        ),
        (
            "sdxl_cn.safetensors",
            {"controlnet_cond_embedding.conv_in.weight": (16, 3, 3, 3)},
            "SDXL ControlNet",
        ),
        (
            "transformer.safetensors",
            {"proj_out.weight": (64, 8), "x_embedder.weight": (8, 64)},
            "full FLUX transformer",
        ),
    ],
)
def test_wrong_kinds_of_file_are_named(tmp_path, name, keys, what):
    path = _save(tmp_path, name, {k: torch.zeros(s) for k, s in keys.items()})
    with pytest.raises(CheckpointError) as err:
        load_inpaint_controlnet(path)
    msg = str(err.value)
    assert name in msg and what in msg and "68-feature controlnet_x_embedder" in msg


def test_ordinary_flux_controlnet_is_refused_with_the_reason(tmp_path):
    ref = tiny_diffusers_inpaint_controlnet()
    ref.controlnet_x_embedder = torch.nn.Linear(64, 32)  # InstantX-style: control image latent only, no mask
    path = write_checkpoint(ref, str(tmp_path / "instantx_canny.safetensors"))
    with pytest.raises(CheckpointError, match=r"instantx_canny.*takes 64 features; inpainting needs 68"):
        load_inpaint_controlnet(path)


def test_truncated_and_non_safetensors_files(tmp_path):
    path = write_checkpoint(tiny_diffusers_inpaint_controlnet(), str(tmp_path / "beta.safetensors"))
    data = open(path, "rb").read()
    cut = tmp_path / "beta_cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"beta_cut.safetensors.*truncated"):
        load_inpaint_controlnet(str(cut))
    junk = tmp_path / "readme.safetensors"
    junk.write_text("<html>not found</html>")
    with pytest.raises(CheckpointError, match="readme.safetensors"):
        load_inpaint_controlnet(str(junk))
    with pytest.raises(CheckpointError, match="file not found"):
        load_inpaint_controlnet(str(tmp_path / "missing.safetensors"))


def test_missing_keys_are_listed(tmp_path):
    ref = tiny_diffusers_inpaint_controlnet()
    sd = {k: v for k, v in ref.state_dict().items() if "ff_context" not in k}
    path = _save(tmp_path, "partial.safetensors", sd)
    with pytest.raises(
        CheckpointError, match=r"partial.safetensors.*missing \['transformer_blocks.0.ff_context"
    ):
        load_inpaint_controlnet(path)


def test_operations_hook_builds_every_linear(tmp_path):
    built = []

    class CountingLinear(torch.nn.Linear):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append((self.in_features, self.out_features))

    class Ops:
        Linear = CountingLinear

    path = write_checkpoint(tiny_diffusers_inpaint_controlnet(), str(tmp_path / "cn.safetensors"))
    model = load_inpaint_controlnet(path, operations=Ops)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(built) == len(linears) > 0
    assert all(isinstance(m, CountingLinear) for m in linears)


def test_nan_in_controlnet_weights_is_an_error_naming_file_and_tensor(tmp_path):
    sd = tm.random_state_dict(tm.inpaint_controlnet_shapes(1, hidden=256), seed=0)
    sd["transformer_blocks.0.ff.net.2.weight"][3, :2] = float("nan")
    path = _save(tmp_path, "cn-nan.safetensors", sd)
    with pytest.raises(CheckpointError) as err:
        load_inpaint_controlnet(path)
    shape = tuple(sd["transformer_blocks.0.ff.net.2.weight"].shape)
    assert str(err.value) == (
        f"{path}: tensor 'transformer_blocks.0.ff.net.2.weight' {shape} has 2 NaN/inf values (the first "
        "non-finite tensor in the file) (expected the alimama FLUX.1-dev inpainting ControlNet (diffusers format, "
        "68-feature controlnet_x_embedder) with finite values: the file is corrupt, re-download or re-create it)"
    )
    sd["transformer_blocks.0.ff.net.2.weight"][3, :2] = 0.0
    assert check_finite(sd, path, "weights") is None  # a clean state dict passes
