"""Test-side name for the in-process ComfyUI boot helpers (they live in `fluxkit_workflows.comfy_env`)."""

from fluxkit_workflows.comfy_env import REPO_ROOT, boot, comfyui_version, find_comfyui

__all__ = ["REPO_ROOT", "boot", "comfyui_version", "find_comfyui"]
