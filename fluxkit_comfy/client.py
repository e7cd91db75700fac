"""A client for ComfyUI's HTTP + websocket API: queue an API-format prompt, follow it to the end, time every node,
fetch the output files. Uses `aiohttp`, which ComfyUI itself depends on.

    result = asyncio.run(run_prompt("http://127.0.0.1:8188", api_prompt))
    result.node_seconds  # {node_id: seconds}, in execution order
    await fetch_outputs(url, result, out_dir)  # streamed to disk, atomic per file

A prompt counts as finished only when ComfyUI said so: `execution_success` on the websocket or a `/history` entry
whose status is completed. An interrupted prompt raises `PromptInterrupted`, a node's exception `PromptFailed`, a
websocket closed before the end (server gone) `ServerUnavailable`, an answer that is not ComfyUI's protocol
`ProtocolError` (see `fluxkit_comfy.http`).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from .http import (
    ProtocolError,
    ServerUnavailable,
    download,
    open_session,
    public_url,
    read_json,
    with_retries,
)
from .output_names import output_paths, safe_file_name

__all__ = [
    "ProtocolError", "PromptFailed", "PromptInterrupted", "PromptRejected", "PromptResult", "ServerUnavailable",
    "fetch_outputs", "open_session", "output_images", "progress_bar", "queue_prompt", "run_prompt", "safe_file_name",
]  # fmt: skip


class PromptRejected(RuntimeError):
    """ComfyUI refused the prompt at validation; the message is the server's own error text."""


class PromptFailed(RuntimeError):
    """The prompt started but did not succeed (a node raised, or it timed out); the message says which."""


class PromptInterrupted(PromptFailed):
    """The prompt was interrupted (Cancel in the UI, `/interrupt`): not finished, run it again."""


@dataclass
class PromptResult:
    prompt_id: str
    node_seconds: dict[str, float] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    progress_events: int = 0
    wall_s: float = 0.0
    outputs: dict = field(default_factory=dict)


def rejection_text(body: dict) -> str:
    """ComfyUI's `/prompt` 400 answer as readable lines: the error, then each node's errors."""
    err = body.get("error", {})
    if not isinstance(err, dict):
        err = {"message": str(err)}
    lines = [f"{err.get('message', 'prompt rejected')}: {err.get('details', '')}".rstrip(": ")]
    node_errors = body.get("node_errors") or {}
    for node_id, info in node_errors.items() if isinstance(node_errors, dict) else ():
        for e in info.get("errors", []):
            lines.append(
                f"node {node_id} ({info.get('class_type')}): {e.get('message')}: {e.get('details', '')}"
            )
    return "\n".join(lines)


async def queue_prompt(
    session: aiohttp.ClientSession, url: str, prompt: dict, client_id: str, retries: int = 3
) -> str:
    """POST the prompt; returns its id. 400 → PromptRejected with ComfyUI's text; 502/503/504 and dropped
    connections are retried; anything else that is not `{"prompt_id": "…"}` is a ProtocolError."""

    async def attempt() -> str:
        async with session.post(f"{url}/prompt", json={"prompt": prompt, "client_id": client_id}) as r:
            body = await read_json(r, "POST /prompt")
            if r.status == 400:
                raise PromptRejected(rejection_text(body))
            prompt_id = body.get("prompt_id")
            if r.status != 200 or not isinstance(prompt_id, str):
                raise ProtocolError(f"POST /prompt: HTTP {r.status} without a prompt_id: {str(body)[:120]}")
            return prompt_id

    return await with_retries(f"POST {url}/prompt", attempt, retries)


def progress_bar(node: str, value: int, total: int, width: int = 30) -> None:
    """Default progress display: one updating line on stderr per prompt."""
    filled = int(width * value / max(total, 1))
    end = "\n" if value >= total else ""
    print(
        f"\r  node {node:>4} [{'#' * filled}{'.' * (width - filled)}] {value}/{total}",
        end=end,
        file=sys.stderr,
    )


def _failure(kind: str, data: dict) -> PromptFailed:
    if kind == "execution_interrupted":
        return PromptInterrupted(
            f"prompt {data.get('prompt_id')} was interrupted at node {data.get('node_id')}"
        )
    return PromptFailed(
        f"node {data.get('node_id')} ({data.get('node_type')}) failed: "
        f"{data.get('exception_type')}: {data.get('exception_message')}"
    )


