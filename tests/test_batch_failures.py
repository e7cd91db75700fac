"""Batches against stand-in ComfyUIs (tests/comfy_standin.py), one failure each: nothing is recorded as done that is
not on disk, one bad answer fails only its item, transient errors are retried, outputs never overwrite each other,
bodies stream, the manifest survives kill -9, and several servers share a batch (least busy first, a dead one's
items moved)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from comfy_standin import StandIn
from PIL import Image

from fluxkit_batch.jobs import RunSettings
from fluxkit_batch.manifest import Manifest, ManifestError
from fluxkit_batch.run import run_batch
from fluxkit_batch.workers import HttpWorker
from fluxkit_comfy.server import free_port
from fluxkit_tools import client

API = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
    "3": {"class_type": "KSampler", "inputs": {"seed": 0, "steps": 2}},
    "9": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "ComfyUI"}},
}
FAST = RunSettings(timeout_s=20, retries=2)


def _png(path, value=0):
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (value, 0, 0)).save(buf, format="PNG")
    path.write_bytes(buf.getvalue())


@pytest.fixture()
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(3):
        _png(folder / f"img{n}.png", n)
    return folder


def _batch(servers, inputs, out, **kw) -> int:
    workers = [HttpWorker(s.url if hasattr(s, "url") else s, FAST) for s in servers]
    kw.setdefault("wait_s", 3)
    kw.setdefault("probe_s", 0.2)
    return asyncio.run(run_batch(workers, API, inputs, out, {}, stream=io.StringIO(), **kw))


def _done(out) -> dict:
    return Manifest(out / "manifest.json").done


def test_interrupted_prompt_is_a_failure_and_a_rerun_makes_it(inputs, tmp_path):
    server = StandIn("interrupted").serve_in_thread()
    try:
        assert _batch([server], inputs, tmp_path / "out") == 3
        assert _done(tmp_path / "out") == {}  # before: {"img0": {"files": []}, …} and a rerun skipped them
        server.mode = "ok"
        assert _batch([server], inputs, tmp_path / "out") == 0
    finally:
        server.close()
    done = _done(tmp_path / "out")
    assert sorted(done) == ["img0.png", "img1.png", "img2.png"]
    assert all(len(e["files"]) == 1 and (tmp_path / "out" / e["files"][0]).is_file() for e in done.values())


def test_websocket_closed_mid_prompt_is_not_done(inputs, tmp_path):
    server = StandIn("ws_close").serve_in_thread()
    try:
        assert _batch([server], inputs, tmp_path / "out") == 3
    finally:
        server.close()
    assert _done(tmp_path / "out") == {}
    assert not list((tmp_path / "out").rglob("*.png"))


@pytest.mark.parametrize("mode", ["prompt_html_502", "prompt_503"])
def test_transient_answers_from_prompt_are_retried(inputs, tmp_path, mode):
    server = StandIn(mode, fail_times=2).serve_in_thread()  # 2 failures < 1 + 2 retries
    try:
        assert _batch([server], inputs, tmp_path / "out", slots=1) == 0
    finally:
        server.close()
    assert len(_done(tmp_path / "out")) == 3 and len(server.prompts) == 3


def test_persistent_html_502_fails_items_without_a_traceback(inputs, tmp_path, capsys):
    (tmp_path / "wf.json").write_text(json.dumps(API))
    server = StandIn("prompt_html_502", fail_times=10_000).serve_in_thread()
    try:
        code = client.main(["batch", str(tmp_path / "wf.json"), "--server", server.url, "--inputs", str(inputs),
                            "--out", str(tmp_path / "out"), "--retries", "1", "--wait-for-server", "1"])  # fmt: skip
    finally:
        server.close()
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert err.count("FAILED") == 3 and "HTTP 502 'text/html" not in err and "Bad gateway" in err
    assert _done(tmp_path / "out") == {} and server.prompts == []


@pytest.mark.parametrize("mode", ["history_html", "history_list"])
def test_malformed_history_fails_only_that_item(inputs, tmp_path, mode):
    server = StandIn(mode, bad_prompts={"p1"}).serve_in_thread()
    try:
        assert _batch([server], inputs, tmp_path / "out", slots=1) == 1
    finally:
        server.close()
    assert len(_done(tmp_path / "out")) == 2  # before: the first item's error ended the whole batch


def test_success_without_outputs_is_a_failure(inputs, tmp_path):
    server = StandIn("no_outputs").serve_in_thread()
    try:
        assert _batch([server], inputs, tmp_path / "out") == 3
    finally:
        server.close()
    assert _done(tmp_path / "out") == {}


def test_outputs_of_one_prompt_never_overwrite_each_other(inputs, tmp_path):
    long_a, long_b = "x" * 300 + "a.png", "x" * 300 + "b.png"
    images = [{"filename": "ComfyUI_00001_.png", "subfolder": s} for s in ("a", "b", "../..")]
    images += [{"filename": n, "subfolder": ""} for n in (long_a, long_b)]
    server = StandIn(images=images).serve_in_thread()
    try:
        assert _batch([server], inputs, tmp_path / "out") == 0
    finally:
        server.close()
    files = _done(tmp_path / "out")["img0.png"]["files"]
    assert files[:3] == [
        "img0.png/a/ComfyUI_00001_.png",
        "img0.png/b/ComfyUI_00001_.png",
        "img0.png/ComfyUI_00001_.png",
    ]
    assert len(set(files)) == 5 and all(len(os.path.basename(f)) <= 120 for f in files)
    bodies = {(tmp_path / "out" / f).read_bytes() for f in files}
    assert b"PNG:a/ComfyUI_00001_.png" in bodies and len(bodies) == 5  # each file holds its own body
    assert not list(tmp_path.glob("*.png"))  # nothing escaped the output folder


def test_same_stem_inputs_are_two_items_and_uploads_never_collide(tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    _png(folder / "a.png", 1)
    _png(folder / "a.jpg", 2)
    server = StandIn().serve_in_thread()
    try:
        assert _batch([server], folder, tmp_path / "out") == 0
    finally:
        server.close()
    assert sorted(_done(tmp_path / "out")) == ["a.jpg", "a.png"]
    assert len(set(server.uploads)) == 2  # content-addressed upload names
    assert {p["1"]["inputs"]["image"] for p in server.prompts} == set(server.uploads)


def test_a_256_mib_output_streams_to_disk(tmp_path):
    size = 256 << 20
    server = StandIn(view_bytes=lambda p: (bytes(1 << 20) for _ in range(256))).serve_in_thread()
    code = (
        "import re, sys\n"
        "from fluxkit_tools import client\n"
        f"rc = client.main(['run', {json.dumps(str(tmp_path / 'wf.json'))}, '--server', {server.url!r}, '--out', {str(tmp_path / 'out')!r}])\n"
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
        "print('PEAK', int(hwm) // 1024)\n"
        "sys.exit(rc)\n"
    )  # fmt: skip
    (tmp_path / "wf.json").write_text(json.dumps({k: v for k, v in API.items() if k != "1"}))
    try:
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    finally:
        server.close()
    assert run.returncode == 0, run.stderr
    peak_mib = int(run.stdout.split("PEAK")[1])
    assert (tmp_path / "out" / "ComfyUI_00001_.png").stat().st_size == size
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forked pytest process
    assert peak_mib < 200, peak_mib  # before: 547 MiB (the body held whole, then copied)


def test_manifest_stays_valid_after_kill_9_mid_write(tmp_path):
    writer = (
        "import sys\nfrom pathlib import Path\nfrom fluxkit_batch.manifest import Manifest\n"
        "out = Path(sys.argv[1]); m = Manifest(out / 'manifest.json')\n"
        "(out / 'f').write_bytes(b'x')\n"
        "for n in range(1_000_000):\n    m.record(f'item{n:07d}-' + 'k' * 200, [out / 'f'], seconds=n)\n"
    )
    sizes = []
    for n, delay in enumerate((0.3, 0.45, 0.6, 0.8, 1.0)):
        out = tmp_path / f"o{n}"
        out.mkdir()
        proc = subprocess.Popen([sys.executable, "-c", writer, str(out)])
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        done = Manifest(out / "manifest.json").done  # raises on a torn file
        assert done and all(e["files"] == ["f"] for e in done.values())
        sizes.append(len(done))
    assert max(sizes) > 10  # the writer was killed mid-run, many writes in


def test_a_second_batch_on_the_same_folder_is_refused(tmp_path):
    first = Manifest(tmp_path / "manifest.json")
    first.lock()
    try:
        with pytest.raises(ManifestError, match="another batch is writing"):
            Manifest(tmp_path / "manifest.json").lock()
    finally:
        first.unlock()
    Manifest(tmp_path / "manifest.json").lock()  # free again


def test_a_changed_csv_row_runs_again(tmp_path):
    _png(tmp_path / "a.png")
    (tmp_path / "jobs.csv").write_text("image,seed\na.png,1\na.png,2\n")
    server = StandIn().serve_in_thread()
    try:
        assert _batch([server], tmp_path / "jobs.csv", tmp_path / "out") == 0
        assert _batch([server], tmp_path / "jobs.csv", tmp_path / "out") == 0
        assert len(server.prompts) == 2  # the rerun submitted nothing
        (tmp_path / "jobs.csv").write_text("image,seed\na.png,1\na.png,3\n")
        assert _batch([server], tmp_path / "jobs.csv", tmp_path / "out") == 0
    finally:
        server.close()
    assert [p["3"]["inputs"]["seed"] for p in server.prompts] == [1, 2, 3]


def test_least_busy_server_first_and_a_dead_one_is_left(inputs, tmp_path):
    busy, idle = StandIn(load=5).serve_in_thread(), StandIn().serve_in_thread()
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    try:
        assert _batch([busy, nobody, idle], inputs, tmp_path / "out", slots=3) == 0
    finally:
        busy.close()
        idle.close()
    assert len(idle.prompts) == 3 and busy.prompts == []
    assert {e["server"] for e in _done(tmp_path / "out").values()} == {idle.url}


def test_a_server_that_dies_mid_prompt_hands_its_items_over(inputs, tmp_path):
    dying, healthy = StandIn("ws_close").serve_in_thread(), StandIn(load=1).serve_in_thread()
    try:  # the dying server looks idler, so it gets items first; each comes back and moves
        assert _batch([dying, healthy], inputs, tmp_path / "out", slots=1) == 0
    finally:
        dying.close()
        healthy.close()
    done = _done(tmp_path / "out")
    assert sorted(done) == ["img0.png", "img1.png", "img2.png"]
    assert {e["server"] for e in done.values()} == {healthy.url} and len(healthy.prompts) == 3
    assert len(dying.prompts) >= 1
