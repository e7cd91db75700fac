"""Test-side name for the in-process ComfyUI boot helpers (they live in `fluxkit_comfy.inprocess`)."""

from fluxkit_comfy.inprocess import REPO_ROOT, boot, comfyui_version, find_comfyui

__all__ = ["REPO_ROOT", "boot", "comfyui_version", "find_comfyui"]
