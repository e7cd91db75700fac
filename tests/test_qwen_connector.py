"""Qwen2VL-Flux connector, T5 embedder, GridDot and context assembly (flux_core, no ComfyUI), and the Qwen2-VL
image-token extraction on a tiny Qwen2-VL folder in the published layout (real transformers loading code)."""

from __future__ import annotations

from pathlib import Path

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
from fluxkit_testmodels.thin_qwen2vl import TINY_HIDDEN, write_connector, write_t5_embedder

pytestmark = pytest.mark.transformers  # runs in the 4.x and the 5.x venv (scripts/test.sh)


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
    with pytest.raises(CheckpointError, match="cannot load as a weights-only torch file"):
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
    pytest.importorskip(
        "torchvision", reason="transformers' Qwen2-VL processors need torchvision (ComfyUI has it)"
    )
    from flux_core.qwen2vl_encoder import load_qwen2vl
    from fluxkit_testmodels.thin_qwen2vl import write_tiny_qwen2vl

    return load_qwen2vl(
        str(write_tiny_qwen2vl(tmp_path_factory.mktemp("qwen") / "tiny")), dtype=torch.float32
    )


def test_tiny_qwen_config_is_in_the_published_layout(tiny_qwen):
    """Qwen/Qwen2-VL-7B-Instruct's config.json is flat with rope_scaling type mrope; transformers 4 reads only that
    spelling (a folder saved by transformers 5, with text_config/rope_parameters, fails there with rope_scaling None)."""
    import json

    config = json.loads((Path(tiny_qwen.model.config._name_or_path) / "config.json").read_text())
    assert config["rope_scaling"] == {"type": "mrope", "mrope_section": [4, 6, 6]}
    assert "text_config" not in config and config["hidden_size"] == TINY_HIDDEN
    assert config["vision_config"]["in_chans"] == 3 and config["vision_config"]["spatial_patch_size"] == 14
    assert tiny_qwen.model.config.vision_config.depth == 1  # and it loads back as written


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


# the reference spells the budget as Qwen2VL-Flux does, which transformers 5.x deprecates (FluxKit itself does not)
@pytest.mark.filterwarnings("ignore:Passing `min_pixels` and `max_pixels`:FutureWarning")
def test_encode_equals_step_by_step_reference(tiny_qwen, tmp_path):
    """transformers forward → output of the final RMSNorm (captured by a hook) → image positions → Linear. The
    reference preprocesses as Qwen2VL-Flux does (min_pixels/max_pixels); FluxKit passes the same budget as `size`."""
    from flux_core.qwen2vl_encoder import INSTRUCTION, PIXELS_WITH_PROMPT, image_token_states

    connector = load_connector(str(write_connector(tmp_path / "c.pt", in_features=TINY_HIDDEN)))
    img = np.random.default_rng(3).random((200, 260, 3))
    ours = assemble_context(image_token_states(tiny_qwen, img, with_prompt=True)[0], connector)

    from PIL import Image

    pil = Image.fromarray((img * 255).round().astype("uint8"))
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": INSTRUCTION}]}]
    text = tiny_qwen.processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = tiny_qwen.processor(
        text=[text], images=[pil], return_tensors="pt",
        images_kwargs={"min_pixels": PIXELS_WITH_PROMPT, "max_pixels": PIXELS_WITH_PROMPT},
    )  # fmt: skip
    captured = {}
    norm = tiny_qwen.model.model.language_model.norm
    handle = norm.register_forward_hook(lambda m, i, o: captured.setdefault("out", o))
    try:
        with torch.no_grad():
            tiny_qwen.model(**inputs)  # the full model, LM head included
    finally:
        handle.remove()
    positions = inputs["input_ids"][0] == tiny_qwen.model.config.image_token_id
    with torch.no_grad():
        reference = connector(captured["out"][:, positions].float())
    assert ours.shape == reference.shape
    print(f"encode vs step-by-step reference: max abs err {(ours - reference).abs().max().item():.2e}")
    assert (ours - reference).abs().max().item() <= 1e-6


