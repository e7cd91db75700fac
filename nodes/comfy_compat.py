"""One place for the ComfyUI internals whose shape differs between releases (0.3.64 … 0.28 and the newest read).

- `core_model_patcher()`: the patcher class core uses for its own ControlNets and encoders. 0.3.64 has only
  `ModelPatcher`; 0.28+ has `CoreModelPatcher`, which `main.py` rebinds to `ModelPatcherDynamic` when dynamic VRAM
  is on, so it is looked up at call time, never cached at import.
- `patcher_options(cls, path)`: what else a patcher of `cls` takes: after 0.33 core's patchers take `fast_disk`
  (is the file on storage fast enough to stream weights from; `comfy.storage.model_fast_disk`), which core's
  ControlNet loaders pass and its MultiGPU clones carry on. Read off the class's signature, so older releases get
  nothing extra.
- `logical_shapes(module)`: the shapes weights have as tensors of the model, whatever their storage: GGUF layers
  (city96/ComfyUI-GGUF) hold packed bytes and report fake byte-shaped tensors in `state_dict()`, e.g. (3072, 3264)
  for a Q8_0 (3072, 3072) weight; their tensors carry the real shape as `tensor_shape`.
- `flux1_config(model, where)`: the FLUX.1 checks FluxKit's ControlNet, LoRA and Qwen nodes share. A model is FLUX.1
  when ComfyUI's own detection says so (its `unet_config`), not when it happens to have `double_blocks`: FLUX.2,
  LongCat-Image and Chroma are FLUX-family models with other widths, text encoders or layouts.

docs/COMPAT.md lists every ComfyUI API FluxKit uses and how each release differs.
"""

from __future__ import annotations

import importlib
import inspect

import comfy.model_patcher
import torch

from ..flux_core.errors import FluxKitError


def core_model_patcher():
    """The class core wraps its own ControlNets in (CoreModelPatcher where it exists, else ModelPatcher).

    Read at every call, never cached: main.py rebinds it when dynamic VRAM comes up. Written as try/except
    AttributeError, the idiom static compatibility scanners (comfy-import-guard) read as a guarded reference."""
    try:
        return comfy.model_patcher.CoreModelPatcher  # 0.4+
    except AttributeError:  # 0.3.x
        return comfy.model_patcher.ModelPatcher


def patcher_options(cls, source_path: str | None = None, fast_disk: bool | None = None) -> dict:
    """Keyword arguments beyond (model, load_device, offload_device) that patcher class `cls` accepts: `fast_disk`
    where its __init__ has it (`fast_disk` given, else judged from `source_path` as core does)."""
    try:
        accepted = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return {}
    if "fast_disk" not in accepted:
        return {}
    if fast_disk is None:
        fast_disk = model_fast_disk(source_path) if source_path else False
    return {"fast_disk": bool(fast_disk)}


def model_fast_disk(path: str) -> bool:
    """Core's storage policy for a model file (after 0.33: NVMe fast enough to stream from); False before it."""
    try:
        storage = importlib.import_module("comfy.storage")  # after 0.33
    except ImportError:
        return False
    try:
        return bool(storage.model_fast_disk([path]))
    except AttributeError:
        return False


def logical_shapes(module) -> dict[str, tuple[int, ...]]:
    """{parameter or buffer name: logical shape} of a torch module, read from the tensors themselves (never from
    `state_dict()`, which quantized layers fake): bf16/fp16/fp8 tensors and ComfyUI's QuantizedTensor report their
    logical `.shape`; GGUF's GGMLTensor keeps it in `tensor_shape`."""
    out = {}
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        out[name] = tuple(getattr(tensor, "tensor_shape", None) or tensor.shape)
    return out


