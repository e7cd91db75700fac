"""Where a batch's jobs run. A worker is one ComfyUI: `HttpWorker` talks to it from this process; the Ray
workers (`ray_workers`) talk to it from an actor on its node. Both answer the same two calls:

    await worker.load()                        # prompts running + pending in its ComfyUI queue (anyone's)
    await worker.run(job, out_dir, on_progress)  # → written paths; ServerUnavailable when it is gone
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from fluxkit_comfy.http import ProtocolError, open_session, public_url, read_json, with_retries

from .jobs import Job, RunSettings, execute


async def queue_load(url: str, retries: int = 0) -> int:
    """How many prompts ComfyUI at `url` is running or holding (`GET /queue`), from every client."""
    async with open_session(url) as session:
        url = public_url(url)

        async def attempt() -> int:
            async with session.get(f"{url}/queue") as r:
                body = await read_json(r, "GET /queue")
            running, pending = body.get("queue_running"), body.get("queue_pending")
            if not isinstance(running, list) or not isinstance(pending, list):
                raise ProtocolError(f"GET {url}/queue: no queue_running / queue_pending lists")
            return len(running) + len(pending)

        return await with_retries(f"GET {url}/queue", attempt, retries)


class Worker(Protocol):
    """What the dispatcher needs of a place jobs run (`HttpWorker`, `ray_workers.RayWorker`): a name for progress
    lines (no credentials), its ComfyUI queue length (raising `ServerUnavailable` when it is gone) and a job run."""

    name: str

    async def load(self) -> int: ...

    async def run(self, job: Job, out_dir: Path, on_progress=None) -> list[Path]: ...


class HttpWorker:
    """A ComfyUI reached over HTTP from the driving process; outputs stream straight into the batch's folder."""

    def __init__(self, url: str, settings: RunSettings):
        self.url = url.rstrip("/")  # may carry user:password@ (Basic auth); never shown
        self.name = public_url(self.url)
        self.settings = settings

    async def load(self) -> int:
        return await queue_load(self.url)

    async def run(self, job: Job, out_dir: Path, on_progress=None) -> list[Path]:
        return await execute(self.url, job, out_dir, self.settings, on_progress)
