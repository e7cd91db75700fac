"""Pieces of the batch machinery on their own: output names, the progress line, the dispatcher's rules with
in-process workers (least busy, moves, giving up when no server answers)."""

from __future__ import annotations

import asyncio
import io

import pytest

from fluxkit_batch.dispatch import dispatch
from fluxkit_batch.items import Item
from fluxkit_batch.progress import BatchProgress
from fluxkit_comfy.http import ServerUnavailable
from fluxkit_comfy.output_names import MAX_COMPONENT, output_paths, safe_subfolder


def test_output_paths_keep_subfolders_and_stay_unique():
    images = [
        {"filename": "ComfyUI_00001_.png", "subfolder": "a"},
        {"filename": "ComfyUI_00001_.png", "subfolder": "b"},
        {"filename": "ComfyUI_00001_.png", "subfolder": "a"},  # listed twice: one file
        {"filename": "x y.png", "subfolder": ""},
        {"filename": "x_y.png", "subfolder": ""},
        {"filename": "X_Y.png", "subfolder": ""},
    ]
    rels = [str(r) for _, r in output_paths(images)]
    assert rels == ["a/ComfyUI_00001_.png", "b/ComfyUI_00001_.png", "x_y.png", "x_y-2.png", "X_Y-3.png"]


def test_long_names_are_capped_and_stay_distinct():
    names = ["n" * 300 + "1.png", "n" * 300 + "2.png"]
    rels = [r for _, r in output_paths([{"filename": n, "subfolder": "s" * 400} for n in names])]
    assert all(len(part) <= MAX_COMPONENT for r in rels for part in r.parts)
    assert rels[0] != rels[1] and all(r.suffix == ".png" for r in rels)


@pytest.mark.parametrize(
    "sub, parts", [("../../etc", ("etc",)), ("a\\\\..\\\\b", ("a", "b")), ("/abs/x", ("abs", "x")), ("", ())]
)
def test_subfolders_cannot_leave_the_output_folder(sub, parts):
    assert safe_subfolder(sub).parts == parts


def test_progress_line_counts_servers_steps_and_eta():
    now = [100.0]
    p = BatchProgress(4, ["http://h1:8188", "http://h2:8188"], io.StringIO(), clock=lambda: now[0])
    p.start("a", "http://h1:8188")
    p.start("b", "http://h2:8188")
    p.step("a", 3, 8)
    now[0] = 130.0
    p.end("b", "http://h2:8188", None)
    p.worker_down("http://h2:8188", "refused")
    p.worker_down("http://h2:8188", "refused")  # said once
    assert p.status() == "batch 1/4 done · h1:8188 1 (a 3/8) · h2:8188 down · ETA 1m30s"
    log = p.stream.getvalue()
    assert "b: done on h2:8188 (1/4)" in log and log.count("not answering") == 1


class Worker:
    """An in-process worker: `load` is its queue length; `dead` makes every call a lost server."""

    def __init__(self, name, load=0, dead=False):
        self.name, self._load, self.dead, self.ran = name, load, dead, []

    async def load(self):
        if self.dead:
            raise ServerUnavailable(f"{self.name} refused")
        return self._load


def _run(workers, n=4, **kw):
    items = [Item(f"k{i}", {}, f"k{i}") for i in range(n)]

    async def run(item, worker):
        if worker.dead:
            raise ServerUnavailable("gone")
        await asyncio.sleep(0.01)
        worker.ran.append(item.key)

    progress = BatchProgress(n, [w.name for w in workers], io.StringIO())
    return asyncio.run(dispatch(workers, items, run, progress, **kw)), progress


def test_dispatch_prefers_the_shorter_queue():
    busy, idle = Worker("busy", load=3), Worker("idle")
    failed, _ = _run([busy, idle], slots=1)
    assert failed == [] and busy.ran == [] and idle.ran == ["k0", "k1", "k2", "k3"]


def test_dispatch_gives_up_when_no_server_answers():
    failed, progress = _run([Worker("a", dead=True), Worker("b", dead=True)], wait_s=0.3, probe_s=0.05)
    assert failed == ["k0", "k1", "k2", "k3"]
    assert "no server answered for 0 s" in progress.stream.getvalue()


def test_dispatch_moves_an_item_a_bounded_number_of_times():
    flaky = Worker("flaky")

    async def run(item, worker):
        raise ServerUnavailable("dropped")  # answers /queue, drops every prompt

    items = [Item("k0", {}, "k0")]
    progress = BatchProgress(1, ["flaky"], io.StringIO())
    failed = asyncio.run(dispatch([flaky], items, run, progress, probe_s=0.01, max_moves=2))
    assert failed == ["k0"] and progress.stream.getvalue().count("went away") == 2
    assert "moved 2×, giving up" in progress.stream.getvalue()


def test_a_batch_without_a_slot_is_refused_not_hung(tmp_path):
    from fluxkit_batch.run import run_batch

    with pytest.raises(ValueError, match="at least one server and one item in flight"):
        asyncio.run(run_batch([Worker("a")], {}, tmp_path, tmp_path / "out", {}, slots=0))
