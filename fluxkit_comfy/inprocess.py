"""Boot a real ComfyUI in-process (CPU) with FluxKit loaded, for integration tests, the schema dump and the demo.

ComfyUI is found at `$COMFYUI_PATH` (when set, even empty) or else `~/ComfyUI`. It is never vendored: tests that need it skip with a message
saying where it was looked for.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
import types
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]  # the pack (fluxkit_comfy/ sits at its root)
SHARED_PACKAGES = ("flux_core",)  # pure packages the pack's nodes import relatively and tests import by name


class ComfyBootError(RuntimeError):
    """ComfyUI could not be booted in-process with FluxKit (the message says what was in the way)."""


def find_comfyui() -> Path | None:
    """The ComfyUI checkout to test against, or None."""
    # COMFYUI_PATH, when set, is the only candidate (empty = none: scripts/test.sh's run without ComfyUI)
    if "COMFYUI_PATH" in os.environ:
        candidates = [os.environ["COMFYUI_PATH"]]
    else:
        candidates = [str(Path.home() / "ComfyUI")]
    for c in candidates:
        if c and (Path(c) / "comfy" / "model_management.py").is_file() and (Path(c) / "nodes.py").is_file():
            return Path(c).resolve()
    return None


def comfyui_version(path: Path) -> str:
    ns: dict = {}
    version_file = path / "comfyui_version.py"
    if version_file.is_file():
        exec(compile(version_file.read_text(), str(version_file), "exec"), ns)  # noqa: S102 - ComfyUI's own file
    return ns.get("__version__", "unknown")


def boot(path: Path) -> types.SimpleNamespace:
    """Import ComfyUI from `path` with `--cpu`, load the built-in extra nodes and FluxKit; return handles."""
    loaded = sys.modules.get("nodes")
    if loaded is not None and not str(getattr(loaded, "__file__", "")).startswith(str(path)):
        raise ComfyBootError(
            f"`nodes` is already imported from {loaded.__file__}; import FluxKit's node modules only through the "
            "`live_comfy` fixture (the pack is loaded as a package, ComfyUI owns the top-level name `nodes`)"
        )
    if str(path) in sys.path:
        sys.path.remove(str(path))
    sys.path.insert(0, str(path))
    import comfy.cli_args

    # Same effect as `main.py --cpu`: decided once, before comfy.model_management is imported.
    comfy.cli_args.args.cpu = True
    comfy.cli_args.args.disable_all_custom_nodes = True
    import comfy.model_management  # noqa: F401

    import nodes

    asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
    before = set(nodes.NODE_CLASS_MAPPINGS)
    pack_name = str(REPO_ROOT).replace(
        ".", "_x_"
    )  # the module name ComfyUI's load_custom_node gives the pack
    share_packages(pack_name)
    ok = asyncio.run(nodes.load_custom_node(str(REPO_ROOT)))
    if not ok:
        raise ComfyBootError("ComfyUI failed to load FluxKit (see the log above)")
    fluxkit_ids = sorted(set(nodes.NODE_CLASS_MAPPINGS) - before)
    pack = sys.modules[pack_name]
    logging.getLogger().setLevel(logging.INFO)
    return types.SimpleNamespace(
        path=path,
        version=comfyui_version(path),
        nodes=nodes,
        pack=pack,
        fluxkit_ids=fluxkit_ids,
        import_module=importlib.import_module,
        run=lambda node_id, **inputs: run_node(nodes, node_id, **inputs),
    )


def share_packages(pack_name: str) -> None:
    """One identity per module in this process: the pack's nodes import `..flux_core` (`<pack>.flux_core`), tests,
    bench and tools import `flux_core`. Registering every `flux_core` module under the pack's name too, before
    ComfyUI imports the pack, makes both names one module, so `except FluxKitError` in a test catches what a node
    raises. A ComfyUI server process never imports the top-level name, so it has only the pack's."""
    import pkgutil

    for top in SHARED_PACKAGES:
        package = importlib.import_module(top)
        if Path(package.__file__).resolve().parent != REPO_ROOT / top:
            raise ComfyBootError(
                f"`{top}` resolves to {package.__file__}, not this pack's; run from {REPO_ROOT}"
            )
        modules = [package] + [
            importlib.import_module(info.name)
            for info in pkgutil.walk_packages(package.__path__, prefix=f"{top}.")  # sub-packages too
        ]
        for module in modules:
            sys.modules.setdefault(f"{pack_name}.{module.__name__}", module)


def run_node(nodes_module, node_id: str, **inputs) -> tuple:
    """Run one registered node (core or FluxKit) by id with keyword inputs, as ComfyUI's executor would, and
    return its outputs as a tuple. V3 nodes go through `execute` (core moved many nodes to V3 after 0.3.64 and
    keeps the V1 method names only as aliases marked for removal); V1 nodes through their FUNCTION."""
    cls = nodes_module.NODE_CLASS_MAPPINGS[node_id]
    from comfy_api.latest import io

    if isinstance(cls, type) and issubclass(cls, io.ComfyNode):
        out = cls.execute(**inputs)
        if asyncio.iscoroutine(out):
            out = asyncio.run(out)
        return tuple(out.result) if out.result is not None else ()
    return tuple(getattr(cls(), cls.FUNCTION)(**inputs))
