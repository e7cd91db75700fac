"""A whole batch: items → unfinished ones → dispatched over the workers → manifest, with one progress display.

An item is recorded in `OUT/manifest.json` only after its worker reported success and every output file is on
disk under `OUT/<key>/` (each written to a temporary name and renamed). A rerun submits only the items that are not
finished; parts of files a killed run left are deleted first.
"""

from __future__ import annotations

import time
from pathlib import Path

from fluxkit_comfy.http import clean_partials

from .dispatch import dispatch
from .items import BatchInputError, Item, batch_items
from .jobs import make_job
from .manifest import Manifest
from .progress import BatchProgress


async def run_batch(
    workers: list,
    api: dict,
    inputs: Path,
    out_dir: Path,
    common: dict,
    slots: int = 2,
    wait_s: float = 30,
    probe_s: float = 2,
    stream=None,
) -> int:
    """Run every unfinished item of `inputs` with `api` (+ `common` overrides) on `workers`; returns how many are
    still unfinished (0 = all done)."""
    if slots < 1 or not workers:
        raise BatchInputError(
            f"a batch needs at least one server and one item in flight per server (got {slots})"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out_dir / "manifest.json")
    manifest.lock()
    try:
        items = batch_items(inputs)
        manifest.adopt_legacy(items)
        clean_partials(out_dir)
        todo = [i for i in items if not manifest.finished(i.key, i.digest)]
        progress = BatchProgress(len(todo), [w.name for w in workers], stream)
        progress.line(
            f"batch: {len(todo)} to run, {len(items) - len(todo)} already finished, on {len(workers)} server(s)"
        )

        async def run(item: Item, worker) -> None:
            job = make_job(api, item, common)
            t0 = time.monotonic()
            files = await worker.run(
                job, out_dir / item.key, lambda node, v, m: progress.step(item.key, v, m)
            )
            seconds = round(time.monotonic() - t0, 2)
            manifest.record(
                item.key, files, source=item.source, server=worker.name, seconds=seconds, digest=item.digest
            )

        failed = await dispatch(workers, todo, run, progress, slots, wait_s, probe_s)
        progress.close()
        if failed:
            progress.line(
                f"batch: {len(failed)} unfinished ({', '.join(sorted(failed)[:10])}"
                f"{', …' if len(failed) > 10 else ''}); rerun the same command to resume"
            )
        return len(failed)
    finally:
        manifest.unlock()