async def _follow(ws, prompt_id: str, result: PromptResult, on_progress) -> bool | None:
    """Read events until the prompt ends. True: ComfyUI sent `execution_success`; False: it ended without one
    (`executing` None only); None: the socket closed first. Raises PromptFailed/PromptInterrupted."""
    current, started, succeeded = None, time.perf_counter(), False
    async for msg in ws:
        if msg.type != aiohttp.WSMsgType.TEXT:
            continue  # binary messages are latent previews
        try:
            event = json.loads(msg.data)
            data = event.get("data") or {}
            kind = event.get("type")
        except (json.JSONDecodeError, AttributeError):
            raise ProtocolError(f"websocket: not a ComfyUI event: {str(msg.data)[:120]!r}") from None
        if not isinstance(data, dict) or data.get("prompt_id") not in (None, prompt_id):
            continue
        now = time.perf_counter()
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
                on_progress(str(data.get("node")), int(data.get("value", 0)), int(data.get("max", 0)))
        elif kind in ("execution_error", "execution_interrupted"):
            raise _failure(kind, data)
        elif kind == "execution_success":
            succeeded = True
        elif kind == "executing" and data.get("node") is None and data.get("prompt_id") == prompt_id:
            return succeeded  # sent after the history entry is stored, whatever the outcome
    return None


async def run_prompt(
    url: str, prompt: dict, timeout_s: float = 1800, on_progress=None, retries: int = 3
) -> PromptResult:
    """Queue `prompt`, follow it over /ws to its end, and return timings plus its /history outputs.

    `on_progress(node_id, value, max)` is called for every progress event (e.g. `progress_bar`)."""
    client_id = uuid.uuid4().hex
    async with open_session(url) as session:
        url = public_url(url)

        async def connect():
            return await session.ws_connect(f"{url}/ws?clientId={client_id}", max_msg_size=0, heartbeat=30)

        ws = await with_retries(f"websocket {url}/ws", connect, retries)
        async with ws:
            t0 = time.perf_counter()
            prompt_id = await queue_prompt(session, url, prompt, client_id, retries)
            result = PromptResult(prompt_id)
            try:
                async with asyncio.timeout(timeout_s):
                    outcome = await _follow(ws, prompt_id, result, on_progress)
            except TimeoutError:
                raise PromptFailed(f"prompt {prompt_id} did not finish within {timeout_s:.0f} s") from None
            except aiohttp.ClientError as e:
                raise ServerUnavailable(f"websocket {url}/ws broke while prompt {prompt_id} ran: {e}") from e
            result.wall_s = time.perf_counter() - t0
        # the socket closing early is a lost server unless /history shows the prompt finished meanwhile
        wait_s = 30 if outcome is not None else 1
        entry = await history_entry(session, url, prompt_id, wait_s, retries)
        status = entry.get("status") if entry else None
        completed = isinstance(status, dict) and status.get("completed") is True
        if entry is None or (not completed and not outcome):
            if outcome is None:
                raise ServerUnavailable(f"websocket {url}/ws closed before prompt {prompt_id} ended")
            raise PromptFailed(f"prompt {prompt_id} ended without success: status {status}")
        outputs = entry.get("outputs", {})
        if not isinstance(outputs, dict):
            raise ProtocolError(f"/history/{prompt_id}: outputs is a {type(outputs).__name__}, not an object")
        result.outputs = outputs
    return result


async def history_entry(
    session: aiohttp.ClientSession, url: str, prompt_id: str, wait_s: float = 30, retries: int = 3
) -> dict | None:
    """The prompt's `/history` entry (polling up to `wait_s` in case it is not stored yet), or None."""
    deadline = time.monotonic() + wait_s

    async def attempt() -> dict:
        async with session.get(f"{url}/history/{prompt_id}") as r:
            return await read_json(r, f"GET /history/{prompt_id}")

    while True:
        entry = (await with_retries(f"GET {url}/history", attempt, retries)).get(prompt_id)
        if entry is not None and not isinstance(entry, dict):
            raise ProtocolError(f"/history/{prompt_id}: entry is a {type(entry).__name__}, not an object")
        if entry is not None or time.monotonic() > deadline:
            return entry
        await asyncio.sleep(0.2)


def output_images(outputs: dict) -> list[dict]:
    """Every output file a /history `outputs` object lists (`images`, `gifs`, `audio`… entries with a filename and
    type "output"), in node order; temp previews are left out."""
    found = []
    for node_out in outputs.values():
        for entries in node_out.values() if isinstance(node_out, dict) else ():
            for e in entries if isinstance(entries, list) else ():
                if isinstance(e, dict) and isinstance(e.get("filename"), str) and e.get("type") == "output":
                    found.append(e)
    return found


async def fetch_outputs(url: str, result: PromptResult, out_dir: Path, retries: int = 3) -> list[Path]:
    """Stream every output file of `result` into `out_dir` (subfolders kept, names made safe and unique, see
    `output_names`); each file appears whole or not at all. Returns the written paths."""
    written = []
    async with open_session(url) as session:
        url = public_url(url)
        for image, rel in output_paths(output_images(result.outputs)):
            params = {
                "filename": image["filename"],
                "subfolder": image.get("subfolder", ""),
                "type": "output",
            }
            path = out_dir / rel
            await download(session, f"{url}/view", params, path, retries)
            written.append(path)
    return written
