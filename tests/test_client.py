"""The headless client: overrides, mask polarity, batch inputs and manifest (offline); the HTTP/websocket protocol
against a minimal loopback server of our own (rejections, progress, hostile output names)."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
from aiohttp import web
from PIL import Image

from fluxkit_comfy.client import PromptRejected, fetch_outputs, run_prompt, safe_file_name
from fluxkit_comfy.server import free_port
from fluxkit_tools import client


@pytest.fixture()
def api() -> dict:
    return client.load_workflow("inpainting_turbo_8step")


def test_overrides_by_short_name_title_and_id(api):
    assert client.apply_override(api, "prompt", "a cat") == ["6.text"]
    assert api["6"]["inputs"]["text"] == "a cat"
    assert client.apply_override(api, "seed", 7) == ["14.noise_seed"]
    assert client.apply_override(api, "steps", 4) == ["16.steps"]
    assert client.apply_override(api, "fluxguidance.guidance", 2.5) == ["7.guidance"]  # by title
    assert client.apply_override(api, "FluxKitInpaintCrop.feather_px", 4) == ["10.feather_px"]  # by type
    assert client.apply_override(api, "10.resolution", 768) == ["10.resolution"]  # by id
    assert api["7"]["inputs"]["guidance"] == 2.5 and api["10"]["inputs"]["resolution"] == 768


@pytest.mark.parametrize(
    "name, message",
    [
        ("nosuch", "matches no node input"),
        ("10.nosuch", "has no input 'nosuch'"),
        ("VAEDecode.vae", "is a link"),
    ],
)
def test_bad_overrides_are_clear_errors(api, name, message):
    with pytest.raises(client.OverrideError, match=message):
        client.apply_override(api, name, 1)


def test_unknown_workflow_lists_the_known_ones():
    with pytest.raises(client.OverrideError, match="inpainting_turbo_8step"):
        client.load_workflow("nope")


def test_mask_becomes_alpha_zero_where_white(tmp_path):
    grey = np.zeros((8, 10), np.uint8)
    grey[2:5, 3:7] = 255
    Image.fromarray(grey, "L").save(tmp_path / "m.png")
    import io

    rgba = np.asarray(Image.open(io.BytesIO(client.mask_as_alpha_png(tmp_path / "m.png"))))
    # ComfyUI's LoadImage makes MASK = 1 - alpha, so alpha 0 = repaint
    assert (rgba[..., 3] == 255 - grey).all()


def test_batch_items_from_folder_and_csv(tmp_path):
    (tmp_path / "masks").mkdir()
    for name in ("b.png", "a.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "masks" / "a.png").write_bytes(b"x")
    items = client.batch_items(tmp_path)
    assert [k for k, _ in items] == ["a", "b"]
    assert items[0][1] == {"image": str(tmp_path / "a.png"), "mask": str(tmp_path / "masks" / "a.png")}
    (tmp_path / "jobs.csv").write_text("image,prompt,seed\na.png,a cat,3\nb.png,,4\n")
    rows = client.batch_items(tmp_path / "jobs.csv")
    assert rows == [
        ("row00001", {"image": str(tmp_path / "a.png"), "prompt": "a cat", "seed": 3}),
        ("row00002", {"image": str(tmp_path / "b.png"), "seed": 4}),
    ]


def test_manifest_needs_the_files_too(tmp_path):
    m = client.Manifest(tmp_path / "manifest.json")
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "o.png").write_bytes(b"png")
    m.record("k", [tmp_path / "k" / "o.png"])
    again = client.Manifest(tmp_path / "manifest.json")
    assert again.finished("k") and not again.finished("other")
    (tmp_path / "k" / "o.png").unlink()
    assert not again.finished("k")  # an output lost since: run it again


@pytest.mark.parametrize(
    "name, safe",
    [("../../etc/passwd", "passwd"), ("..\\..\\x.png", "x.png"), ("ok_00001_.png", "ok_00001_.png"), ("..", "output"),
     ("a b;c.png", "a_b_c.png"), (".hidden", "hidden")],
)  # fmt: skip
def test_safe_file_names(name, safe):
    assert safe_file_name(name) == safe


# --- protocol against a stand-in server --------------------------------------------------------------------


async def _stand_in(port: int, reject: bool):
    """Speaks the part of ComfyUI's protocol the client uses; its output name tries a path traversal."""
    sockets: list[web.WebSocketResponse] = []

    async def ws(request):
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        sockets.append(sock)
        async for _ in sock:
            pass
        return sock

    async def prompt(request):
        body = await request.json()
        if reject:
            return web.json_response(
                {"error": {"message": "Prompt outputs failed validation", "details": ""},
                 "node_errors": {"3": {"class_type": "KSampler", "errors": [{"message": "Value 0 smaller than min of 1", "details": "steps"}]}}},
                status=400,
            )  # fmt: skip
        pid = "p1"

        async def play():
            await asyncio.sleep(0.05)
            for event in (
                {"type": "execution_start", "data": {"prompt_id": pid}},
                {"type": "executing", "data": {"node": "1", "prompt_id": pid}},
                {"type": "progress", "data": {"node": "1", "value": 1, "max": 2, "prompt_id": pid}},
                {"type": "progress", "data": {"node": "1", "value": 2, "max": 2, "prompt_id": pid}},
                {"type": "executing", "data": {"node": None, "prompt_id": pid}},
            ):
                await sockets[-1].send_str(json.dumps(event))

        assert body["client_id"]
        asyncio.get_running_loop().create_task(play())
        return web.json_response({"prompt_id": pid, "number": 0})

    async def history(request):
        image = {"filename": "../../evil.png", "subfolder": "", "type": "output"}
        return web.json_response({"p1": {"outputs": {"9": {"images": [image]}}}})

    async def view(request):
        return web.Response(body=b"PNGDATA")

    app = web.Application()
    app.add_routes([web.get("/ws", ws), web.post("/prompt", prompt), web.get("/history/{pid}", history),
                    web.get("/view", view)])  # fmt: skip
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def test_protocol_progress_outputs_and_safe_names(tmp_path):
    async def go():
        port = free_port()
        runner = await _stand_in(port, reject=False)
        seen = []
        try:
            url = f"http://127.0.0.1:{port}"
            result = await run_prompt(url, {"1": {}}, on_progress=lambda n, v, m: seen.append((n, v, m)))
            files = await fetch_outputs(url, result, tmp_path / "out")
        finally:
            await runner.cleanup()
        return result, files, seen

    result, files, seen = asyncio.run(go())
    assert seen == [("1", 1, 2), ("1", 2, 2)]
    assert files == [tmp_path / "out" / "evil.png"] and files[0].read_bytes() == b"PNGDATA"
    assert not (tmp_path / "evil.png").exists()
    assert list(result.node_seconds) == ["1"]


def test_rejected_prompt_exits_1_with_server_text(tmp_path, capsys):
    port = free_port()

    async def go():
        runner = await _stand_in(port, reject=True)
        try:
            with pytest.raises(PromptRejected) as info:
                await run_prompt(f"http://127.0.0.1:{port}", {"3": {}})
            return str(info.value)
        finally:
            await runner.cleanup()

    text = asyncio.run(go())
    assert "node 3 (KSampler): Value 0 smaller than min of 1: steps" in text
