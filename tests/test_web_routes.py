"""FluxKit's template-thumbnail route (nodes/web_routes.py), on an aiohttp app of its own: the newest ComfyUI serves
custom-node templates through a handler that answers only `.json`, so the thumbnails come from this route."""

from __future__ import annotations

import asyncio
import importlib.util

from fluxkit_workflows.paths import REPO as REPO_DIR
from fluxkit_workflows.paths import TEMPLATE_DIR

SPEC = importlib.util.spec_from_file_location("fluxkit_web_routes", REPO_DIR / "nodes" / "web_routes.py")
web_routes = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(web_routes)  # the module imports only aiohttp and the standard library


def _get_all(paths: list[str]) -> list[tuple[int, str, bytes]]:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    async def run():
        app = web.Application()
        app.add_routes(web_routes.thumbnail_routes("ComfyUI-FluxKit", str(TEMPLATE_DIR)))
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            out = []
            for path in paths:
                r = await client.get(path)
                out.append((r.status, r.headers.get("Content-Type", ""), await r.read()))
            return out

    return asyncio.run(run())


def test_serves_each_thumbnail_and_nothing_else():
    names = sorted(p.name for p in TEMPLATE_DIR.glob("*.jpg"))
    assert names, "no thumbnails in example_workflows/"
    base = "/workflow_templates/ComfyUI-FluxKit/"
    got = _get_all(
        [base + n for n in names]
        + [
            base + "missing.jpg",
            base + "..%2f..%2fREADME.md.jpg",
            base + "inpainting_turbo_8step.json",  # core's route answers JSON; this one never does
            "/workflow_templates/OtherPack/" + names[0],
        ]
    )
    for name, (status, ctype, body) in zip(names, got):
        assert (status, ctype) == (200, "image/jpeg")
        assert body == (TEMPLATE_DIR / name).read_bytes()
    assert [status for status, _, _ in got[len(names) :]] == [404, 404, 404, 404]


def test_register_adds_the_route_to_a_server_route_table():
    """`register` puts the route into the table ComfyUI's PromptServer mounts (its `routes`), under the pack's folder
    name; without a running server it does nothing."""
    import types

    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    assert web_routes.register() is False  # no ComfyUI `server` module with a running instance here
    server = types.SimpleNamespace(routes=web.RouteTableDef())
    assert web_routes.register(server) is True
    name = next(TEMPLATE_DIR.glob("*.jpg")).name
    module = web_routes.os.path.basename(web_routes.PACK_DIR)

    async def run():
        app = web.Application()
        app.add_routes(server.routes)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            r = await client.get(f"/workflow_templates/{module}/{name}")
            return r.status, await r.read()

    status, body = asyncio.run(run())
    assert status == 200 and body == (TEMPLATE_DIR / name).read_bytes()
