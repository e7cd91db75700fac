"""What newer ComfyUI releases changed under FluxKit, tested in the real ComfyUI the run was given.

- Dynamic VRAM (0.12 on Windows, on by default on NVIDIA in the newest releases) builds comfy.ops Linear layers with
  `weight=None` until the state dict loads. Reproduced here as ComfyUI's main.py leaves it on such a machine:
  `comfy.memory_management.aimdo_enabled = True` and, for the lazy layers, `comfy.model_management.WINDOWS = True`.
- Core's ControlNets use `comfy.model_patcher.CoreModelPatcher` (0.28+); FluxKit's must be in the same class.
- `ControlBase.deepclone_multigpu` (0.23+), called by core's `preprocess_multigpu_conds` for MultiGPU sampling.
- FLUX-family models that are not FLUX.1 (FLUX.2, LongCat-Image, Chroma) get a clear error, not a shape error.

Tests of features a release does not have skip with the reason (e.g. no dynamic VRAM in 0.3.64).
"""

from __future__ import annotations

import types

import pytest
import torch

pytestmark = pytest.mark.comfyui


def rel_err(a, b):
    return ((a - b).abs().max() / a.abs().max()).item()


@pytest.fixture(scope="module")
def cn_name(live_comfy, thin_models):
    import os

    import folder_paths

    folder_paths.add_model_folder_path("controlnet", os.path.dirname(thin_models["controlnet"]))
    return os.path.basename(thin_models["controlnet"])


def load_fluxkit_cn(live_comfy, name):
    return live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitInpaintControlNetLoader"].execute(name).result[0]


def residual_inputs(network, tokens=16, text=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = network.config
    return dict(
        img=torch.randn(1, tokens, c.in_channels, generator=g),
        cond=torch.randn(1, tokens, c.cond_channels, generator=g),
        txt=torch.randn(1, text, c.context_dim, generator=g),
        pooled=torch.randn(1, c.pooled_dim, generator=g),
        timesteps=torch.tensor([0.7]),
        guidance=torch.tensor([3.5]),
        img_ids=torch.zeros(tokens, 3),
        txt_ids=torch.zeros(text, 3),
    )


@pytest.fixture
def lazy_weights(live_comfy, monkeypatch):
    """ComfyUI in its dynamic-VRAM state (as main.py sets it on an NVIDIA/Windows machine) for one test."""
    import importlib

    import comfy.model_management as mm
    import comfy.ops as ops

    try:
        mem = importlib.import_module("comfy.memory_management")
    except ImportError:
        mem = None
    if not hasattr(mem, "aimdo_enabled"):
        pytest.skip(
            f"ComfyUI {live_comfy.version} has no dynamic VRAM (comfy.memory_management.aimdo_enabled)"
        )
    monkeypatch.setattr(mem, "aimdo_enabled", True)
    monkeypatch.setattr(mm, "WINDOWS", True)
    probe = ops.disable_weight_init.Linear(4, 4)
    assert probe.weight is None  # the state being tested: comfy.ops layers are built without weights


def test_controlnet_loads_under_lazy_weights_with_identical_residuals(
    live_comfy, cn_name, lazy_weights, monkeypatch
):
    lazy = load_fluxkit_cn(live_comfy, cn_name)
    monkeypatch.undo()  # back to the normal path for the reference load
    normal = load_fluxkit_cn(live_comfy, cn_name)
    assert all(m.weight is not None for m in lazy.network.modules() if isinstance(m, torch.nn.Linear))
    inputs = residual_inputs(normal.network)
    with torch.no_grad():
        a, b = lazy.network(**inputs), normal.network(**inputs)
    assert len(a) == len(b) == normal.network.config.num_double_blocks
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    assert b[0].abs().max() > 0


def test_controlnet_patcher_is_the_class_core_uses(live_comfy, cn_name, monkeypatch):
    import comfy.model_patcher as mp

    control = load_fluxkit_cn(live_comfy, cn_name)
    try:
        original = mp.CoreModelPatcher
    except AttributeError:  # 0.3.x: core's ControlNets use ModelPatcher
        assert type(control.patcher) is mp.ModelPatcher
        pytest.skip(f"ComfyUI {live_comfy.version} has no CoreModelPatcher (added after 0.3.64)")
    assert type(control.patcher) is original
    # and it follows a rebinding done after import, as main.py does when dynamic VRAM comes up
    rebound = type("RebindProbe", (mp.ModelPatcher,), {})
    monkeypatch.setattr(mp, "CoreModelPatcher", rebound)  # restored after the test
    assert type(load_fluxkit_cn(live_comfy, cn_name).patcher) is rebound


def test_deepclone_multigpu_as_core_preprocess_multigpu_conds_calls_it(live_comfy, cn_name, thin_models):
    import comfy.controlnet as controlnet
    import comfy.sampler_helpers as sh
    import comfy.sd as sd

    try:
        preprocess_multigpu_conds = sh.preprocess_multigpu_conds
        controlnet.ControlBase.deepclone_multigpu  # noqa: B018 - the feature probed
    except AttributeError:
        pytest.skip(
            f"ComfyUI {live_comfy.version} has no MultiGPU ControlNet clones (ControlBase.deepclone_multigpu)"
        )
    model = sd.load_diffusion_model(thin_models["flux"])
    image, mask = torch.rand(1, 64, 64, 3), torch.zeros(1, 64, 64)
    mask[:, 16:48, 16:48] = 1
    pos = [[torch.randn(1, 8, 4096), {"pooled_output": torch.randn(1, 768), "guidance": 3.5}]]
    control = load_fluxkit_cn(live_comfy, cn_name)
    apply = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitInpaintControlNetApply"]
    out_pos, _ = apply.execute(pos, pos, control, None, image, mask, 0.8, 0.1, 0.9).result
    applied = out_pos[0][1]["control"]

    other = model.clone()  # stands for the deep clone core's MultiGPU node makes per extra GPU
    other.load_device = torch.device("cpu", 1)  # a device key distinct from the main one (never computed on)
    model.set_additional_models("multigpu", [other])
    preprocess_multigpu_conds({"positive": [out_pos[0][1]]}, model, model.model_options)

    clone = applied.multigpu_clones[other.load_device]
    assert type(clone) is type(applied) and clone is applied.get_instance_for_device(other.load_device)
    assert clone.network is not applied.network and clone.patcher.load_device == other.load_device
    assert clone.patcher in applied.get_models()
    for (k, v), (k2, v2) in zip(applied.network.state_dict().items(), clone.network.state_dict().items()):
        assert k == k2 and torch.equal(v, v2) and v.data_ptr() != v2.data_ptr()
    assert (clone.image is applied.image, clone.mask is applied.mask) == (True, True)
    assert (clone.strength, clone.timestep_percent_range, clone.binarize) == (0.8, (0.1, 0.9), True)
    inputs = residual_inputs(applied.network)
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(applied.network(**inputs), clone.network(**inputs)))


