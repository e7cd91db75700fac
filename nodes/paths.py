"""Model folders FluxKit adds to ComfyUI, registered through folder_paths once, when this module is first imported.

Each entry: folder name → (sub-folder of ComfyUI's models directory, accepted file extensions). Users can point a
folder elsewhere with ComfyUI's extra_model_paths.yaml under the same name.
"""

from __future__ import annotations

import os

import folder_paths

from ..flux_core.errors import FluxKitError

CONDITIONING_FOLDER = "fluxkit_conditioning"  # saved prompt conditionings (FluxKit Save/Load Conditioning)
QWEN2VL_FOLDER = (
    "qwen2vl"  # one sub-folder per Qwen2-VL model (config.json, *.safetensors, tokenizer, preprocessor)
)
QWEN2VL_FLUX_FOLDER = "qwen2vl_flux"  # Qwen2VL-Flux connector.pt, t5_embedder.pt
DEPTH_FOLDER = "depth_anything"  # one sub-folder per Depth-Anything-V2 model (HF layout: config.json, …)

FLUXKIT_FOLDERS: dict[str, tuple[str, set[str]]] = {
    CONDITIONING_FOLDER: (CONDITIONING_FOLDER, {".safetensors"}),
    QWEN2VL_FOLDER: (
        QWEN2VL_FOLDER,
        set(),
    ),  # listed by the loader (folders with a config.json), not by extension
    QWEN2VL_FLUX_FOLDER: (QWEN2VL_FLUX_FOLDER, {".pt", ".safetensors"}),
    DEPTH_FOLDER: (DEPTH_FOLDER, set()),  # listed by the loader (folders with a config.json)
}


def register_model_folders(folders: dict[str, tuple[str, set[str]]] = FLUXKIT_FOLDERS) -> None:
    """Add each folder to folder_paths unless it is already known (re-imports and reloads are harmless)."""
    for name, (subdir, extensions) in folders.items():
        path = os.path.join(folder_paths.models_dir, subdir)
        if name in folder_paths.folder_names_and_paths:
            known, exts = folder_paths.folder_names_and_paths[name]
            if path not in known:
                known.append(path)
            exts.update(extensions)
        else:
            folder_paths.folder_names_and_paths[name] = ([path], set(extensions))


def first_folder(name: str) -> str:
    """The first directory registered for `name`, created if missing (where FluxKit writes new files)."""
    path = folder_paths.get_folder_paths(name)[0]
    os.makedirs(path, exist_ok=True)
    return path


def config_folders(name: str) -> list[str]:
    """Sub-folders of the `name` model folders that hold a config.json (models in the Hugging Face layout)."""
    out = []
    for root in folder_paths.get_folder_paths(name):
        if os.path.isdir(root):
            out += [
                d for d in sorted(os.listdir(root)) if os.path.isfile(os.path.join(root, d, "config.json"))
            ]
    return out


def find_config_folder(name: str, folder: str) -> str:
    """The path of `folder` (holding a config.json) under the `name` model folders; FluxKitError saying where it
    looked when there is none (the node's `named_errors` puts its name in front)."""
    for root in folder_paths.get_folder_paths(name):
        if os.path.isfile(os.path.join(root, folder, "config.json")):
            return os.path.join(root, folder)
    raise FluxKitError(f"no model folder {folder!r} with a config.json in models/{name}")


register_model_folders()  # the one call: every node module that lists these folders imports this module
