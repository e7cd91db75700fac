"""FluxKit's inpainting ControlNet nodes inside a real ComfyUI, against core's loader + apply node.

Thin models (real width 3072, one FLUX double block) because ComfyUI infers only block counts. The ControlNet has
two blocks so that, on a one-block FLUX, the interleave rule leaves its second residual unused: FluxKit skips that
block and core computes it, and the sampled latents must still agree.
"""

from __future__ import annotations

import os

import pytest
import torch

pytestmark = pytest.mark.comfyui

STEPS = 3


@pytest.fixture(scope="module")
def setup(live_comfy, thin_models):
    import comfy.sd
    import comfy.utils
    import folder_paths

    from fluxkit_testmodels import shapes as tm

    cn_dir = os.path.dirname(thin_models["controlnet"])
    two_block = os.path.join(cn_dir, "alimama-inpaint-cn-thin-2block.safetensors")
    if not os.path.isfile(two_block):
        tm.write_thin_inpaint_controlnet(two_block, double_blocks=2, seed=1)
    folder_paths.add_model_folder_path("controlnet", cn_dir)
    model = comfy.sd.load_diffusion_model(thin_models["flux"])
    vae = comfy.sd.VAE(sd=comfy.utils.load_torch_file(thin_models["vae"]))
    return {"model": model, "vae": vae, "cn_name": os.path.basename(two_block)}


def conditioning(seed: int, tokens: int = 8):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(1, tokens, 4096, generator=g)
    return [[emb, {"pooled_output": torch.randn(1, 768, generator=g), "guidance": 3.5}]]


def sample(live_comfy, model, positive, negative, latent_hw, cfg=1.0, seed=7):
    latent = {"samples": torch.zeros(1, 16, *latent_hw)}
    return live_comfy.nodes.common_ksampler(
        model, seed, STEPS, cfg, "euler", "simple", positive, negative, latent
    )[0]["samples"]


def rel_err(a, b):
    return ((a - b).abs().max() / a.abs().max()).item()


def core_apply(live_comfy, pos, neg, cn, vae, image, mask, strength, start=0.0, end=1.0):
    return live_comfy.run(
        "ControlNetInpaintingAliMamaApply", positive=pos, negative=neg, control_net=cn, vae=vae, image=image,
        mask=mask, strength=strength, start_percent=start, end_percent=end,
    )  # fmt: skip


def fluxkit_apply(live_comfy, pos, neg, cn, vae, image, mask, strength, start=0.0, end=1.0):
    node = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitInpaintControlNetApply"]
    return node.execute(pos, neg, cn, vae, image, mask, strength, start, end).result


def test_nodes_registered_with_tooltips(live_comfy):
    for node_id in ("FluxKitInpaintControlNetLoader", "FluxKitInpaintControlNetApply"):
        assert node_id in live_comfy.fluxkit_ids
        schema = live_comfy.nodes.NODE_CLASS_MAPPINGS[node_id].GET_SCHEMA()
        assert schema.category.startswith("FluxKit/") and schema.description
        assert all(i.tooltip for i in schema.inputs), [i.id for i in schema.inputs if not i.tooltip]


def test_sampled_latent_matches_core_and_depends_on_control(live_comfy, setup):
    pos, neg = conditioning(1), conditioning(2)
    g = torch.Generator().manual_seed(3)
    image = torch.rand(1, 128, 128, 3, generator=g)
    mask = torch.zeros(1, 128, 128)
    mask[:, 32:96, 40:100] = 1.0
    core_cn = live_comfy.run("ControlNetLoader", control_net_name=setup["cn_name"])[0]
    fk_cn = (
        live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitInpaintControlNetLoader"]
        .execute(setup["cn_name"])
        .result[0]
    )

    core = sample(
        live_comfy,
        setup["model"],
        *core_apply(live_comfy, pos, neg, core_cn, setup["vae"], image, mask, 1.0),
        (16, 16),
    )
    fk_pos, fk_neg = fluxkit_apply(live_comfy, pos, neg, fk_cn, setup["vae"], image, mask, 1.0)
    fluxkit = sample(live_comfy, setup["model"], fk_pos, fk_neg, (16, 16))
    plain = sample(live_comfy, setup["model"], pos, neg, (16, 16))

    assert torch.isfinite(fluxkit).all()
    err, effect = rel_err(core, fluxkit), rel_err(core, plain)
    print(f"FluxKit vs core: rel err {err:.2e}; control effect {effect:.2e}")
    assert err <= 1e-4
    assert effect > 1e-2  # the comparison is sensitive: the control visibly changes the result
    assert fk_pos[0][1]["control"].encode_count == 1  # encoded once for all steps (and shared with negative)
    assert fk_pos[0][1]["control"] is fk_neg[0][1]["control"]
    assert "control" not in pos[0][1]  # inputs not mutated


