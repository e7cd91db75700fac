"""The headless client against a real ComfyUI server: upload image + mask (polarity end to end), overrides, a
rejected prompt's text and exit code, and a batch whose server is killed and restarted mid-way with nothing lost."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import urllib.request

import aiohttp
import numpy as np
import pytest
from conftest import PROXY_TOKEN
from PIL import Image, ImageDraw, ImageFilter

from fluxkit_batch.jobs import RunSettings
from fluxkit_batch.workers import HttpWorker
from fluxkit_comfy.server import ComfyServer
from fluxkit_testmodels.thin_inputs import thin_variant
from fluxkit_testmodels.thin_set import PROMPT_FILE, link_into_models
from fluxkit_tools import client
from fluxkit_workflows import paths

pytestmark = pytest.mark.comfyui


@pytest.fixture(scope="module")
def thin_workflow(tmp_path_factory) -> str:
    api = thin_variant(
        json.loads((paths.API_DIR / "inpainting_turbo_8step.json").read_text()), PROMPT_FILE, 64
    )
    path = tmp_path_factory.mktemp("wf") / "thin_inpaint.json"
    path.write_text(json.dumps(api))
    return str(path)


def _picture_and_mask(folder, name="photo.png", size=(96, 80)):
    w, h = size
    rgb = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(folder / name)
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle([w // 2, h // 4, w - 10, h - 10], fill=255)  # white = repaint
    (folder / "masks").mkdir(exist_ok=True)
    mask.save(folder / "masks" / name)
    return rgb, np.asarray(mask) > 0


def test_run_uploads_image_and_mask_and_keeps_unmasked_pixels(comfy_server, thin_workflow, tmp_path):
    rgb, hole = _picture_and_mask(tmp_path)
    code = client.main([
        "run", thin_workflow, "--server", comfy_server.url, "--image", str(tmp_path / "photo.png"),
        "--mask", str(tmp_path / "masks" / "photo.png"), "--steps", "2", "--seed", "5", "--out", str(tmp_path / "out"),
    ])  # fmt: skip
    assert code == 0
    (out,) = (tmp_path / "out").rglob("*.png")  # under the SaveImage prefix's subfolder, as on the server
    result = np.asarray(Image.open(out).convert("RGB"))
    assert result.shape == rgb.shape
    far = ~(np.asarray(Image.fromarray(hole.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(53))) > 0)
    assert np.array_equal(result[far], rgb[far])  # outside hole + grow 8 + feather 16 (+ margin)
    assert np.abs(result[hole].astype(int) - rgb[hole].astype(int)).mean() > 5  # the hole was repainted


def test_rejected_prompt_exits_1_with_comfyui_text(comfy_server, thin_workflow, tmp_path, capsys):
    code = client.main(
        ["run", thin_workflow, "--server", comfy_server.url, "--steps", "0", "--out", str(tmp_path)]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "FluxKitTurboScheduler" in err and "steps" in err and "smaller than min" in err


def test_batch_survives_server_kill_and_restart(comfyui_path, thin_models, thin_workflow, tmp_path):
    comfyui = comfyui_path
    base = tmp_path / "base"
    link_into_models(base / "models", thin_models)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for n in range(4):
        _picture_and_mask(inputs, f"img{n}.png")
    out = tmp_path / "out"
    api = client.load_workflow(thin_workflow)
    common = {"steps": 2, "seed": 1}

    server = ComfyServer(comfyui, base).start()
    unfinished = {}
    # The server dies the moment the first item is reported done (SIGKILL: a SIGTERMed ComfyUI may still finish what
    # it holds). The batch reports from its own thread, so with one item in flight nothing else can have been queued.
    kill_on_first_done = KillOnFirstDone(server.proc)

    def first_run():  # a short wait: the server does not come back within this run
        worker = HttpWorker(server.url, RunSettings())
        unfinished["first"] = asyncio.run(
            client.run_batch([worker], api, inputs, out, common, 1, wait_s=3, stream=kill_on_first_done)
        )

    worker = threading.Thread(target=first_run)
    worker.start()
    worker.join(timeout=600)
    server.stop()
    assert not worker.is_alive() and kill_on_first_done.killed, kill_on_first_done.getvalue()
    done_before = set(client.Manifest(out / "manifest.json").done)
    assert len(done_before) == 1 and unfinished["first"] == 3, kill_on_first_done.getvalue()
    kept = {f: (out / f).stat().st_mtime_ns for k in done_before for f in manifest_files(out, k)}

    with ComfyServer(comfyui, base) as restarted:
        worker = HttpWorker(restarted.url, RunSettings())
        assert asyncio.run(client.run_batch([worker], api, inputs, out, common, 2)) == 0
    manifest = client.Manifest(out / "manifest.json")
    assert sorted(manifest.done) == [f"img{n}.png" for n in range(4)]
    assert all(manifest.finished(k) for k in manifest.done)
    assert {f: (out / f).stat().st_mtime_ns for f in kept} == kept  # finished items were not redone


class KillOnFirstDone(io.StringIO):
    """A progress stream that SIGKILLs `proc` when the first "done" line is written (and keeps every line)."""

    def __init__(self, proc):
        super().__init__()
        self.proc, self.killed = proc, False

    def write(self, text: str) -> int:
        if ": done on " in text and not self.killed:
            self.proc.kill()
            self.proc.wait(timeout=60)
            self.killed = True
        return super().write(text)


def manifest_files(out, key) -> list[str]:
    return client.Manifest(out / "manifest.json").done[key]["files"]


def test_run_through_the_token_proxy_with_basic_auth(
    proxy_url, comfy_server, thin_workflow, tmp_path, capsys
):
    """A script that knows only `https://user:TOKEN@host` (HTTP Basic, the token as password): upload, /prompt, the
    /ws progress channel and /view all pass the proxy; the image is right; the token reaches neither ComfyUI nor
    the client's output; wrong or empty passwords are 401 and queue nothing."""
    rgb, hole = _picture_and_mask(tmp_path)
    host = proxy_url.removeprefix("http://")
    mark = comfy_server.log_mark()
    code = client.main([
        "run", thin_workflow, "--server", f"http://fluxkit:{PROXY_TOKEN}@{host}", "--image", str(tmp_path / "photo.png"),
        "--mask", str(tmp_path / "masks" / "photo.png"), "--steps", "2", "--seed", "5", "--out", str(tmp_path / "out"),
    ])  # fmt: skip
    said = capsys.readouterr()
    assert code == 0, said.err
    (out,) = (tmp_path / "out").rglob("*.png")
    result = np.asarray(Image.open(out).convert("RGB"))
    far = ~(np.asarray(Image.fromarray(hole.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(53))) > 0)
    assert (
        np.array_equal(result[far], rgb[far])
        and np.abs(result[hole].astype(int) - rgb[hole].astype(int)).mean() > 5
    )
    assert PROXY_TOKEN not in said.out + said.err
    with urllib.request.urlopen(f"{comfy_server.url}/history", timeout=30) as r:
        history = r.read().decode()
    assert PROXY_TOKEN not in history and PROXY_TOKEN not in comfy_server.log_text(since=mark)

    async def refused() -> None:
        async with aiohttp.ClientSession() as s:
            for password in ("wrong", "", PROXY_TOKEN[:-1]):
                auth = {"Authorization": "Basic " + base64.b64encode(f"fluxkit:{password}".encode()).decode()}
                r = await s.post(f"{proxy_url}/prompt", json={"prompt": json.loads(open(thin_workflow).read())},
                                 headers=auth)  # fmt: skip
                assert r.status == 401, password
                with pytest.raises(aiohttp.WSServerHandshakeError) as ws:
                    await s.ws_connect(f"{proxy_url}/ws?clientId=x", headers=auth)
                assert ws.value.status == 401

    queued = len(json.loads(history))
    asyncio.run(refused())
    with urllib.request.urlopen(f"{comfy_server.url}/queue", timeout=30) as r:
        queue = json.load(r)
    assert queue["queue_running"] == [] and queue["queue_pending"] == []
    with urllib.request.urlopen(f"{comfy_server.url}/history", timeout=30) as r:
        assert len(json.load(r)) == queued  # nothing refused reached ComfyUI


