"""FluxKit's ComfyUI nodes (V3 schema). Each area module exposes `NODES`, a list of `io.ComfyNode` classes."""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from . import (
    conditioning,
    controlnet,
    depth,
    fill_guard,
    fill_prompt_guard,
    inpaint,
    lora,
    qwen2vl,
    sampling,
    union_controlnet,
    web_routes,
)

AREA_MODULES = (
    controlnet,
    lora,
    sampling,
    inpaint,
    qwen2vl,
    conditioning,
    union_controlnet,
    depth,
    fill_guard,
)


class FluxKitExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [node for module in AREA_MODULES for node in module.NODES]


async def comfy_entrypoint() -> FluxKitExtension:
    web_routes.register()  # template thumbnails on the newest route layout (a no-op without a server)
    fill_prompt_guard.register()  # a Fill model is guarded however it was loaded (a no-op without a server)
    return FluxKitExtension()
