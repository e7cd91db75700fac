"""Node: load a FLUX LoRA in any common format onto a MODEL through ComfyUI's own weight patching.

The MODEL is cloned and the patches are handed to `ModelPatcher.add_patches` with row offsets into the fused BFL
weights, so ComfyUI's lazy patching, offloading, fp8/GGUF handling and LoRA stacking keep working.
"""

from __future__ import annotations

import logging

import folder_paths
from comfy_api.latest import io, ui

from ..flux_core.errors import FluxKitError
from ..flux_core.lora_reader import LoraPatch, read_flux_lora
from ..flux_core.safetensors_io import load_state_dict
from . import comfy_types as t
from .comfy_compat import flux1_config, logical_shapes
from .names import LORA_LOADER, named_errors

log = logging.getLogger(__name__)
MODEL_PREFIX = "diffusion_model."


def _adapter(patch: LoraPatch):
    """ComfyUI's LoRA patch value for one low-rank pair (weight_adapter API in 0.3.64+, tuple form before)."""
    weights = (patch.up, patch.down, patch.alpha, None, None, None)
    try:
        from comfy.weight_adapter import LoRAAdapter
    except ImportError:  # older ComfyUI: tagged tuples
        return ("lora", weights)
    return LoRAAdapter(set(), weights)


def comfy_patches(patches: list[LoraPatch]) -> dict:
    """{(model key, (dim, start, length)) or model key: adapter} for ModelPatcher.add_patches."""
    out = {}
    for p in patches:
        key = MODEL_PREFIX + p.target
        if p.rows is not None:
            key = (key, (0, *p.rows))  # ComfyUI narrows the weight on dim 0 (rows) before adding the delta
        elif p.cols is not None:
            key = (key, (1, *p.cols))  # … or on dim 1 (input columns)
        out[key] = _adapter(p)
    return out


def model_shapes(model) -> dict[str, tuple[int, ...]]:
    """Logical BFL weight shapes of the MODEL's diffusion model (keys without 'diffusion_model.'), whatever the
    storage (bf16, fp8, GGUF, ComfyUI's quantized formats)."""
    # FLUX.2, Chroma, LongCat… are FLUX-family but not FLUX.1: another key map
    flux1_config(model, LORA_LOADER)
    return logical_shapes(model.model.diffusion_model)


def unplaced_report(
    path: str, unplaced: list[tuple[str, str]], placed: int, narrowed: list[tuple[str, str]] = ()
) -> str:
    lines = [f"{placed} LoRA pairs applied from {path}"]
    lines += [f"  {k}: {how}" for k, how in narrowed]
    if unplaced:
        lines.append(f"{len(unplaced)} keys NOT applied:")
        lines += [f"  {k}: {why}" for k, why in unplaced[:50]]
        if len(unplaced) > 50:
            lines.append(f"  … and {len(unplaced) - 50} more")
    return "\n".join(lines)


class FluxKitLoraLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitLoraLoader",
            display_name=LORA_LOADER,
            category="FluxKit/lora",
            description=(
                "Applies a FLUX LoRA (diffusers/PEFT like FLUX.1-Turbo-Alpha and Hyper-FLUX, kohya, OneTrainer, "
                "LyCORIS, BFL/ComfyUI, XLabs) to the model through ComfyUI's weight patching. Keys that cannot be "
                "placed are listed in the node and the log, never dropped silently. Stack several loaders freely."
            ),
            inputs=[
                t.Model.Input("model", tooltip="A FLUX model (bf16, fp8 or GGUF loader output)."),
                io.Combo.Input(
                    "lora_name",
                    options=folder_paths.get_filename_list("loras"),
                    tooltip="File in models/loras, e.g. FLUX.1-Turbo-Alpha.safetensors.",
                ),
                io.Float.Input(
                    "strength",
                    default=1.0,
                    min=-10.0,
                    max=10.0,
                    step=0.005,
                    tooltip="LoRA scale. FLUX.1-Turbo-Alpha: 1.0 (8 steps, guidance 3.5). Hyper-FLUX.1-dev-8steps: 0.125.",
                ),
            ],
            outputs=[t.Model.Output(tooltip="The model with the LoRA applied (the input is not modified).")],
        )

    @classmethod
    def execute(cls, model, lora_name: str, strength: float) -> io.NodeOutput:
        with named_errors(LORA_LOADER):
            path = folder_paths.get_full_path_or_raise("loras", lora_name)
            result = read_flux_lora(load_state_dict(path), model_shapes(model), path)
            report = unplaced_report(lora_name, result.unplaced, len(result.patches), result.narrowed)
            if result.unplaced:
                log.warning("%s: %s", LORA_LOADER, report)
            else:
                log.info("%s: %s (formats: %s)", LORA_LOADER, report, ", ".join(sorted(result.formats)))
            patched = model.clone()
            applied = patched.add_patches(comfy_patches(result.patches), strength)
            if len(applied) != len(result.patches):
                raise FluxKitError(
                    f"{LORA_LOADER}: ComfyUI accepted {len(applied)} of {len(result.patches)} patches from {path}"
                )
            return io.NodeOutput(patched, ui=ui.PreviewText(report))


NODES = [FluxKitLoraLoader]
