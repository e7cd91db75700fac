"""One place for ComfyUI V3 socket types whose names moved between releases.

ComfyUI 0.3.64 spells `io.Vae` / `io.Clip`; 2026 releases spell `io.VAE` / `io.CLIP`. Nodes import the names from
here so a rename upstream is fixed in one line.
"""

from __future__ import annotations

from comfy_api.latest import io


def _first(*names: str):
    for name in names:
        found = getattr(io, name, None)
        if found is not None:
            return found
    raise ImportError(f"ComfyUI's comfy_api.latest.io has none of {names}; FluxKit needs a newer ComfyUI")


VAE = _first("VAE", "Vae")
CLIP = _first("CLIP", "Clip")
ControlNet = _first("ControlNet")
Model = _first("Model")
Conditioning = _first("Conditioning")
Image = _first("Image")
Mask = _first("Mask")
Sigmas = _first("Sigmas")
Sampler = _first("Sampler")
Latent = _first("Latent")
