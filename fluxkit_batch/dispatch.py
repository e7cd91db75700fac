"""Spread a batch's items over its workers (ComfyUIs): the least busy first, a dead one's items moved to the others.

Each worker takes up to `slots` items at a time (2: the next item uploads while one runs). When an item is to be
placed, every worker is asked for its ComfyUI queue (`GET /queue`, other users' prompts included) and the item goes
to the shortest one with a free slot; when the shortest queue has no free slot (it holds our items), the item waits
for it rather than queueing behind other users' prompts elsewhere. A worker whose request fails with `ServerUnavailable` is marked down, the item it
held goes back to the front of the line for another worker (at most `max_moves` times per item), and the down
worker is probed again every `probe_s` seconds (a restarted ComfyUI rejoins). When no worker has answered for
`wait_s` seconds the items still waiting fail ("rerun to resume"). Any other error fails only its item.
Every loop here is bounded by the items' count and those timeouts.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fluxkit_comfy.http import ServerUnavailable

from .items import Item
from .progress import BatchProgress


@dataclass
class WorkerState:
    up: bool = True
    in_flight: int = 0
    next_probe: float = 0.0


def _reason(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


async def _loads(workers: list, state: dict, probe_s: float, progress: BatchProgress) -> dict:
    """{worker: its queue length} for the workers that answer; the others are marked down."""
    answers = await asyncio.gather(*(w.load() for w in workers), return_exceptions=True)
    loads = {}
    for w, answer in zip(workers, answers):
        if isinstance(answer, BaseException):
            state[w].up, state[w].next_probe = False, time.monotonic() + probe_s
            progress.worker_down(w.name, _reason(answer))
        else:
            loads[w] = max(answer, state[w].in_flight)  # an item still uploading is not in its queue yet
    return loads


async def dispatch(
    workers: list,
    items: list[Item],
    run: Callable[[Item, object], Awaitable[None]],
    progress: BatchProgress,
    slots: int = 2,
    wait_s: float = 30,
    probe_s: float = 2,
    max_moves: int | None = None,
) -> list[str]:
    """Run `run(item, worker)` for every item; returns the keys of the items that did not finish."""
    state = {w: WorkerState() for w in workers}
    order = {w: n for n, w in enumerate(workers)}
    max_moves = len(workers) if max_moves is None else max_moves
    pending: deque[Item] = deque(items)
    tasks: dict[asyncio.Task, tuple[Item, object]] = {}
    moves: dict[str, int] = {}
    failed: list[str] = []
    stalled_since: float | None = None

    while pending or tasks:
        now = time.monotonic()
        due = [w for w in workers if not state[w].up and now >= state[w].next_probe]
        for w in (await _loads(due, state, probe_s, progress)) if due else ():
            state[w].up = True
            progress.worker_up(w.name)
        if pending and any(s.up and s.in_flight < slots for s in state.values()):
            loads = await _loads([w for w in workers if state[w].up], state, probe_s, progress)
            least = min(loads.values(), default=0)
            free = [w for w in loads if state[w].in_flight < slots and loads[w] <= least]
            if free:  # else the shortest queue is full of our own items: wait for it rather than queue longer
                w = min(free, key=lambda w: (loads[w], state[w].in_flight, order[w]))
                item = pending.popleft()
                state[w].in_flight += 1
                progress.start(item.key, w.name)
                tasks[asyncio.ensure_future(run(item, w))] = (item, w)
                continue
        if pending and not tasks and not any(s.up for s in state.values()):
            stalled_since = stalled_since or now
            if now - stalled_since > wait_s:
                for item in pending:
                    failed.append(item.key)
                    progress.end(item.key, None, f"no server answered for {wait_s:.0f} s")
                pending.clear()
                break
        else:
            stalled_since = None
        if not tasks:
            await asyncio.sleep(min(probe_s, 0.5))
            continue
        done, _ = await asyncio.wait(tasks, timeout=probe_s, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            item, w = tasks.pop(task)
            state[w].in_flight -= 1
            error = task.exception()
            if error is None:
                progress.end(item.key, w.name, None)
            elif isinstance(error, ServerUnavailable):
                state[w].up, state[w].next_probe = False, time.monotonic() + probe_s
                progress.worker_down(w.name, _reason(error))
                moves[item.key] = moves.get(item.key, 0) + 1
                if moves[item.key] <= max_moves:
                    pending.appendleft(item)
                    progress.moved(item.key, w.name)
                else:
                    failed.append(item.key)
                    progress.end(item.key, w.name, f"{_reason(error)} (moved {max_moves}×, giving up)")
            else:
                failed.append(item.key)
                progress.end(item.key, w.name, _reason(error))
    return failed
