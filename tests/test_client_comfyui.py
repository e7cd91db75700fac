"""The headless client against a real ComfyUI server: upload image + mask (polarity end to end), overrides, a
rejected prompt's text and exit code, and a batch whose server is killed and restarted mid-way with nothing lost."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import numpy as np
import pytest
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

    def first_run():  # a short wait: the server does not come back within this run
        unfinished["first"] = asyncio.run(
            client.run_batch([HttpWorker(server.url, RunSettings())], api, inputs, out, common, 1, wait_s=3)
        )

    worker = threading.Thread(target=first_run)
    worker.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not client.Manifest(out / "manifest.json").done:
        time.sleep(0.1)
    server.proc.kill()  # killed mid-batch (SIGKILL: a SIGTERMed ComfyUI may still finish what it holds)
    server.stop()
    worker.join(timeout=120)
    done_before = set(client.Manifest(out / "manifest.json").done)
    assert 1 <= len(done_before) < 4 and unfinished["first"] == 4 - len(done_before)
    kept = {f: (out / f).stat().st_mtime_ns for k in done_before for f in manifest_files(out, k)}

    with ComfyServer(comfyui, base) as restarted:
        worker = HttpWorker(restarted.url, RunSettings())
        assert asyncio.run(client.run_batch([worker], api, inputs, out, common, 2)) == 0
    manifest = client.Manifest(out / "manifest.json")
    assert sorted(manifest.done) == [f"img{n}.png" for n in range(4)]
    assert all(manifest.finished(k) for k in manifest.done)
    assert {f: (out / f).stat().st_mtime_ns for f in kept} == kept  # finished items were not redone


def manifest_files(out, key) -> list[str]:
    return client.Manifest(out / "manifest.json").done[key]["files"]
