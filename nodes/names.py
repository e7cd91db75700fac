"""Every FluxKit node's display name, written once: its schema shows it and every message the node raises or logs
starts with it (a test checks both). Display names are labels and may be reworded; node ids never change.

`named_errors(name)` is the guard each node's `execute` runs in: a `FluxKitError` from below (flux_core knows no
node) leaves it starting with the node's name."""

from __future__ import annotations

from contextlib import contextmanager

from ..flux_core.errors import FluxKitError

SAVE_CONDITIONING = "FluxKit Save Conditioning"
LOAD_CONDITIONING = "FluxKit Load Conditioning"
INPAINT_CN_LOADER = "FluxKit Inpaint ControlNet Loader (alimama)"
INPAINT_CN_APPLY = "FluxKit Inpaint ControlNet Apply (alimama)"
DEPTH_LOADER = "FluxKit Depth Anything V2 Loader"
DEPTH_MAP = "FluxKit Depth Map (Depth Anything V2)"
INPAINT_CROP = "FluxKit Inpaint Crop"
INPAINT_STITCH = "FluxKit Inpaint Stitch"
LORA_LOADER = "FluxKit LoRA Loader (FLUX, any format)"
QWEN2VL_LOADER = "FluxKit Qwen2-VL Loader"
QWEN2VL_CONNECTOR_LOADER = "FluxKit Qwen2VL-Flux Connector Loader"
QWEN2VL_ENCODE = "FluxKit Qwen2VL-Flux Encode (image → conditioning)"
TURBO_SCHEDULER = "FluxKit Turbo Scheduler (FLUX few-step)"
DMD2_SCHEDULER = "FluxKit DMD2 Scheduler (exact timesteps)"
DMD2_SAMPLER = "FluxKit DMD2 Sampler (denoise → renoise)"
UNION_CN_MODE = "FluxKit Union ControlNet Mode (InstantX ids)"
FILL_GUARD = "FluxKit Fill Guard (needs InpaintModelConditioning)"


@contextmanager
def named_errors(name: str):
    """Run a node's work so that every FluxKitError leaving it starts with `name` (the error keeps its type)."""
    try:
        yield
    except FluxKitError as e:
        if not str(e).startswith(name):
            e.args = (f"{name}: {e}", *e.args[1:])
        raise
