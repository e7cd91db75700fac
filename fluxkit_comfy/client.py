"""A small client for ComfyUI's HTTP + websocket API: queue an API-format prompt, follow it to the end, time every
node, fetch the output images. Uses `aiohttp`, which ComfyUI itself depends on.

    result = asyncio.run(run_prompt("http://127.0.0.1:8188", api_prompt))
    result.node_seconds  # {node_id: seconds}, in execution order
    await fetch_outputs(url, result, out_dir)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class PromptRejected(RuntimeError):
    """ComfyUI refused the prompt at validation; the message is the server's own error text."""


class PromptFailed(RuntimeError):
    """The prompt started but a node raised; the message names the node and the exception."""


@dataclass
class PromptResult:
    prompt_id: str
    node_seconds: dict[str, float] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    progress_events: int = 0
    wall_s: float = 0.0
    outputs: dict = field(default_factory=dict)


def open_session() -> aiohttp.ClientSession:
    """A session for talking to ComfyUI; sends `Authorization: Bearer $FLUXKIT_TOKEN` when that is set (a ComfyUI
    behind FluxKit's token proxy, e.g. a notebook's tunnel URL)."""
    token = os.environ.get("FLUXKIT_TOKEN")
    return aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"} if token else None)


def safe_file_name(name: str) -> str:
    """A server-supplied file name reduced to one safe path component (no separators, no '..')."""
    base = SAFE_NAME.sub("_", name.replace("\\", "/").split("/")[-1]).lstrip(".")
    return base or "output"


def rejection_text(body: dict) -> str:
    """ComfyUI's `/prompt` 400 answer as readable lines: the error, then each node's errors."""
    err = body.get("error", {})
    lines = [f"{err.get('message', 'prompt rejected')}: {err.get('details', '')}".rstrip(": ")]
    for node_id, info in (body.get("node_errors") or {}).items():
        for e in info.get("errors", []):
            lines.append(
                f"node {node_id} ({info.get('class_type')}): {e.get('message')}: {e.get('details', '')}"
            )
    return "\n".join(lines)


async def queue_prompt(session: aiohttp.ClientSession, url: str, prompt: dict, client_id: str) -> str:
    async with session.post(f"{url}/prompt", json={"prompt": prompt, "client_id": client_id}) as r:
        body = await r.json(content_type=None)
        if r.status != 200:
            raise PromptRejected(rejection_text(body))
        return body["prompt_id"]


def progress_bar(node: str, value: int, total: int, width: int = 30) -> None:
    """Default progress display: one updating line on stderr per prompt."""
    filled = int(width * value / max(total, 1))
    end = "\n" if value >= total else ""
    print(
        f"\r  node {node:>4} [{'#' * filled}{'.' * (width - filled)}] {value}/{total}",
        end=end,
        file=sys.stderr,
    )


async def run_prompt(url: str, prompt: dict, timeout_s: float = 1800, on_progress=None) -> PromptResult:
    """Queue `prompt`, wait over /ws until it succeeds or fails, and return timings plus /history outputs.

    `on_progress(node_id, value, max)` is called for every progress event (e.g. `progress_bar`)."""
    client_id = uuid.uuid4().hex
    async with open_session() as session:
        async with session.ws_connect(f"{url}/ws?clientId={client_id}", max_msg_size=0) as ws:
            t0 = time.perf_counter()
            prompt_id = await queue_prompt(session, url, prompt, client_id)
            result = PromptResult(prompt_id)
            current, started = None, t0
            async with asyncio.timeout(timeout_s):
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue  # binary messages are latent previews
                    event = json.loads(msg.data)
                    data = event.get("data", {})
                    if data.get("prompt_id") not in (None, prompt_id):
                        continue
                    now = time.perf_counter()
                    kind = event.get("type")
                    if kind in ("executing", "execution_success", "execution_error") and current is not None:
                        result.node_seconds[current] = result.node_seconds.get(current, 0.0) + now - started
                        current = None
                    if kind == "executing" and data.get("node") is not None:
                        current, started = str(data["node"]), now
                    elif kind == "execution_cached":
                        result.cached += [str(n) for n in data.get("nodes", [])]
                    elif kind == "progress":
                        result.progress_events += 1
                        if on_progress is not None:
                            on_progress(
                                str(data.get("node")), int(data.get("value", 0)), int(data.get("max", 0))
                            )
                    elif kind == "execution_error":
                        raise PromptFailed(
                            f"node {data.get('node_id')} ({data.get('node_type')}) failed: "
                            f"{data.get('exception_type')}: {data.get('exception_message')}"
                        )
                    elif kind == "executing" and data.get("node") is None:
                        break  # sent after the history entry is stored (execution_success comes just before it)
            result.wall_s = time.perf_counter() - t0
        result.outputs = await _history_outputs(session, url, prompt_id)
    return result


async def _history_outputs(
    session: aiohttp.ClientSession, url: str, prompt_id: str, wait_s: float = 30
) -> dict:
    """The prompt's outputs from /history, polling briefly in case the entry is not stored yet."""
    deadline = time.monotonic() + wait_s
    while True:
        async with session.get(f"{url}/history/{prompt_id}") as r:
            entry = (await r.json()).get(prompt_id)
        if entry is not None or time.monotonic() > deadline:
            return (entry or {}).get("outputs", {})
        await asyncio.sleep(0.2)


async def fetch_outputs(url: str, result: PromptResult, out_dir: Path) -> list[Path]:
    """Download every output image of `result` into `out_dir` under safe names; returns the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    async with open_session() as session:
        for images in (o.get("images", []) for o in result.outputs.values()):
            for image in images:
                if image.get("type") != "output":
                    continue
                params = {k: image.get(k, "") for k in ("filename", "subfolder", "type")}
                async with session.get(f"{url}/view", params=params) as r:
                    r.raise_for_status()
                    path = out_dir / safe_file_name(image["filename"])
                    path.write_bytes(await r.read())
                    written.append(path)
    return written
