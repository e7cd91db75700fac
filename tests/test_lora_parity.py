"""FluxKit's LoRA placement against diffusers' own loader + fuse, and each format against its diffusers equivalent."""

from __future__ import annotations

import pytest
import torch

from flux_core.lora_reader import read_flux_lora
from fluxkit_testmodels.lora_reference import (
    apply_patches,
    dense_deltas,
    linear_modules,
    peft_lora_for_every_linear,
    tiny_flux_transformer,
    to_bfl,
)


def shapes_of(sd):
    return {k: tuple(v.shape) for k, v in sd.items()}


def test_turbo_shaped_lora_matches_diffusers_fuse():
    model = tiny_flux_transformer()
    base = to_bfl(model.state_dict())
    lora = peft_lora_for_every_linear(model)
    result = read_flux_lora(lora, shapes_of(base), "turbo.safetensors")
    assert result.unplaced == []
    assert len(result.patches) == len(linear_modules(model))  # every Linear, incl. norm_out and embedders
    ours = apply_patches(base, result.patches, strength=0.7)

    model.load_lora_adapter(lora, prefix="transformer", adapter_name="turbo")
    model.fuse_lora(lora_scale=0.7)
    fused = {k.replace(".base_layer", ""): v for k, v in model.state_dict().items() if "lora_" not in k}
    expected = to_bfl(fused)

    assert ours.keys() == expected.keys()
    err = max((ours[k] - expected[k]).abs().max().item() for k in ours)
    changed = sum(not torch.equal(ours[k], base[k]) for k in ours)
    print(f"diffusers-format LoRA vs diffusers fuse: max abs err {err:.2e} over {len(ours)} weights")
    assert err <= 1e-6
    assert changed == len(ours)  # every BFL weight moved, none silently skipped


def _kohya_bfl_lora(base_shapes, rank=4, seed=2):
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for key, shape in base_shapes.items():
        if (
            not key.startswith(("double_blocks.", "single_blocks."))
            or not key.endswith(".weight")
            or len(shape) != 2
        ):
            continue
        stem = "lora_unet_" + key[: -len(".weight")].replace(".", "_")
        sd[stem + ".lora_down.weight"] = torch.randn(rank, shape[1], generator=g) * 0.1
        sd[stem + ".lora_up.weight"] = torch.randn(shape[0], rank, generator=g) * 0.1
        sd[stem + ".alpha"] = torch.tensor(2.0)
    return sd


def test_kohya_bfl_format_equals_its_diffusers_conversion():
    """diffusers' kohya converter hard-codes FLUX.1's widths, so this runs at real width (shapes only, 1+1 blocks)."""
    from diffusers.loaders.lora_conversion_utils import _convert_kohya_flux_lora_to_diffusers

    from fluxkit_testmodels.shapes import flux_bfl_shapes

    shapes = flux_bfl_shapes(double_blocks=1, single_blocks=1)
    kohya = _kohya_bfl_lora(shapes)
    direct = read_flux_lora(kohya, shapes, "kohya.safetensors")
    assert direct.unplaced == [] and direct.formats == {"kohya"}
    converted = _convert_kohya_flux_lora_to_diffusers({k: v.clone() for k, v in kohya.items()})
    via_diffusers = read_flux_lora(converted, shapes, "converted")
    a, b = dense_deltas(direct.patches, shapes), dense_deltas(via_diffusers.patches, shapes)
    assert a.keys() == b.keys() and len(a) > 0
    err = max((a[k] - b[k]).abs().max().item() for k in a)
    print(f"kohya vs diffusers-converted: max abs err {err:.2e}")
    assert err <= 1e-6


