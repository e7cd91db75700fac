"""Qwen2VL-Flux connector, T5 embedder, GridDot and context assembly (flux_core, no ComfyUI), and the Qwen2-VL
image-token extraction on a tiny Qwen2-VL folder in the published layout (real transformers loading code)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from flux_core.errors import CheckpointError, FluxKitError
from flux_core.qwen_connector import (
    assemble_context,
    embedded_to_context,
    griddot_weights,
    load_connector,
    load_t5_embedder,
)
from fluxkit_workflows.thin_qwen2vl import TINY_HIDDEN, write_connector, write_t5_embedder


def test_connector_pt_with_module_prefix_and_safetensors(tmp_path):
    pt = write_connector(tmp_path / "connector.pt", in_features=32)
    raw = torch.load(pt, weights_only=True)
    lin = load_connector(str(pt))
    assert (lin.in_features, lin.out_features) == (32, 4096)
    assert torch.equal(lin.weight, raw["module.linear.weight"]) and torch.equal(
        lin.bias, raw["module.linear.bias"]
    )
    st = tmp_path / "connector.safetensors"
    save_file({k.removeprefix("module."): v for k, v in raw.items()}, str(st))
    assert torch.equal(load_connector(str(st)).weight, lin.weight)


def test_t5_embedder_shape_checked(tmp_path):
    emb = load_t5_embedder(str(write_t5_embedder(tmp_path / "t5_embedder.pt")))
    assert (emb.in_features, emb.out_features) == (4096, 3072) and emb.weight.dtype == torch.float32
    wrong = write_connector(tmp_path / "connector.pt", prefix="")  # a connector is not a T5 embedder
    with pytest.raises(CheckpointError, match="connector.pt"):
        load_t5_embedder(str(wrong))


class NotAWeight:  # a pickled class instance: weights_only loading must refuse it
    pass


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save(
        {"linear.weight": torch.zeros(4096, 8), "linear.bias": torch.zeros(4096), "x": NotAWeight()}, path
    )
    with pytest.raises(CheckpointError, match="cannot be read safely"):
        load_connector(str(path))


def test_griddot_formula():
    w = griddot_weights((4, 6), center_x=0.5, center_y=0.5, radius=0.5).reshape(4, 6)
    # centre at (x=3, y=2) in token units, radius 0.5 * min(4, 6) = 2 tokens
    assert w[2, 3] == 1.0
    assert torch.isclose(w[2, 4], torch.tensor(0.5)) and torch.isclose(w[0, 3], torch.tensor(0.0))
    assert w[0, 0] == 0.0 and (w >= 0).all() and (w <= 1).all()
    assert torch.equal(griddot_weights((4, 6), 0.1, 0.9, 0.0), torch.ones(24))


def test_pseudo_inverse_reproduces_t5_embedder_output():
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(3072, 4096, generator=g) * 4096**-0.5
    bias = torch.randn(3072, generator=g) * 0.01
    embedded = torch.randn(1, 7, 3072, generator=g)
    u = embedded_to_context(embedded, weight, bias)
    assert u.shape == (1, 7, 4096)
    back = u @ weight.T + bias
    assert ((back - embedded).norm() / embedded.norm()).item() < 1e-5


def test_assemble_order_weights_and_errors(tmp_path):
    connector = load_connector(str(write_connector(tmp_path / "c.pt", in_features=16)))
    t5_emb = load_t5_embedder(str(write_t5_embedder(tmp_path / "t.pt")))
    g = torch.Generator().manual_seed(1)
    qwen = torch.randn(2, 6, 16, generator=g)
    t5 = torch.randn(1, 3, 4096, generator=g)
    weight = torch.randn(3072, 4096, generator=g) * 4096**-0.5
    bias = torch.zeros(3072)
    weights = griddot_weights((2, 3), 0.0, 0.0, 1.0)
    ctx = assemble_context(qwen, connector, t5, t5_emb, (weight, bias), weights)
    assert ctx.shape == (2, 9, 4096)
    with torch.no_grad():
        assert torch.allclose(ctx[:, :6], connector(qwen * weights[None, :, None]), atol=1e-6)  # Qwen first
        expected = t5_emb(t5)[0]
    for b in range(2):  # T5 part: txt_in(ctx) reproduces the T5 embedder's output
        assert ((ctx[b, 6:] @ weight.T + bias - expected).abs().max() / expected.abs().max()).item() < 1e-4
    assert assemble_context(qwen, connector).shape == (2, 6, 4096)
    with pytest.raises(FluxKitError, match="does not match the connector"):
        assemble_context(torch.randn(1, 6, 8), connector)
    with pytest.raises(FluxKitError, match="needs the T5 embedder"):
        assemble_context(qwen, connector, t5)


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory):
    pytest.importorskip("transformers")
    from flux_core.qwen2vl_encoder import load_qwen2vl
    from fluxkit_workflows.thin_qwen2vl import write_tiny_qwen2vl

    return load_qwen2vl(
        str(write_tiny_qwen2vl(tmp_path_factory.mktemp("qwen") / "tiny")), dtype=torch.float32
    )


def test_image_tokens_follow_the_pixel_budget_and_aspect(tiny_qwen):
    from flux_core.qwen2vl_encoder import image_token_states

    img = np.random.default_rng(0).random((300, 200, 3))
    with_prompt, grid_p = image_token_states(tiny_qwen, img, with_prompt=True)
    without, grid_n = image_token_states(tiny_qwen, img, with_prompt=False)
    assert with_prompt.shape == (1, grid_p[0] * grid_p[1], TINY_HIDDEN)
    assert (
        230 <= with_prompt.shape[1] <= 290 and 470 <= without.shape[1] <= 560
    )  # ≈256 and ≈512 merged tokens
    assert grid_p[0] > grid_p[1] and grid_n[0] > grid_n[1]  # portrait stays portrait
    assert torch.isfinite(with_prompt).all()


def test_instruction_after_the_image_cannot_change_image_states(tiny_qwen):
    from flux_core.qwen2vl_encoder import image_token_states

    img = np.random.default_rng(1).random((224, 224, 3))
    a, _ = image_token_states(tiny_qwen, img, with_prompt=True)
    b, _ = image_token_states(
        tiny_qwen, img, with_prompt=True, instruction="Something entirely different, longer."
    )
    c, _ = image_token_states(tiny_qwen, np.random.default_rng(2).random((224, 224, 3)), with_prompt=True)
    assert torch.allclose(a, b, atol=1e-5)  # causal attention: text after the image is invisible to it
    assert not torch.allclose(a, c, atol=1e-3)  # but the image matters
