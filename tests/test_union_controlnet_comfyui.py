"""Qwen2VL-Flux's union ControlNet (InstantX-style `controlnet_mode_embedder`) through core's loader and FluxKit's
mode node, against diffusers' FluxControlNetModel(num_mode=N) on the same thin weights (real width, one double and
one single block, 3 modes), fp32: the residuals agree for mode 2 (depth) and 0 (line) and differ between them;
core's own SetUnionControlNetType "depth" lands on id 1 (tile). Bad input: a ControlNet without a mode embedder,
a mode the embedder lacks."""

from __future__ import annotations

import pytest
import torch

from flux_core.errors import FluxKitError
from fluxkit_testmodels.thin_union import write_thin_union_controlnet

pytestmark = pytest.mark.comfyui
TOL = 1e-5
MODES = 3


@pytest.fixture(scope="module")
def union(live_comfy, tmp_path_factory):
    from comfy.controlnet import load_controlnet

    path = str(tmp_path_factory.mktemp("union") / "qwen2vl-flux-union-thin.safetensors")
    write_thin_union_controlnet(path, modes=MODES, seed=3)
    return path, load_controlnet(path)


def diffusers_union(path: str):
    from diffusers import FluxControlNetModel
    from safetensors.torch import load_file

    ref = FluxControlNetModel(
        in_channels=64, num_layers=1, num_single_layers=1, attention_head_dim=128, num_attention_heads=24,
        joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True, axes_dims_rope=[16, 56, 56],
        num_mode=MODES,
    )  # fmt: skip
    ref.load_state_dict(
        {k: v.float() for k, v in load_file(path).items()}, strict=True
    )  # the published layout
    return ref.eval()


