"""A batch on a Ray cluster: one Ray actor per ComfyUI worker. Ray places the actors, restarts one whose process or
node dies (`max_restarts`) and retries the job it held (`max_task_retries`); FluxKit's dispatcher moves an item off
a worker whose ComfyUI stopped answering. Outputs travel back to the driver as bytes, and only the driver writes
files and the manifest.

Each actor either attaches to a ComfyUI URL (`--server` with `--ray`) or starts ComfyUI on its node
(`--ray-comfyui PATH`, FluxKit installed in that ComfyUI's custom_nodes): one per GPU (`num_gpus=1`, Ray sets
CUDA_VISIBLE_DEVICES), or `--ray-workers N` CPU ComfyUIs with `--ray-gpus 0`. Ray is imported only here, only
with `--ray`; the FluxKit packages the actors need are shipped with them (`runtime_env` py_modules).
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

from fluxkit_comfy.http import AtomicFile, ServerUnavailable, public_url, with_credentials

from .jobs import Job, RunSettings, execute
from .workers import queue_load


class ComfyActor:
    """Lives on a Ray node next to one ComfyUI: attaches to `url`, or starts ComfyUI from `comfyui` there."""

    def __init__(self, url: str | None, comfyui: str | None, comfyui_args: list[str], cpu: bool, settings):
        self.settings = settings
        self.server = None
        if url is None:
            from fluxkit_comfy.server import ComfyServer

            log = Path(tempfile.mkdtemp(prefix="fluxkit-comfyui-")) / "comfyui.log"
            self.server = ComfyServer(Path(comfyui), None, comfyui_args, timeout_s=600, cpu=cpu, log_path=log)
            url = self.server.start().url
        self.url = url
        self.name = public_url(url) if self.server is None else f"{socket.gethostname()}:{self.server.port}"

    def describe(self) -> str:
        return self.name

    async def load(self) -> int:
        return await queue_load(self.url)

    async def run(self, job: Job) -> list[tuple[str, bytes]]:
        tmp = Path(tempfile.mkdtemp(prefix="fluxkit-job-"))
        try:
            files = await execute(self.url, job, tmp, self.settings)
            return [(p.relative_to(tmp).as_posix(), p.read_bytes()) for p in files]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


class RayWorker:
    """The driver's side of one ComfyActor: the dispatcher's worker interface over Ray calls."""

    def __init__(self, handle, name: str):
        self.handle = handle
        self.name = name

    async def _call(self, ref):
        import ray.exceptions as rex

        try:
            return await ref
        except (rex.RayActorError, rex.ActorUnavailableError) as e:
            raise ServerUnavailable(f"Ray worker {self.name} is gone: {type(e).__name__}") from e
        except rex.RayTaskError as e:
            raise (e.cause if isinstance(e.cause, Exception) else e) from None

    async def load(self) -> int:
        return await self._call(self.handle.load.remote())

    async def run(self, job: Job, out_dir: Path, on_progress=None) -> list[Path]:
        written = []
        for rel, data in await self._call(self.handle.run.remote(job)):
            path = out_dir / rel
            if ".." in Path(rel).parts or Path(rel).is_absolute():
                raise ServerUnavailable(f"Ray worker {self.name} returned a bad path {rel!r}")
            with AtomicFile(path) as f:
                f.write(data)
            written.append(path)
        return written


def runtime_env() -> dict:
    """The job-level runtime_env that ships the FluxKit packages an actor imports to every node (pass it to
    `ray.init` when starting Ray yourself before `ray_workers`)."""
    import fluxkit_batch
    import fluxkit_catalog
    import fluxkit_cli
    import fluxkit_comfy
    import fluxkit_workflows

    packages = (
        fluxkit_batch,
        fluxkit_catalog,
        fluxkit_cli,
        fluxkit_comfy,
        fluxkit_workflows,
    )  # fluxkit_batch and all it imports
    return {"py_modules": [str(Path(p.__file__).parent) for p in packages]}


def ray_workers(
    address: str | None,
    urls: list[str],
    comfyui: str | None,
    workers: int | None,
    gpus: float,
    comfyui_args: list[str],
    settings: RunSettings,
) -> list[RayWorker]:
    """Connect to Ray (`address`; an instance this process already started is used as it is, see `runtime_env`)
    and create the actors."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, runtime_env=runtime_env(), log_to_driver=False)
    actor = ray.remote(ComfyActor)
    attach = actor.options(num_cpus=0, max_restarts=2, max_task_retries=1)
    # the URL with its credentials goes through the object store: an actor's arguments show in Ray's dashboard and
    # logs, an ObjectRef's value does not (Ray resolves it before the actor's __init__)
    handles = [
        (attach.remote(ray.put(with_credentials(url)), None, [], True, settings), public_url(url))
        for url in urls
    ]
    if comfyui is not None:
        if workers is None:
            workers = int(ray.cluster_resources().get("GPU", 0) // max(gpus, 1e-9)) if gpus else 0
        if workers < 1:
            raise ValueError(
                "--ray-comfyui: the Ray cluster has no GPU for a worker (give --ray-workers N --ray-gpus 0 for CPU)"
            )
        start = actor.options(
            num_gpus=gpus,
            num_cpus=0 if gpus else 1,
            max_restarts=2,
            max_task_retries=1,
        )
        handles += [
            (start.remote(None, comfyui, comfyui_args, not gpus, settings), None) for _ in range(workers)
        ]
    names = ray.get([h.describe.remote() for h, _ in handles])
    return [RayWorker(h, name) for (h, _), name in zip(handles, names)]


def stop_ray_workers(workers: list[RayWorker]) -> None:
    """Stop the ComfyUIs the actors started (attached ones are left running) and end the actors."""
    import ray

    for w in workers:
        try:
            ray.get(w.handle.stop.remote(), timeout=60)
        except Exception:  # noqa: BLE001 - a dead actor has nothing left to stop
            pass
        ray.kill(w.handle)
