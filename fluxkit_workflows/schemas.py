"""Node schemas in ComfyUI's `/object_info` format: core nodes from a real ComfyUI's dump, FluxKit's from the pack.

Core schemas come from `$FLUXKIT_OBJECT_INFO` or `../shared/comfyui/object_info.json` (a real ComfyUI 0.3.64's
dump) when present, else from `core_schemas.json`, the interface-only subset of it for the nodes FluxKit's
workflows use; over them `core_schemas_newer.json`, the nodes only newer releases have (FLUX.2 [klein]).
FluxKit's own are dumped from a live ComfyUI into `fluxkit_object_info.json`. The committed files are written by
`python -m fluxkit_tools.dump_schemas` and kept equal to their sources by tests.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Inputs whose choices are files on the server (published model files; then other files and folders). An offline
# dump can't list them: the schema dump empties them, validation accepts any non-empty name, and the tests check
# the model names the workflows use against `model_files` instead.
MODEL_FILE_INPUTS = frozenset({
    "unet_name", "vae_name", "ckpt_name", "lora_name", "control_net_name", "clip_name", "clip_name1", "clip_name2",
    "connector_name",
})  # fmt: skip
FILE_INPUTS = MODEL_FILE_INPUTS | {
    "image",
    "conditioning_name",
    "model_folder",
    "t5_embedder_name",
}  # t5: or "none"
FLUXKIT_SCHEMAS = HERE / "fluxkit_object_info.json"
CORE_SUBSET = HERE / "core_schemas.json"
# Core nodes that only newer ComfyUI has (FLUX.2 [klein]: Flux2Scheduler, EmptyFlux2LatentImage, CLIPLoader's type
# flux2), dumped from a live ComfyUI ≥ 0.28 by `dump_schemas --core-newer` and read over the 0.3.64 schemas.
CORE_NEWER = HERE / "core_schemas_newer.json"
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def core_schema_path() -> Path | None:
    candidates = [
        os.environ.get("FLUXKIT_OBJECT_INFO"),
        HERE.parent.parent / "shared" / "comfyui" / "object_info.json",
    ]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


def load_schemas() -> dict[str, dict]:
    """All known node schemas: core (the full dump when available, else the committed subset) plus FluxKit's."""
    schemas: dict[str, dict] = {}
    core = core_schema_path()
    schemas.update(json.loads((core or CORE_SUBSET).read_text()))
    schemas.update(json.loads(CORE_NEWER.read_text()))
    schemas.update(json.loads(FLUXKIT_SCHEMAS.read_text()))
    return schemas


def input_specs(schema: dict) -> list[tuple[str, list, bool]]:
    """(name, spec, required) in widget order (`input_order` when present)."""
    inputs = schema.get("input", {})
    order = schema.get("input_order") or {k: list(v) for k, v in inputs.items()}
    out = []
    for section in ("required", "optional"):
        specs = inputs.get(section, {})
        for name in order.get(section, []):
            if name in specs:
                out.append((name, specs[name], section == "required"))
    return out


def is_widget(spec: list) -> bool:
    kind = spec[0]
    return isinstance(kind, list) or kind in WIDGET_TYPES


def widget_options(spec: list) -> dict:
    return spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}


def combo_choices(spec: list) -> list | None:
    if isinstance(spec[0], list):
        return spec[0]
    if spec[0] == "COMBO":
        return widget_options(spec).get("options")
    return None


def socket_type(spec: list) -> str:
    return "COMBO" if isinstance(spec[0], list) else spec[0]


def extra_widget_values(spec: list) -> int:
    """Widget slots after the value itself: a seed with control_after_generate stores 'fixed'/'randomize' too."""
    return 1 if widget_options(spec).get("control_after_generate") else 0