def inputs(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {
        "x": torch.randn(1, 16, 8, 6, generator=g),
        "hint": torch.randn(
            1, 16, 8, 6, generator=g
        ),  # a VAE latent of the control image (process_in applied)
        "context": torch.randn(1, 7, 4096, generator=g),  # connector(Qwen(image)) tokens
        "y": torch.randn(1, 768, generator=g),
        "t": torch.tensor([0.63]),
        "guidance": torch.tensor([3.5]),
    }


def pack(latent: torch.Tensor) -> torch.Tensor:
    """[B, 16, H, W] → [B, H/2·W/2, 64], FLUX's 2×2 patch packing (c ph pw)."""
    b, c, h, w = latent.shape
    return latent.view(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, h * w // 4, c * 4)


def reference(ref, x: dict, mode: int) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = x["x"].shape[2] // 2, x["x"].shape[3] // 2
    img_ids = torch.zeros(h, w, 3)
    img_ids[..., 1] += torch.arange(h)[:, None]
    img_ids[..., 2] += torch.arange(w)[None, :]
    with torch.no_grad():
        out = ref(
            hidden_states=pack(x["x"]), controlnet_cond=pack(x["hint"]), controlnet_mode=torch.tensor([[mode]]),
            encoder_hidden_states=x["context"], pooled_projections=x["y"], timestep=x["t"], guidance=x["guidance"],
            img_ids=img_ids.reshape(-1, 3), txt_ids=torch.zeros(x["context"].shape[1], 3), return_dict=False,
        )  # fmt: skip
    (double,), (single,) = out
    return double, single


def comfy_residuals(control_net, x: dict) -> tuple[torch.Tensor, torch.Tensor]:
    model = control_net.control_model
    with torch.no_grad():
        out = model(
            x["x"],
            x["t"],
            x["context"],
            y=x["y"],
            guidance=x["guidance"],
            hint=x["hint"],
            **control_net.extra_args,
        )
    return out["input"][0], out["output"][0]


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / a.abs().max()).item()


def test_mode_node_residuals_equal_diffusers_union_controlnet(live_comfy, union):
    Node = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitUnionControlNetMode"]
    path, loaded = union
    assert (
        loaded.control_model.controlnet_mode_embedder.num_embeddings == MODES
    )  # core read the file as published
    ref, x = diffusers_union(path), inputs()
    got = {}
    for name, mode in (("depth", 2), ("line", 0)):
        control = Node.execute(loaded, name).result[0]
        assert control is not loaded and control.extra_args["control_type"] == [mode]
        assert loaded.extra_args.get("control_type") is None  # the loader's output is left alone
        got[name] = comfy_residuals(control, x)
        errs = [rel(e, g) for e, g in zip(reference(ref, x, mode), got[name], strict=True)]
        print(f"mode {name} ({mode}): max relative error double/single {errs[0]:.1e} / {errs[1]:.1e}")
        assert max(errs) <= TOL
    assert rel(got["depth"][0], got["line"][0]) > 0.01  # the mode reaches the model

    core = live_comfy.run("SetUnionControlNetType", control_net=loaded, type="depth")[0]
    assert core.extra_args["control_type"] == [1]  # xinsir's SDXL id: tile on this model, silently
    assert rel(reference(ref, x, 1)[0], comfy_residuals(core, x)[0]) <= TOL


def test_mode_node_refuses_a_controlnet_without_modes_and_a_missing_mode(live_comfy, union, thin_models):
    from comfy.controlnet import load_controlnet

    Node = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitUnionControlNetMode"]
    plain = load_controlnet(thin_models["controlnet"])  # alimama's: no mode embedder
    with pytest.raises(FluxKitError, match="no mode embedder"):
        Node.execute(plain, "depth")
    with pytest.raises(FluxKitError, match="'pose' is id 4, but this ControlNet's embedder has 3 modes"):
        Node.execute(union[1], "pose")
    assert Node.validate_inputs("nope").startswith(
        "FluxKit Union ControlNet Mode (InstantX ids): mode 'nope'"
    )


def test_a_control_image_of_another_size_is_centre_cropped_and_resized(live_comfy, union, thin_models):
    """Defined behaviour, core's: the control image is cropped about its centre to the latent's aspect and resized
    (nearest-exact) to the latent's pixel size before the VAE encodes it — never an error, never stretched."""
    import torch.nn.functional as F
    from comfy.sd import VAE, load_diffusion_model
    from comfy.utils import load_torch_file

    model = load_diffusion_model(thin_models["flux"]).model
    vae = VAE(sd=load_torch_file(thin_models["vae"]))
    control_net = (
        live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitUnionControlNetMode"]
        .execute(union[1], "depth")
        .result[0]
    )
    g = torch.Generator().manual_seed(5)
    x = torch.randn(1, 16, 8, 6, generator=g)  # latent of a 64×48 px picture
    ctx, y = torch.randn(1, 7, 4096, generator=g), torch.randn(1, 768, generator=g)
    odd = torch.rand(1, 100, 40, 3, generator=g)  # [B, H, W, C]: 100×40 px, aspect 0.4 instead of 0.75
    top = round((100 - 100 * 0.4 / 0.75) / 2)  # rows cut at the top and at the bottom for aspect 0.75
    fitted = F.interpolate(
        odd[:, top : 100 - top].movedim(-1, 1), size=(64, 48), mode="nearest-exact"
    ).movedim(1, -1)

    def residuals(image):
        pos = [[ctx, {"pooled_output": y, "guidance": 3.5}]]
        positive, _ = live_comfy.run(
            "ControlNetApplyAdvanced", positive=pos, negative=pos, control_net=control_net, image=image,
            strength=0.2, start_percent=0.0, end_percent=1.0, vae=vae,
        )  # fmt: skip
        control = positive[0][1]["control"]
        control.pre_run(model, lambda p: model.model_sampling.percent_to_sigma(p))
        cond = {"c_crossattn": ctx, "y": y, "guidance": torch.tensor([3.5])}
        with torch.no_grad():
            out = control.get_control(x, torch.tensor([0.7]), cond, 1, {})
        control.cleanup()
        return out["input"][0], out["output"][0]

    got, want = residuals(odd), residuals(fitted)
    assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))
    assert got[0].abs().max() > 0