def test_t5_method_matches_a_hook_after_context_embedder_on_diffusers_flux(tmp_path):
    """Reference: diffusers' FluxTransformer2DModel with a forward hook on context_embedder that appends the T5
    embedder's tokens (what Qwen2VL-Flux does). FluxKit: plain conditioning from `assemble_context`."""
    from diffusers import FluxTransformer2DModel

    torch.manual_seed(0)
    flux = FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True,
        axes_dims_rope=(4, 6, 6),
    ).eval()  # fmt: skip
    hidden = 32
    connector = load_connector(str(write_connector(tmp_path / "c.pt", in_features=24)))
    t5_embedder = torch.nn.Linear(4096, hidden)  # 4096 → the tiny model's width, like 4096 → 3072
    g = torch.Generator().manual_seed(1)
    qwen, t5 = torch.randn(1, 6, 24, generator=g), torch.randn(1, 5, 4096, generator=g)
    img = torch.randn(1, 16, 16, generator=g)
    img_ids = torch.zeros(16, 3)
    txt_ids = torch.zeros(11, 3)
    kw = dict(pooled_projections=torch.randn(1, 768, generator=g), timestep=torch.tensor([0.5]),
              guidance=torch.tensor([3.5]), img_ids=img_ids, txt_ids=txt_ids, return_dict=False)  # fmt: skip
    with torch.no_grad():
        qwen_context = connector(qwen)
        hook = flux.context_embedder.register_forward_hook(
            lambda m, i, o: torch.cat([o, t5_embedder(t5)], dim=1)
        )
        try:
            reference = flux(hidden_states=img, encoder_hidden_states=qwen_context, **kw)[0]
        finally:
            hook.remove()
        txt_in = (flux.context_embedder.weight, flux.context_embedder.bias)
        ours_context = assemble_context(qwen, connector, t5, t5_embedder, txt_in)
        ours = flux(hidden_states=img, encoder_hidden_states=ours_context, **kw)[0]
    assert ours_context.shape == (1, 11, 4096)
    print(
        f"T5 pre-image vs hook reference: rel err {((ours - reference).abs().max() / reference.abs().max()).item():.2e}"
    )
    assert ((ours - reference).abs().max() / reference.abs().max()).item() <= 1e-5


@pytest.mark.parametrize(
    "model_type, message", [("qwen2_5_vl", "this is Qwen2.5-VL"), ("qwen2", "text-only Qwen2")]
)
def test_wrong_qwen_folders_are_clear_errors(tmp_path, model_type, message):
    import json

    from flux_core.qwen2vl_encoder import check_qwen2vl_folder

    folder = tmp_path / model_type
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": model_type}))
    with pytest.raises(FluxKitError, match=message + ".*huggingface-cli download Qwen/Qwen2-VL-7B-Instruct"):
        check_qwen2vl_folder(str(folder))


def test_qwen_folder_missing_weights_is_a_clear_error(tmp_path):
    import json

    from flux_core.qwen2vl_encoder import check_qwen2vl_folder

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2_vl"}))
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(FluxKitError, match=r"missing weights \(\*\.safetensors\), preprocessor_config.json"):
        check_qwen2vl_folder(str(tmp_path))
    with pytest.raises(FluxKitError, match="no config.json"):
        check_qwen2vl_folder(str(tmp_path / "nothing"))


def test_garbage_weights_in_a_qwen_folder_name_the_file(tiny_qwen, tmp_path):
    """A broken shard (a failed download, an HTML error page saved as .safetensors) is reported with its own path
    before transformers gets to it; the processor file may be either name (transformers 4.x / 5.x)."""
    import shutil

    from flux_core.qwen2vl_encoder import load_qwen2vl

    folder = tmp_path / "broken"
    shutil.copytree(tiny_qwen.path, folder)
    bad = folder / "model.safetensors"
    bad.write_bytes(b"<html>502 Bad Gateway</html>")
    with pytest.raises(FluxKitError) as err:
        load_qwen2vl(str(folder), torch.float32)
    assert str(err.value).startswith(f"{bad}: not a safetensors file, or truncated inside its header")
