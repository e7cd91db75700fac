"""FluxKit's inpainting ControlNet against diffusers' FluxControlNetModel (+ alimama's 68-in embedder), fp32."""

from __future__ import annotations

import json

import pytest
import torch

from flux_core.controlnet_model import load_inpaint_controlnet
from fluxkit_testmodels.cn_reference import (
    TINY,
    reference_residuals,
    tiny_diffusers_inpaint_controlnet,
    tiny_inputs,
    write_checkpoint,
)

TOL = 1e-5


def max_rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / a.abs().max()).item()


@pytest.mark.parametrize("stored", [torch.float32, torch.bfloat16])
def test_residuals_match_diffusers(tmp_path, stored):
    ref = tiny_diffusers_inpaint_controlnet()
    path = write_checkpoint(ref, str(tmp_path / "cn.safetensors"), stored)
    if stored != torch.float32:  # the reference must see the same (rounded) weights
        ref.load_state_dict({k: v.to(stored).float() for k, v in ref.state_dict().items()})
    ours = load_inpaint_controlnet(path, dtype=torch.float32).eval()
    assert ours.config.axes_dims == TINY["axes"] and ours.config.num_double_blocks == TINY["blocks"]
    x = tiny_inputs(batch=2)
    expected = reference_residuals(ref, x, scale=0.8)
    with torch.no_grad():
        got = ours(**x, scale=0.8)
    errs = [max_rel(e, g) for e, g in zip(expected, got, strict=True)]
    print(f"stored {stored}: max relative error per residual {[f'{e:.1e}' for e in errs]}")
    assert len(got) == TINY["blocks"]
    assert max(errs) <= TOL
    assert min(e.abs().max().item() for e in expected) > 0.1  # non-trivial outputs


def test_skipping_unused_blocks_keeps_leading_residuals_exact(tmp_path):
    ref = tiny_diffusers_inpaint_controlnet(seed=3)
    ours = load_inpaint_controlnet(write_checkpoint(ref, str(tmp_path / "cn.safetensors"))).eval()
    x = tiny_inputs(seed=4)
    with torch.no_grad():
        full, part = ours(**x), ours(**x, num_residuals=2)
    assert len(full) == 3 and len(part) == 2
    assert all(torch.equal(a, b) for a, b in zip(full[:2], part))


def test_config_json_beside_checkpoint_sets_rope_axes(tmp_path):
    ref = tiny_diffusers_inpaint_controlnet(seed=5, axes=(4, 6, 6))
    path = write_checkpoint(ref, str(tmp_path / "diffusion_pytorch_model.safetensors"))
    (tmp_path / "config.json").write_text(
        json.dumps(dict(ref.config) | {"_class_name": "FluxControlNetModel"})
    )
    ours = load_inpaint_controlnet(path).eval()
    assert ours.config.axes_dims == (4, 6, 6)  # from config.json, not the default (2, 6, 8)
    x = tiny_inputs(seed=6)
    with torch.no_grad():
        assert max_rel(reference_residuals(ref, x, 1.0)[0], ours(**x)[0]) <= TOL


def test_config_json_that_contradicts_the_weights_is_refused(tmp_path):
    ref = tiny_diffusers_inpaint_controlnet(seed=7)
    path = write_checkpoint(ref, str(tmp_path / "cn.safetensors"))
    bad = dict(ref.config) | {"_class_name": "FluxControlNetModel", "num_layers": 6}
    (tmp_path / "config.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="num_layers=6 but the weights have num_double_blocks=3"):
        load_inpaint_controlnet(path)
