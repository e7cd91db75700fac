"""Bad LoRA files give clear errors or reported keys, never silent no-ops."""

from __future__ import annotations

import pytest
import torch

from flux_core.errors import FluxKitError
from flux_core.lora_reader import read_flux_lora
from fluxkit_testmodels.lora_reference import (
    linear_modules,
    peft_lora_for_every_linear,
    tiny_flux_transformer,
    to_bfl,
)
from fluxkit_testmodels.shapes import inpaint_controlnet_shapes


@pytest.fixture(scope="module")
def tiny():
    model = tiny_flux_transformer()
    base = to_bfl(model.state_dict())
    return model, {k: tuple(v.shape) for k, v in base.items()}


def test_controlnet_given_as_lora(tiny):
    sd = {k: torch.zeros(s) for k, s in list(inpaint_controlnet_shapes(1, hidden=32).items())[:6]}
    with pytest.raises(FluxKitError, match=r"cn.safetensors: not a LoRA .*ControlNet or full checkpoint"):
        read_flux_lora(sd, tiny[1], "cn.safetensors")


def test_sdxl_lora_given_to_flux(tiny):
    sd = {
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": torch.zeros(4, 320),
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": torch.zeros(320, 4),
        "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": torch.zeros(4, 768),
        "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight": torch.zeros(3072, 4),
    }
    with pytest.raises(
        FluxKitError,
        match=r"sdxl.safetensors: no key of this LoRA targets FLUX \(it looks like an SD1.5/SDXL",
    ):
        read_flux_lora(sd, tiny[1], "sdxl.safetensors")


def test_mismatched_rank_and_nan(tiny):
    lora = peft_lora_for_every_linear(tiny[0])
    bad = dict(lora)
    bad["transformer.x_embedder.lora_A.weight"] = torch.zeros(3, 64)  # rank 3 vs lora_B's 4
    with pytest.raises(
        FluxKitError, match=r"bad.safetensors: transformer.x_embedder: up \(32, 4\) and down \(3, 64\)"
    ):
        read_flux_lora(bad, tiny[1], "bad.safetensors")
    nan = dict(lora)
    nan["transformer.proj_out.lora_B.weight"] = torch.full((64, 4), float("nan"))
    with pytest.raises(FluxKitError, match="nan.safetensors: transformer.proj_out: up weight contains NaN"):
        read_flux_lora(nan, tiny[1], "nan.safetensors")


def test_unplaced_keys_are_reported_with_reasons(tiny):
    lora = peft_lora_for_every_linear(tiny[0])
    lora["transformer.transformer_blocks.7.attn.to_q.lora_A.weight"] = torch.zeros(
        4, 32
    )  # block 7 does not exist
    lora["transformer.transformer_blocks.7.attn.to_q.lora_B.weight"] = torch.zeros(32, 4)
    lora["transformer.x_embedder.dora_scale"] = torch.ones(1, 64)
    lora["text_encoder.layer.0.q.lora_A.weight"] = torch.zeros(4, 8)
    lora["text_encoder.layer.0.q.lora_B.weight"] = torch.zeros(8, 4)
    wide = torch.zeros(4, 48)  # a LoRA trained for a wider model
    lora["transformer.context_embedder.lora_A.weight"] = wide
    result = read_flux_lora(lora, tiny[1], "mixed.safetensors")
    reasons = dict(result.unplaced)
    assert (
        reasons["transformer.transformer_blocks.7.attn.to_q"] == "no FLUX module with this name in the model"
    )
    assert reasons["transformer.x_embedder.dora_scale"] == "DoRA magnitude vectors are not supported"
    assert reasons["text_encoder.layer.0.q"].startswith("text-encoder LoRA")
    assert "does not fit txt_in" in reasons["transformer.context_embedder"]
    assert len(result.patches) == len(linear_modules(tiny[0])) - 1  # everything else still placed


def test_alpha_scaling_follows_alpha_over_rank(tiny):
    r = 4
    sd = {
        "lora_unet_double_blocks_0_img_attn_proj.lora_down.weight": torch.ones(r, 32),
        "lora_unet_double_blocks_0_img_attn_proj.lora_up.weight": torch.ones(32, r),
        "lora_unet_double_blocks_0_img_attn_proj.alpha": torch.tensor(2.0),
    }
    (patch,) = read_flux_lora(sd, tiny[1], "k.safetensors").patches
    assert patch.scale == 0.5
    assert torch.equal(patch.delta(), torch.full((32, 32), 0.5 * r))