def test_cross_site_requests_with_valid_credentials_are_refused_and_queue_nothing(proxy_url, comfy_server):
    """A browser that once answered the Basic challenge sends those credentials with other sites' requests too: a
    form POST to /prompt and a /ws handshake from another page get 403 at the proxy (ComfyUI's queue and history
    prove nothing arrived); the same request from the proxy's own origin reaches ComfyUI."""
    auth = {"Authorization": "Basic " + base64.b64encode(f"fluxkit:{PROXY_TOKEN}".encode()).decode()}
    bad_prompt = {"prompt": {"1": {"class_type": "NoSuchNode", "inputs": {}}}}
    with urllib.request.urlopen(f"{comfy_server.url}/history", timeout=30) as r:
        queued = len(json.load(r))

    async def probe() -> list[int]:
        statuses = []
        async with aiohttp.ClientSession() as s:
            for extra in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"},
                          {"Origin": "https://other.trycloudflare.com", "Sec-Fetch-Site": "same-site"}):  # fmt: skip
                r = await s.post(f"{proxy_url}/prompt", json=bad_prompt, headers={**auth, **extra})
                statuses.append(r.status)
                with pytest.raises(aiohttp.WSServerHandshakeError) as ws:
                    await s.ws_connect(f"{proxy_url}/ws?clientId=x", headers={**auth, **extra})
                statuses.append(ws.value.status)
            own = await s.post(f"{proxy_url}/prompt", json=bad_prompt, headers={**auth, "Origin": proxy_url})
            statuses.append(own.status)  # through: ComfyUI's own validation answers (400, an unknown node)
        return statuses

    assert asyncio.run(probe()) == [403] * 8 + [400]
    with urllib.request.urlopen(f"{comfy_server.url}/queue", timeout=30) as r:
        queue = json.load(r)
    assert queue["queue_running"] == [] and queue["queue_pending"] == []
    with urllib.request.urlopen(f"{comfy_server.url}/history", timeout=30) as r:
        assert len(json.load(r)) == queued