# What ComfyUI's model detection writes into unet_config for FLUX.1 (dev, schnell, Fill, Kontext):
# key → (value FLUX.1 has, what it means when it differs). FLUX.2 says image_model "flux2"; LongCat-Image says
# "flux" but has a 3584-wide Qwen text input and no CLIP vector; Chroma says "chroma".
FLUX1_UNET_CONFIG: dict[str, tuple[object, str]] = {
    "image_model": ("flux", "the model family"),
    "hidden_size": (3072, "the transformer width"),
    "context_in_dim": (4096, "the text-encoder (T5-XXL) width"),
    "vec_in_dim": (768, "the pooled CLIP-L width"),
}

# unet_config["in_channels"] (img_in inputs / 4) → which FLUX.1 model it is (ComfyUI's supported_models: Flux,
# FluxInpaint, the Canny/Depth control models). Kontext has dev's 16: its reference image rides as extra tokens.
FLUX1_FILL_CHANNELS = 96
FLUX1_INPUT_CHANNELS = {
    16: "FLUX.1-dev / schnell / Kontext",
    32: "FLUX.1 Canny or Depth (a control image's latent in extra input channels)",
    FLUX1_FILL_CHANNELS: "FLUX.1 Fill (the masked picture's latent and the mask in extra input channels)",
}


def flux1_variant(cfg: dict) -> str:
    """What the FLUX.1 model with unet_config `cfg` is, from its input channels (see FLUX1_INPUT_CHANNELS)."""
    n = cfg.get("in_channels", 16)
    return FLUX1_INPUT_CHANNELS.get(n, f"a FLUX.1 variant with {n} input channels")


def _unet_config(model) -> dict | None:
    base = getattr(model, "model", model)  # a ModelPatcher or its BaseModel
    cfg = getattr(getattr(base, "model_config", None), "unet_config", None)
    return cfg if isinstance(cfg, dict) else None


# Families ComfyUI detects that FluxKit's FLUX.1 nodes meet, and what to use for them instead.
OTHER_FAMILIES = {
    "flux2": ("FLUX.2 ([klein] or [dev]: 32 latent channels, a Qwen3 or Mistral text encoder)",
              "for FLUX.2 use core's LoraLoaderModelOnly and Flux2Scheduler with FluxKit's crop and stitch (workflows "
              "klein_edit_masked, klein_inpaint)"),
    "chroma": ("Chroma (FLUX-derived, no CLIP vector)", "use core's nodes for Chroma"),
}  # fmt: skip


def model_family(model) -> str | None:
    """ComfyUI's `image_model` for a MODEL patcher (or BaseModel), e.g. "flux", "flux2"; None when it has none."""
    cfg = _unet_config(model) or {}
    return cfg.get("image_model")


def flux1_config(model, where: str) -> dict:
    """ComfyUI's unet_config of `model` (a MODEL patcher or a BaseModel) if it is FLUX.1, else a FluxKitError that
    names the node (`where`), the model and what was expected."""
    base = getattr(model, "model", model)
    cfg = _unet_config(model)
    what = f"{type(base).__name__}"
    if cfg is None:
        raise FluxKitError(f"{where}: the model is a {what} without ComfyUI's model config; expected FLUX.1")
    family = cfg.get("image_model")
    if family in OTHER_FAMILIES:
        name, instead = OTHER_FAMILIES[family]
        raise FluxKitError(
            f"{where}: the model is {name}, image_model {family!r}; expected FLUX.1: {instead}"
        )
    for key, (expected, meaning) in FLUX1_UNET_CONFIG.items():
        if cfg.get(key) != expected:
            raise FluxKitError(
                f"{where}: the model is {what} (image_model {family!r}, {key}={cfg.get(key)!r}: {meaning}); "
                f"expected FLUX.1 ({key}={expected!r}). FluxKit's FLUX nodes work with FLUX.1-dev/schnell models"
            )
    return cfg


class ManagedModule(torch.nn.Module):
    """What a ModelPatcher manages for a transformers model: the model as its one child, named `child`.
    ModelPatcher writes bookkeeping attributes (`device`, `model_loaded_weight_memory`, …) onto the module it holds,
    and transformers' PreTrainedModel has a read-only `device` property, so it cannot be held directly."""

    def __init__(self, model: torch.nn.Module, child: str):
        super().__init__()
        self.add_module(child, model)