def test_norm_out_halves_are_swapped(tiny):
    up = torch.cat([torch.ones(32, 1), 2 * torch.ones(32, 1)])  # diffusers rows: scale (1s) then shift (2s)
    sd = {
        "transformer.norm_out.linear.lora_A.weight": torch.ones(1, 32),
        "transformer.norm_out.linear.lora_B.weight": up,
    }
    (patch,) = read_flux_lora(sd, tiny[1], "n.safetensors").patches
    assert patch.target == "final_layer.adaLN_modulation.1.weight"
    assert patch.delta()[:32].unique().tolist() == [2.0] and patch.delta()[32:].unique().tolist() == [1.0]


def test_a_dev_img_in_pair_on_a_wider_img_in_is_narrowed_to_its_columns_and_reported():
    """Pure reader: FLUX.1 Fill's img_in has 384 inputs; a FLUX.1-dev pair (64) lands on columns 0..63, another
    weight of the wrong width stays unplaced."""
    from flux_core.lora_reader import read_flux_lora
    from fluxkit_testmodels.shapes import FLUX_FILL_IMG_IN, flux_bfl_shapes

    shapes = flux_bfl_shapes(img_in=FLUX_FILL_IMG_IN)
    g = torch.Generator().manual_seed(0)
    sd = {
        "transformer.x_embedder.lora_A.weight": torch.randn(4, 64, generator=g),
        "transformer.x_embedder.lora_B.weight": torch.randn(3072, 4, generator=g),
        "transformer.context_embedder.lora_A.weight": torch.randn(4, 512, generator=g),  # T5 is 4096 wide
        "transformer.context_embedder.lora_B.weight": torch.randn(3072, 4, generator=g),
    }
    result = read_flux_lora(sd, shapes, "fill.safetensors")
    (patch,) = result.patches
    assert (patch.target, patch.rows, patch.cols) == ("img_in.weight", None, (0, 64))
    assert result.narrowed == [
        ("transformer.x_embedder", "64 inputs on img_in's 384: applied to columns 0..63 (FLUX.1-dev's latent "
         "input, the first columns of this model's wider img_in), the rest unchanged")
    ]  # fmt: skip
    assert [k for k, _ in result.unplaced] == ["transformer.context_embedder"]


def test_a_control_lora_img_in_on_fill_is_not_placed_and_says_why():
    """A FLUX.1 Canny/Depth control LoRA's img_in pair (128 inputs: latent + control image) on Fill (384: latent +
    masked picture + mask) matches no columns there; it is reported, never narrowed onto the picture columns."""
    from flux_core.lora_reader import read_flux_lora
    from fluxkit_testmodels.shapes import FLUX_FILL_IMG_IN, flux_bfl_shapes

    g = torch.Generator().manual_seed(0)
    sd = {
        "transformer.x_embedder.lora_A.weight": torch.randn(4, 128, generator=g),
        "transformer.x_embedder.lora_B.weight": torch.randn(3072, 4, generator=g),
    }
    with pytest.raises(
        FluxKitError, match="no key of this LoRA targets FLUX.*made for FLUX.1 Canny or Depth"
    ):
        read_flux_lora(sd, flux_bfl_shapes(img_in=FLUX_FILL_IMG_IN), "canny-lora.safetensors")
    sd["transformer.context_embedder.lora_A.weight"] = torch.randn(4, 4096, generator=g)
    sd["transformer.context_embedder.lora_B.weight"] = torch.randn(3072, 4, generator=g)
    result = read_flux_lora(sd, flux_bfl_shapes(img_in=FLUX_FILL_IMG_IN), "canny-lora.safetensors")
    assert [p.target for p in result.patches] == ["txt_in.weight"] and result.narrowed == []
    ((key, why),) = result.unplaced
    assert key == "transformer.x_embedder"
    assert why == ("img_in pair with 128 inputs (made for FLUX.1 Canny or Depth) on this model's 384 (FLUX.1 Fill): "
                   "only a 64-input pair (FLUX.1-dev's latent input, the first columns of this model's wider img_in) "
                   "can be placed on part of it")  # fmt: skip
