"""Every prompt a ComfyUI server receives gets a FluxKit Fill Guard behind each loader of a FLUX.1 Fill model, so a
Fill graph without InpaintModelConditioning is refused however the model was loaded (UNETLoader, a checkpoint, a
GGUF file), not sampled as a blank picture (see `fill_guard`).

ComfyUI's documented hook for this is `PromptServer.add_on_prompt_handler`: it sees the API prompt before
validation. The handler reads only the header of each loader's file (safetensors: its JSON header; GGUF: its tensor
table) to find `img_in.weight` 384 inputs wide, adds node `<loader id>.fluxkit_fill_guard` and points the loader's
MODEL consumers at it. Prompts without a Fill model are returned untouched. `FLUXKIT_FILL_GUARD=0` in ComfyUI's
environment turns it off. A failure here never stops a prompt: ComfyUI logs the handler's exception and goes on.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import sys

from .names import FILL_GUARD

log = logging.getLogger(__name__)
SUFFIX = ".fluxkit_fill_guard"
FILL_IMG_IN = 384  # FLUX.1 Fill's img_in inputs: 64 latent + 256 masked-picture latent + 64 mask (patchified)
# loader class → (the input naming its file, the model folder, the MODEL output's index)
LOADERS = {
    "UNETLoader": ("unet_name", "diffusion_models", 0),
    "CheckpointLoaderSimple": ("ckpt_name", "checkpoints", 0),
    "UnetLoaderGGUF": ("unet_name", "unet_gguf", 0),  # city96/ComfyUI-GGUF
}
IMG_IN_KEYS = ("img_in.weight", "model.diffusion_model.img_in.weight", "x_embedder.weight")


def _safetensors_in_features(path: str) -> int | None:
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        if size > 100_000_000:
            return None
        header = json.loads(f.read(size))
    for key in IMG_IN_KEYS:
        if key in header and len(header[key].get("shape", ())) == 2:
            return int(header[key]["shape"][1])
    return None


def _gguf_in_features(path: str) -> int | None:
    try:
        from gguf import GGUFReader
    except ImportError:
        return None
    for tensor in GGUFReader(path).tensors:
        if tensor.name in IMG_IN_KEYS:
            return int(tensor.shape[0])  # GGUF lists dimensions fastest-first: (in, out)
    return None


def img_in_features(path: str) -> int | None:
    """Input width of a FLUX model file's `img_in` (from its header alone), or None when it has none."""
    try:
        if path.endswith(".gguf"):
            return _gguf_in_features(path)
        if path.endswith((".safetensors", ".sft")):
            return _safetensors_in_features(path)
    except (OSError, ValueError, struct.error):
        return None
    return None


def _fill_loaders(prompt: dict, find_file) -> list[tuple[str, int]]:
    out = []
    for node_id, node in prompt.items():
        spec = LOADERS.get(node.get("class_type", "")) if isinstance(node, dict) else None
        name = node.get("inputs", {}).get(spec[0]) if spec else None
        if not isinstance(name, str) or str(node_id).endswith(SUFFIX):
            continue
        path = find_file(spec[1], name)
        if path and img_in_features(path) == FILL_IMG_IN:
            out.append((str(node_id), spec[2]))
    return out


def guard_prompt(prompt: dict, find_file) -> dict:
    """`prompt` (API format) with a guard behind each Fill loader; `find_file(folder, name)` → a path or None."""
    for loader, slot in _fill_loaders(prompt, find_file):
        guard = loader + SUFFIX
        if guard in prompt:
            continue
        for node in prompt.values():
            inputs = node.get("inputs", {}) if isinstance(node, dict) else {}
            for key, value in inputs.items():
                if (
                    isinstance(value, list)
                    and len(value) == 2
                    and str(value[0]) == loader
                    and value[1] == slot
                ):
                    inputs[key] = [guard, 0]
        prompt[guard] = {
            "class_type": "FluxKitFillGuard",
            "inputs": {"model": [loader, slot]},
            "_meta": {"title": f"{FILL_GUARD} (added for node {loader})"},
        }
        log.info(
            "FluxKit: node %s loads FLUX.1 Fill; sampling it checks for InpaintModelConditioning", loader
        )
    return prompt


def on_prompt(json_data: dict) -> dict:
    if os.environ.get("FLUXKIT_FILL_GUARD", "1") == "0" or not isinstance(json_data.get("prompt"), dict):
        return json_data
    import folder_paths

    def find_file(folder: str, name: str) -> str | None:
        try:
            return folder_paths.get_full_path(folder, name)
        except KeyError:  # a folder this ComfyUI does not know (no GGUF pack)
            return None

    guard_prompt(json_data["prompt"], find_file)
    return json_data


def register(prompt_server=None) -> bool:
    """Add the handler to a running server (not to in-process tests or the schema dump). Returns whether added."""
    if prompt_server is None:
        prompt_server = getattr(getattr(sys.modules.get("server"), "PromptServer", None), "instance", None)
    if prompt_server is None or not hasattr(prompt_server, "add_on_prompt_handler"):
        return False
    prompt_server.add_on_prompt_handler(on_prompt)
    return True
