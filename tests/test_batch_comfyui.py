"""A batch over two real ComfyUI servers (thin set, loopback), one of them SIGKILLed mid-batch: with `--server` ×2
and with `--ray` on a local Ray instance. Every item's output exists exactly once and is bit-identical to a
single-server run with the same seeds; a rerun submits nothing."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fluxkit_batch.items import batch_items
from fluxkit_batch.jobs import RunSettings, make_job
from fluxkit_batch.ray_workers import ray_workers, runtime_env, stop_ray_workers
from fluxkit_comfy.server import ComfyServer
from fluxkit_testmodels.thin_inputs import thin_variant
from fluxkit_testmodels.thin_set import PROMPT_FILE, link_into_models
from fluxkit_tools import client
from fluxkit_workflows import paths

pytestmark = pytest.mark.comfyui
ITEMS = 6


@pytest.fixture(scope="module")
def setup(comfyui_path, thin_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    api = thin_variant(
        json.loads((paths.API_DIR / "inpainting_turbo_8step.json").read_text()), PROMPT_FILE, 64
    )
    (root / "wf.json").write_text(json.dumps(api))
    inputs = root / "inputs"
    (inputs / "masks").mkdir(parents=True)
    rng = np.random.default_rng(3)
    for n in range(ITEMS):
        Image.fromarray(rng.integers(0, 255, (72, 88, 3), dtype=np.uint8)).save(inputs / f"p{n}.png")
        mask = Image.new("L", (88, 72), 0)
        ImageDraw.Draw(mask).rectangle([30 + n, 20, 70, 60], fill=255)
        mask.save(inputs / "masks" / f"p{n}.png")
    bases = [root / "a", root / "b"]
    for base in bases:
        link_into_models(base / "models", thin_models)
    servers = [ComfyServer(comfyui_path, base).spawn() for base in bases]  # boot side by side
    for s in servers:
        s.wait_ready()
    yield root, servers, bases
    for s in servers:
        s.stop()


def _history_count(url: str) -> int:
    with urllib.request.urlopen(f"{url}/history", timeout=10) as r:
        return len(json.loads(r.read()))


def _batch(root, out, extra: list[str]) -> int:
    args = ["batch", str(root / "wf.json"), "--inputs", str(root / "inputs"), "--out", str(out)]
    return client.main(args + ["--steps", "2", "--seed", "11", "--wait-for-server", "20", *extra])


def _outputs(out) -> dict[str, bytes]:
    done = client.Manifest(out / "manifest.json").done
    assert all(len(e["files"]) == 1 for e in done.values()), done
    return {k: (out / e["files"][0]).read_bytes() for k, e in done.items()}


def _kill_mid_batch(out, server: ComfyServer, result: dict, run) -> None:
    """`run()` in a thread; SIGKILL `server` once it has finished one item (it holds another by then)."""

    def go():
        try:
            result["code"] = run()
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            result["code"] = repr(e)

    worker = threading.Thread(target=go)
    worker.start()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and worker.is_alive():
        manifest = out / "manifest.json"
        done = client.Manifest(manifest).done if manifest.is_file() else {}
        if any(e.get("server", "").endswith(f":{server.port}") for e in done.values()):
            break
        time.sleep(0.05)
    server.proc.kill()
    result["killed_after"] = len(client.Manifest(out / "manifest.json").done)
    worker.join(600)


def _check_exactly_once(out, reference: dict[str, bytes]) -> None:
    got = _outputs(out)
    assert got.keys() == reference.keys() and len(got) == ITEMS
    assert all(got[k] == reference[k] for k in got), [k for k in got if got[k] != reference[k]]
    files = sorted(
        p for p in out.rglob("*") if p.is_file() and p.name not in ("manifest.json", ".manifest.lock")
    )
    assert len(files) == ITEMS, files  # no extra copy, no partial file


def test_two_servers_one_killed_then_ray(setup, capsys):
    root, (a, b), bases = setup
    assert _batch(root, root / "ref", ["--server", a.url]) == 0
    reference = _outputs(root / "ref")
    assert len(reference) == ITEMS and len(set(reference.values())) == ITEMS  # six different pictures

    result: dict = {}
    _kill_mid_batch(
        root / "two", b, result, lambda: _batch(root, root / "two", ["--server", a.url, "--server", b.url])
    )
    assert result["code"] == 0 and 1 <= result["killed_after"] < ITEMS
    _check_exactly_once(root / "two", reference)
    servers_used = {e["server"] for e in client.Manifest(root / "two" / "manifest.json").done.values()}
    assert servers_used == {a.url, b.url}
    assert "went away; the item goes to another server" in capsys.readouterr().err

    before = _history_count(a.url)
    assert _batch(root, root / "two", ["--server", a.url, "--server", b.url]) == 0
    assert _history_count(a.url) == before  # the rerun submitted nothing
    assert "batch: 0 to run, 6 already finished" in capsys.readouterr().err

    ray = pytest.importorskip("ray", reason="ray is in requirements-test.txt")
    b2 = ComfyServer(b.comfyui, bases[1]).start()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=runtime_env())
    try:
        result = {}
        run = lambda: _batch(root, root / "ray", ["--ray", "--server", a.url, "--server", b2.url])  # noqa: E731
        _kill_mid_batch(root / "ray", b2, result, run)
        assert result["code"] == 0 and 1 <= result["killed_after"] < ITEMS
        _check_exactly_once(root / "ray", reference)
        before = _history_count(a.url)
        assert _batch(root, root / "ray", ["--ray", "--server", a.url]) == 0
        assert _history_count(a.url) == before
        assert "batch: 0 to run, 6 already finished" in capsys.readouterr().err

        # a worker whose actor starts ComfyUI itself (from a path, on the CPU) runs an item
        (started,) = ray_workers(
            None, [], str(b.comfyui), 1, 0, [f"--base-directory={bases[1]}"], RunSettings()
        )
        try:
            assert asyncio.run(started.load()) == 0
            (item,) = [i for i in batch_items(root / "inputs") if i.key == "p0.png"]
            job = make_job(json.loads((root / "wf.json").read_text()), item, {"steps": 2, "seed": 11})
            (file,) = asyncio.run(started.run(job, root / "started"))
            # Ray gives a 1-CPU actor OMP_NUM_THREADS=1 (its ComfyUI inherits it), so float sums run in another
            # order than in the 2-thread servers: equal up to rounding, not bit for bit
            got = np.asarray(Image.open(file), dtype=np.int16)
            want = np.asarray(Image.open(io.BytesIO(reference["p0.png"])), dtype=np.int16)
            assert got.shape == want.shape and np.abs(got - want).max() <= 2
            assert (
                Image.open(file).text["prompt"] == Image.open(io.BytesIO(reference["p0.png"])).text["prompt"]
            )
        finally:
            stop_ray_workers([started])
    finally:
        ray.shutdown()
        b2.stop()