def test_xlabs_format_equals_its_diffusers_conversion():
    from diffusers.loaders.lora_conversion_utils import _convert_xlabs_flux_lora_to_diffusers

    base = to_bfl(tiny_flux_transformer().state_dict())
    g, r, h = torch.Generator().manual_seed(3), 4, base["img_in.weight"].shape[0]
    xlabs = {}
    for n in range(2):
        for proc, out in (("qkv_lora1", 3 * h), ("proj_lora1", h), ("qkv_lora2", 3 * h), ("proj_lora2", h)):
            xlabs[f"double_blocks.{n}.processor.{proc}.down.weight"] = torch.randn(r, h, generator=g) * 0.1
            xlabs[f"double_blocks.{n}.processor.{proc}.up.weight"] = torch.randn(out, r, generator=g) * 0.1
    direct = read_flux_lora(xlabs, shapes_of(base), "xlabs.safetensors")
    assert direct.unplaced == [] and direct.formats == {"xlabs"}
    converted = _convert_xlabs_flux_lora_to_diffusers({k: v.clone() for k, v in xlabs.items()})
    via = read_flux_lora(converted, shapes_of(base), "converted")
    a, b = dense_deltas(direct.patches, shapes_of(base)), dense_deltas(via.patches, shapes_of(base))
    assert (
        a.keys()
        == b.keys()
        == {
            f"double_blocks.{n}.{t}.weight"
            for n in range(2)
            for t in ("img_attn.qkv", "img_attn.proj", "txt_attn.qkv", "txt_attn.proj")
        }
    )
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-6


@pytest.mark.parametrize("prefix, fmt", [("lora_transformer_", "onetrainer"), ("lycoris_", "lycoris")])
def test_underscored_diffusers_prefixes_equal_diffusers_format(prefix, fmt):
    model = tiny_flux_transformer()
    base = to_bfl(model.state_dict())
    peft = peft_lora_for_every_linear(model, seed=5)
    renamed = {}
    for k, v in peft.items():
        stem, part = k[len("transformer.") :].rsplit(".lora_", 1)
        suffix = ".lora_down.weight" if part.startswith("A") else ".lora_up.weight"
        renamed[prefix + stem.replace(".", "_") + suffix] = v
    a = read_flux_lora(renamed, shapes_of(base), "ot.safetensors")
    b = read_flux_lora(peft, shapes_of(base), "peft.safetensors")
    assert a.unplaced == [] and a.formats == {fmt}
    da, db = dense_deltas(a.patches, shapes_of(base)), dense_deltas(b.patches, shapes_of(base))
    assert da.keys() == db.keys() and all(torch.equal(da[k], db[k]) for k in da)


def test_a_dev_lora_on_a_fill_shaped_model_equals_diffusers_own_expansion():
    """diffusers loads a FLUX.1-dev LoRA onto Fill by zero-padding lora_A to the wider x_embedder
    (`FluxLoraLoaderMixin._maybe_expand_lora_state_dict`); FluxKit places the pair on img_in's first columns. The
    fused weights must agree: same numbers on the latent columns, the picture/mask columns untouched."""
    from diffusers.loaders.lora_pipeline import FluxLoraLoaderMixin

    dev, fill = tiny_flux_transformer(), tiny_flux_transformer(seed=3, in_channels=384)
    lora = peft_lora_for_every_linear(dev)  # made for dev: x_embedder's lora_A is 64 wide
    base = to_bfl(fill.state_dict())
    result = read_flux_lora(lora, shapes_of(base), "turbo.safetensors")
    assert result.unplaced == [] and [k for k, _ in result.narrowed] == ["transformer.x_embedder"]
    ours = apply_patches(base, result.patches, strength=0.6)

    expanded = FluxLoraLoaderMixin._maybe_expand_lora_state_dict(transformer=fill, lora_state_dict=dict(lora))
    assert expanded["transformer.x_embedder.lora_A.weight"].shape == (4, 384)  # diffusers' own padding
    fill.load_lora_adapter(expanded, prefix="transformer", adapter_name="turbo")
    fill.fuse_lora(lora_scale=0.6)
    fused = {k.replace(".base_layer", ""): v for k, v in fill.state_dict().items() if "lora_" not in k}
    expected = to_bfl(fused)
    err = max((ours[k] - expected[k]).abs().max().item() for k in ours)
    assert err <= 1e-6, err
    assert torch.equal(ours["img_in.weight"][:, 64:], base["img_in.weight"][:, 64:])
    assert not torch.equal(ours["img_in.weight"][:, :64], base["img_in.weight"][:, :64])
