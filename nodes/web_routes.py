"""HTTP route FluxKit adds to a running ComfyUI server: its template thumbnails on the newest route layout.

ComfyUI's template browser shows `example_workflows/<name>.jpg` next to each template. Up to 0.28 core serves the
whole folder statically at `/api/workflow_templates/<pack folder>/`. Newer releases (Comfy-Org/ComfyUI
app/custom_node_manager.py at fcd026b) replaced that with a handler for
`/workflow_templates/{module_name}/{filename}` that answers only `.json`, so thumbnails 404 there. FluxKit serves
its own thumbnails (and only those: a fixed name pattern, files inside its `example_workflows/`) on that path.
Routes registered by custom nodes at import come before core's in the route table, so this handler sees FluxKit's
image requests first on every release; on older ones both would serve the same file.
"""

from __future__ import annotations

import os
import re
import sys

from aiohttp import web

PACK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE_DIR = os.path.join(PACK_DIR, "example_workflows")
THUMBNAIL = re.compile(r"[A-Za-z0-9_.-]+\.(jpg|jpeg|png|webp)")
CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def thumbnail_routes(module_name: str, folder: str = TEMPLATE_DIR) -> web.RouteTableDef:
    """GET /workflow_templates/<module_name>/<thumbnail> for the images in `folder` (a RouteTableDef to add)."""
    routes = web.RouteTableDef()

    @routes.get(f"/workflow_templates/{module_name}/{{filename:[^/]+\\.(?:jpg|jpeg|png|webp)}}")
    async def fluxkit_template_thumbnail(request: web.Request) -> web.StreamResponse:
        filename = request.match_info["filename"]
        match = THUMBNAIL.fullmatch(filename)
        path = os.path.join(folder, filename)
        if match is None or filename.startswith(".") or not os.path.isfile(path):
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": CONTENT_TYPES[match.group(1)]})

    return routes


def register(prompt_server=None) -> bool:
    """Add the thumbnail route to ComfyUI's server route table when a server is running (not in-process tests or
    the schema dump). Returns whether it was added."""
    if prompt_server is None:  # a running ComfyUI has imported its `server` module and made the instance
        server_module = sys.modules.get("server")
        prompt_server = getattr(getattr(server_module, "PromptServer", None), "instance", None)
    if prompt_server is None or not os.path.isdir(TEMPLATE_DIR):
        return False
    for route in thumbnail_routes(os.path.basename(PACK_DIR)):
        prompt_server.routes.route(route.method, route.path)(route.handler)
    return True
