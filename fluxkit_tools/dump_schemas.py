"""Write the node schemas (`/object_info` format) that offline workflow validation needs:

    python -m fluxkit_tools.dump_schemas          # FluxKit's, from a real ComfyUI → fluxkit_object_info.json
    python -m fluxkit_tools.dump_schemas --core   # core nodes the workflows use → core_schemas.json

FluxKit's come from a live ComfyUI at $COMFYUI_PATH or ~/ComfyUI; model-file choice lists are emptied, as in
ComfyUI's own dump without model files, and only the fields FluxKit decides are kept (`FLUXKIT_OWNED_KEYS`: not
`python_module`, which names the checkout folder, nor the flags each ComfyUI release adds). The core
subset is the interface part only (types, defaults, ranges, choices, widget order, outputs; no tooltips or
descriptions) of the ComfyUI 0.3.64 dump in ../shared/comfyui/object_info.json, or of a live ComfyUI, so that CI
can validate without either. Tests keep both files equal to their sources where those are present.
"""

from __future__ import annotations

import json
import sys

import fluxkit_cli as cli
from fluxkit_workflows.schemas import CORE_NEWER, CORE_SUBSET, FILE_INPUTS, FLUXKIT_SCHEMAS

# Core node types FluxKit's workflows (and its tests' variants of them) use.
CORE_NODES = sorted({
    "UNETLoader", "VAELoader", "DualCLIPLoader", "CLIPTextEncode", "FluxGuidance", "ConditioningZeroOut",
    "LoadImage", "LoadImageMask", "VAEEncode", "VAEDecode", "SetLatentNoiseMask", "RandomNoise", "KSamplerSelect",
    "BasicGuider", "CFGGuider", "SamplerCustomAdvanced", "SaveImage", "PreviewImage", "EmptySD3LatentImage",
    "EmptyLatentImage", "CheckpointLoaderSimple", "LoraLoaderModelOnly", "BasicScheduler",
    "ControlNetLoader", "ControlNetInpaintingAliMamaApply", "SplitSigmasDenoise", "ControlNetApplyAdvanced", "Canny",
    "InpaintModelConditioning", "ImagePadForOutpaint", "ReferenceLatent", "GetImageSize",
})  # fmt: skip
# Core node types only newer ComfyUI has, or whose choices grew after 0.3.64, that the FLUX.2 [klein] workflows use;
# dumped from a live ComfyUI ≥ 0.28 (`--core-newer`) and read over the 0.3.64 schemas.
NEWER_CORE_NODES = ("CLIPLoader", "EmptyFlux2LatentImage", "Flux2Scheduler")
DROPPED_KEYS = ("description", "output_tooltips", "python_module")
# The NodeInfo fields FluxKit's node definitions decide. ComfyUI adds fields of its own from release to release
# (0.28: dev_only, has_intermediate_output, is_input_list, …); those are not FluxKit's interface and are left out, so
# the committed file is the same whichever ComfyUI dumped it.
FLUXKIT_OWNED_KEYS = (
    "name", "display_name", "description", "category", "input", "input_order", "output", "output_is_list",
    "output_name", "output_node", "output_tooltips", "deprecated", "experimental",
)  # fmt: skip


def interface_only(schema: dict) -> dict:
    """A schema without prose: tooltips, descriptions and the module path removed."""
    out = {k: v for k, v in json.loads(json.dumps(schema)).items() if k not in DROPPED_KEYS}
    for section in out.get("input", {}).values():
        for spec in section.values():
            if len(spec) > 1 and isinstance(spec[1], dict):
                spec[1].pop("tooltip", None)
    return out


def core_subset(all_schemas: dict[str, dict]) -> dict[str, dict]:
    return {name: interface_only(all_schemas[name]) for name in CORE_NODES}


MODEL_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".gguf", ".sft")


def _options(spec: list) -> list[str] | None:
    """A combo's choices, or None for another kind of input (an IMAGE socket named `image`, say)."""
    if isinstance(spec[0], list):
        return spec[0]
    return spec[1].get("options") if spec[0] == "COMBO" and len(spec) > 1 else None