def test_chained_true_cfg_odd_size_matches_core(live_comfy, setup):
    """Two inpainting controls chained, cfg 2 (both passes), image 120×136 (latent 15×17, padded to 16×18)."""
    pos, neg = conditioning(4), conditioning(5)
    g = torch.Generator().manual_seed(6)
    image = torch.rand(1, 136, 120, 3, generator=g)
    m1, m2 = torch.zeros(1, 136, 120), torch.zeros(1, 136, 120)
    m1[:, 10:60, 10:70] = 1.0
    m2[:, 70:130, 50:118] = 1.0
    core_cn = live_comfy.run("ControlNetLoader", control_net_name=setup["cn_name"])[0]
    fk_cn = (
        live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitInpaintControlNetLoader"]
        .execute(setup["cn_name"])
        .result[0]
    )
    vae = setup["vae"]

    c_pos, c_neg = core_apply(live_comfy, pos, neg, core_cn, vae, image, m1, 0.8)
    c_pos, c_neg = core_apply(live_comfy, c_pos, c_neg, core_cn, vae, image, m2, 0.6, 0.0, 0.7)
    f_pos, f_neg = fluxkit_apply(live_comfy, pos, neg, fk_cn, vae, image, m1, 0.8)
    f_pos, f_neg = fluxkit_apply(live_comfy, f_pos, f_neg, fk_cn, vae, image, m2, 0.6, 0.0, 0.7)
    core = sample(live_comfy, setup["model"], c_pos, c_neg, (17, 15), cfg=2.0)
    fluxkit = sample(live_comfy, setup["model"], f_pos, f_neg, (17, 15), cfg=2.0)
    err = rel_err(core, fluxkit)
    print(f"chained, cfg 2, odd size: rel err {err:.2e}")
    assert fluxkit.shape == (1, 16, 17, 15)
    assert err <= 1e-4


def test_wrong_control_net_type_is_a_clear_error(live_comfy, setup):
    from flux_core.errors import FluxKitError

    core_cn = live_comfy.run("ControlNetLoader", control_net_name=setup["cn_name"])[0]
    image, mask = torch.rand(1, 64, 64, 3), torch.zeros(1, 64, 64)
    with pytest.raises(FluxKitError, match="FluxKit Inpaint ControlNet Loader"):
        fluxkit_apply(live_comfy, conditioning(1), conditioning(2), core_cn, setup["vae"], image, mask, 1.0)
    fk_cn = (
        live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitInpaintControlNetLoader"]
        .execute(setup["cn_name"])
        .result[0]
    )
    with pytest.raises(FluxKitError, match="mask is 32×32"):
        fluxkit_apply(
            live_comfy,
            conditioning(1),
            conditioning(2),
            fk_cn,
            setup["vae"],
            image,
            torch.zeros(1, 32, 32),
            1.0,
        )


def test_fp8_storage_halves_linear_bytes_and_changes_output_slightly(live_comfy, setup):
    loader = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitInpaintControlNetLoader"]
    full = loader.execute(setup["cn_name"]).result[0]
    fp8 = loader.execute(setup["cn_name"], "fp8_e4m3fn").result[0]

    def linear_bytes(control):
        return sum(
            m.weight.numel() * m.weight.element_size()
            for m in control.network.modules()
            if isinstance(m, torch.nn.Linear)
        )

    assert {m.weight.dtype for m in fp8.network.modules() if isinstance(m, torch.nn.Linear)} == {
        torch.float8_e4m3fn
    }
    assert linear_bytes(fp8) * 4 == linear_bytes(full)  # fp32 compute dtype on this CPU → 4 bytes vs 1
    pos, neg = conditioning(1), conditioning(2)
    g = torch.Generator().manual_seed(3)
    image = torch.rand(1, 128, 128, 3, generator=g)
    mask = torch.zeros(1, 128, 128)
    mask[:, 32:96, 40:100] = 1.0
    base = sample(live_comfy, setup["model"], pos, neg, (16, 16))
    ref = sample(
        live_comfy,
        setup["model"],
        *fluxkit_apply(live_comfy, pos, neg, full, setup["vae"], image, mask, 1.0),
        (16, 16),
    )
    low = sample(
        live_comfy,
        setup["model"],
        *fluxkit_apply(live_comfy, pos, neg, fp8, setup["vae"], image, mask, 1.0),
        (16, 16),
    )
    err, effect = rel_err(ref, low), rel_err(ref, base)
    print(f"fp8 ControlNet: latent rel err {err:.2e} vs the control's own effect {effect:.2e}")
    assert 0 < err < 0.1 * effect  # a small cost next to what the ControlNet does


def test_alimama_controlnet_on_a_fill_model_says_to_use_inpaint_conditioning(live_comfy, setup, thin_models):
    """FLUX.1 Fill (96 input channels) passes every FLUX.1 width check; the apply node must still refuse it."""
    import comfy.sd

    from flux_core.errors import FluxKitError

    fill = comfy.sd.load_diffusion_model(thin_models["fill"])
    loader = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitInpaintControlNetLoader"]
    cn = loader.execute(setup["cn_name"]).result[0]
    image, mask = torch.rand(1, 64, 64, 3), torch.zeros(1, 64, 64)
    pos, neg = fluxkit_apply(
        live_comfy, conditioning(1), conditioning(2), cn, setup["vae"], image, mask, 1.0
    )[:2]
    with pytest.raises(FluxKitError) as raised:
        sample(live_comfy, fill, pos, neg, (8, 8))
    message = str(raised.value)
    assert message.startswith("FluxKit Inpaint ControlNet Apply (alimama): the model is FLUX.1 Fill"), message
    assert "InpaintModelConditioning" in message and "fill_inpaint_turbo_8step" in message