def _as_model(unet_config_class, **detected):
    """A MODEL-shaped holder of a real ComfyUI model config (supported_models class + the detected unet_config)."""
    return types.SimpleNamespace(model=types.SimpleNamespace(model_config=unet_config_class(detected)))


def test_flux1_is_detected_by_comfyui_config_and_other_families_are_clear_errors(live_comfy, thin_models):
    import comfy.sd as sd
    import comfy.supported_models as sm

    from flux_core.errors import FluxKitError  # one class: the harness shares flux_core with the pack

    compat = live_comfy.import_module(f"{live_comfy.pack.__name__}.nodes.comfy_compat")
    flux = sd.load_diffusion_model(thin_models["flux"])
    cfg = compat.flux1_config(flux, "Probe")
    assert (cfg["depth"], cfg["depth_single_blocks"], cfg["hidden_size"]) == (1, 1, 3072)
    families = {  # what ComfyUI's detection writes for each (comfy/model_detection.py)
        "flux2": (
            "Flux2",
            dict(image_model="flux2", hidden_size=3072, context_in_dim=15360, vec_in_dim=None),
        ),
        "longcat": (
            "LongCatImage",
            dict(image_model="flux", hidden_size=3072, context_in_dim=3584, vec_in_dim=None),
        ),
        "chroma": ("Chroma", dict(image_model="chroma", hidden_size=3072, context_in_dim=4096)),
    }
    tried = 0
    for cls_name, detected in families.values():
        cls = getattr(sm, cls_name, None)
        if cls is None:
            continue  # this release predates that family
        tried += 1
        with pytest.raises(FluxKitError, match=r"Probe: the model is .*expected FLUX\.1"):
            compat.flux1_config(_as_model(cls, **detected), "Probe")
    assert tried >= 1
    with pytest.raises(
        FluxKitError, match=r"FluxKit LoRA Loader \(FLUX, any format\): .*image_model 'flux2'"
    ):
        lora = live_comfy.import_module(f"{live_comfy.pack.__name__}.nodes.lora")
        lora.model_shapes(_as_model(sm.Flux, **families["flux2"][1]))