def _is_model_entry(input_name: str, option: str) -> bool:
    """A choice that lists a file or folder found on this machine (not a fixed choice of the node)."""
    return input_name == "model_folder" or option.lower().endswith(MODEL_SUFFIXES)


def empty_file_lists(info: dict) -> dict:
    """`info` with the choices that list files on this machine removed (fixed choices such as "none" kept)."""
    for section in info.get("input", {}).values():
        for name, spec in section.items():
            if name in FILE_INPUTS and _options(spec) is not None:
                fixed = [o for o in _options(spec) if not _is_model_entry(name, o)]
                if isinstance(spec[0], list):
                    spec[0] = fixed
                else:
                    spec[1]["options"] = fixed
    return info


def newer_core_schemas(url: str) -> dict[str, dict]:
    """NEWER_CORE_NODES as the ComfyUI server at `url` answers `/object_info/<node>` (interface only, no file
    lists). Raises SystemExit naming the node when that ComfyUI is too old to have one."""
    import urllib.request

    out = {}
    for name in NEWER_CORE_NODES:
        with urllib.request.urlopen(f"{url}/object_info/{name}", timeout=60) as r:
            info = json.loads(r.read())
        if name not in info:
            raise SystemExit(f"ComfyUI at {url} has no {name} node (FLUX.2 [klein] needs 0.28 or newer)")
        out[name] = interface_only(empty_file_lists(info[name]))
    return out


def live_schemas(env) -> dict[str, dict]:
    """Schemas of every FluxKit node in a booted ComfyUI (`fluxkit_comfy.inprocess.boot`), file lists emptied."""
    out = {}
    for node_id in env.fluxkit_ids:
        info = empty_file_lists(
            json.loads(json.dumps(env.nodes.NODE_CLASS_MAPPINGS[node_id].GET_NODE_INFO_V1()))
        )
        out[node_id] = {k: info[k] for k in FLUXKIT_OWNED_KEYS if k in info}
    return out


def main(argv: list[str] | None = None) -> int:
    from fluxkit_comfy import inprocess as comfy_env
    from fluxkit_workflows.schemas import core_schema_path

    parser = cli.Parser(prog="python -m fluxkit_tools.dump_schemas", description=__doc__.split("\n\n")[0])
    parser.add_argument("--core", action="store_true", help="the core nodes' subset instead of FluxKit's")
    parser.add_argument(
        "--core-newer", action="store_true", help="the core nodes only newer ComfyUI has (live)"
    )
    args = parser.parse_args(argv)
    if args.core_newer:
        path = comfy_env.find_comfyui()
        if path is None:
            print(
                "no ComfyUI found: set COMFYUI_PATH to a ComfyUI with FLUX.2 [klein] (0.28+)", file=sys.stderr
            )
            return 2
        import tempfile
        from pathlib import Path

        from fluxkit_comfy.server import ComfyServer

        with tempfile.TemporaryDirectory() as base, ComfyServer(path, Path(base)) as server:
            schemas = newer_core_schemas(server.url)
        CORE_NEWER.write_text(json.dumps(schemas, indent=1, sort_keys=True) + "\n")
        print(
            f"wrote {len(schemas)} core schemas of ComfyUI {comfy_env.comfyui_version(path)} to {CORE_NEWER}"
        )
        return 0
    if args.core:
        source = core_schema_path()
        if source is None:
            print(
                "no object_info.json: set FLUXKIT_OBJECT_INFO or provide ../shared/comfyui/", file=sys.stderr
            )
            return 2
        CORE_SUBSET.write_text(
            json.dumps(core_subset(json.loads(source.read_text())), indent=1, sort_keys=True) + "\n"
        )
        print(f"wrote {len(CORE_NODES)} core schemas from {source} to {CORE_SUBSET}")
        return 0
    path = comfy_env.find_comfyui()
    if path is None:
        print("no ComfyUI found: set COMFYUI_PATH or put a checkout at ~/ComfyUI", file=sys.stderr)
        return 2
    schemas = live_schemas(comfy_env.boot(path))
    FLUXKIT_SCHEMAS.write_text(json.dumps(schemas, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"wrote {len(schemas)} FluxKit schemas to {FLUXKIT_SCHEMAS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "python -m fluxkit_tools.dump_schemas"))
