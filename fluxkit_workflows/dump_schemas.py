"""Write FluxKit's node schemas (`/object_info` format) to `fluxkit_object_info.json`, from a real ComfyUI.

    python -m fluxkit_workflows.dump_schemas      # needs ComfyUI at $COMFYUI_PATH or ~/ComfyUI

The file lets workflows be validated offline (CI without ComfyUI); a test keeps it equal to the live schemas.
Model-file choice lists are emptied, as in ComfyUI's own dump without model files.
"""

from __future__ import annotations

import json
import sys

from .schemas import FLUXKIT_SCHEMAS

FILE_LIST_INPUTS = {"control_net_name", "lora_name", "conditioning_name"}


def live_schemas(env) -> dict[str, dict]:
    """Schemas of every FluxKit node in a booted ComfyUI (`comfy_env.boot`), file lists emptied."""
    out = {}
    for node_id in env.fluxkit_ids:
        info = json.loads(json.dumps(env.nodes.NODE_CLASS_MAPPINGS[node_id].GET_NODE_INFO_V1()))
        for section in info.get("input", {}).values():
            for name, spec in section.items():
                if name in FILE_LIST_INPUTS:
                    if isinstance(spec[0], list):
                        spec[0] = []
                    else:
                        spec[1]["options"] = []
        out[node_id] = info
    return out


def main() -> int:
    from . import comfy_env

    path = comfy_env.find_comfyui()
    if path is None:
        print("no ComfyUI found: set COMFYUI_PATH or put a checkout at ~/ComfyUI", file=sys.stderr)
        return 2
    schemas = live_schemas(comfy_env.boot(path))
    FLUXKIT_SCHEMAS.write_text(json.dumps(schemas, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"wrote {len(schemas)} FluxKit schemas to {FLUXKIT_SCHEMAS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