def test_fast_disk_goes_to_patchers_that_take_it_as_core_038_passes_it(live_comfy, cn_name, monkeypatch):
    """After 0.33 core's patchers take `fast_disk` (comfy.storage's verdict on the file) and its MultiGPU clones carry
    it on. A patcher class with that signature, and a storage policy that answers True, stand in for such a release
    here; the running release's own classes (without it) still load."""
    import sys

    import comfy.model_patcher as mp

    plain = load_fluxkit_cn(live_comfy, cn_name)
    assert not hasattr(plain.patcher, "fast_disk")  # 0.3.64 / 0.33: nothing extra is passed

    class Patcher038(mp.ModelPatcher):
        def __init__(
            self, model, load_device, offload_device, size=0, weight_inplace_update=False, fast_disk=False
        ):
            super().__init__(model, load_device, offload_device, size, weight_inplace_update)
            self.fast_disk = fast_disk

    storage = types.ModuleType("comfy.storage")
    storage.model_fast_disk = lambda paths: all(p.endswith(".safetensors") for p in paths)
    monkeypatch.setitem(sys.modules, "comfy.storage", storage)
    monkeypatch.setattr(mp, "CoreModelPatcher", Patcher038, raising=False)
    monkeypatch.setattr(mp, "ModelPatcher", Patcher038)
    control = load_fluxkit_cn(live_comfy, cn_name)
    assert type(control.patcher) is Patcher038 and control.patcher.fast_disk is True
    clone = control.deepclone_multigpu(torch.device("cpu", 1))
    assert type(clone.patcher) is Patcher038 and clone.patcher.fast_disk is True


def test_control_tokens_are_kept_per_latent_size_and_cleared_where_core_clears_its_hints(
    live_comfy, cn_name, thin_models
):
    """Area composition calls one ControlNet with alternating latent sizes every step: the last two sizes' tokens
    are kept (as core keeps two cond_hints), so A, B, A, B encodes twice; a third size evicts the oldest; a new
    picture (set_inpaint, core's set_cond_hint) and cleanup drop them all."""
    import comfy.latent_formats
    import comfy.sd
    import comfy.utils

    control = load_fluxkit_cn(live_comfy, cn_name).copy()
    vae = comfy.sd.VAE(sd=comfy.utils.load_torch_file(thin_models["vae"]))
    image, mask = torch.rand(1, 64, 64, 3), torch.zeros(1, 64, 64)
    control.set_inpaint(image, mask, vae, 1.0, (0.0, 1.0), True)
    control._latent_format = comfy.latent_formats.Flux()
    a, b, c = torch.zeros(1, 16, 8, 8), torch.zeros(1, 16, 6, 8), torch.zeros(1, 16, 8, 6)
    for x in (a, b, a, b):
        control._control_for(x)
    assert control.encode_count == 2
    control._control_for(c)  # evicts a
    control._control_for(b)
    control._control_for(a)
    assert control.encode_count == 4
    control.set_inpaint(image, mask, vae, 1.0, (0.0, 1.0), True)
    control._control_for(a)
    assert control.encode_count == 5
    control.cleanup()
    control._latent_format = comfy.latent_formats.Flux()
    control._control_for(a)
    assert control.encode_count == 6
    assert getattr(control, "cond_hints", {}) == {} and getattr(control, "control_inputs", {}) == {}


def test_applying_and_dropping_controls_never_detaches_the_loaded_controlnet(live_comfy, cn_name):
    """Since 0.28 a ModelPatcher that is garbage-collected detaches its model (and a dynamic one unpins it when it is
    the last). FluxKit's apply node hands out copies that share the loader's patcher, never patchers of their own:
    dropping any number of them leaves the loaded ControlNet attached."""
    import gc

    import comfy.patcher_extension as ext

    control = load_fluxkit_cn(live_comfy, cn_name)
    detached = []
    control.patcher.add_callback(
        ext.CallbacksMP.ON_DETACH, lambda patcher, unpatch_all: detached.append(patcher)
    )
    apply = live_comfy.nodes.NODE_CLASS_MAPPINGS["FluxKitInpaintControlNetApply"]
    image, mask = torch.rand(1, 64, 64, 3), torch.zeros(1, 64, 64)
    pos = [[torch.randn(1, 8, 4096), {"pooled_output": torch.randn(1, 768)}]]
    for _ in range(3):
        out = apply.execute(pos, pos, control, None, image, mask, 1.0, 0.0, 1.0).result
        copies = [c[1]["control"] for c in out[0]]
        assert all(c.patcher is control.patcher for c in copies) and control.patcher in copies[0].get_models()
        del out, copies
    gc.collect()
    assert detached == []
